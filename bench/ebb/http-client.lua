-- http-client: N GETs (default 10,000) from a local server at URL,
-- CONCURRENCY (default 64) at a time, each body read whole, with http.fetch.
-- Usage: http-client.lua URL [N] [CONCURRENCY]. Prints `http-client <n> <bytes>`.
local http = require "ebb.http"
local task = require "ebb.task"

local url = assert(arg[1], "usage: http-client.lua URL [N] [CONCURRENCY]")
local total = tonumber(arg[2]) or 10000
local concurrency = tonumber(arg[3]) or 64

local started, done, bytes = 0, 0, 0

local function worker()
  while started < total do
    started = started + 1
    local res = http.fetch(url)
    if res.status ~= 200 then error("status " .. res.status) end
    bytes = bytes + #res:text()
    done = done + 1
  end
end

local workers = {}
for i = 1, concurrency do workers[i] = task.spawn(worker) end
task.all(workers)
print(("http-client %d %d"):format(done, bytes))
