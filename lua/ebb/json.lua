-- ebb.json: JSON encode and decode, by Debian's lua-cjson (C).
local cjson = require "cjson"
local check = require "ebb.check"

local json = {}

local decoder = cjson.new()
local encoder = cjson.new()

json.null = cjson.null

function json.encode(v)
  local ok, s = pcall(encoder.encode, v)
  if ok then return s end
  error("json.encode: " .. tostring(s), 2)
end

function json.decode(s)
  if type(s) ~= "string" then check.expected(s, 1, "json.decode", "string") end
  local ok, v = pcall(decoder.decode, s)
  if ok then return v end
  error("json.decode: " .. tostring(v), 2)
end

return json
