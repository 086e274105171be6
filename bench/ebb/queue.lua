-- queue: trivial jobs through a queue of concurrency 64, all pushed at once,
-- then awaited (queue:idle). Usage: queue.lua [jobs] (default 1,000,000).
local queue = require "ebb.queue"

local n = tonumber(arg and arg[1]) or 1000000
local q = queue.new(64)
local done = 0
local function job() done = done + 1 end

for _ = 1, n do q:push(job) end
q:idle()
print("queue " .. n .. " " .. done)
