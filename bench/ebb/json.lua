-- json: an API response of 2,000 users (about 580 kB) decoded 200 times, then
-- encoded 200 times, with ebb.json. Usage: json.lua file
local json = require "ebb.json"
local fs = require "ebb.fs"

local text = fs.read_file(arg[1])
local ROUNDS = 200
local doc
for _ = 1, ROUNDS do doc = json.decode(text) end
local out
for _ = 1, ROUNDS do out = json.encode(doc) end
print(("json %d users, %d bytes in, %d bytes out"):format(#doc.users, #text, #out))
