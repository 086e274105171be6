-- redis_semaphore: semaphore.redis against a redis-server on 127.0.0.1:PORT, peer of
-- bench/node/redis_semaphore.mjs (npm's redis-semaphore on ioredis). Modes: alone (2,000
-- acquire/release by one task: the round trips), contended (8 tasks, 2 permits, 250
-- acquire/yield/release each: how fast a freed permit reaches a waiter).
-- Usage: ebb redis_semaphore.lua PORT MODE. Prints `redis_semaphore <mode> <peak holders>`.
local redis = require "ebb.redis"
local semaphore = require "ebb.semaphore"
local task = require "ebb.task"

local port, mode = tonumber(arg[1]), arg[2] or "alone"
local client = redis.connect("redis://127.0.0.1:" .. port)
local sem = semaphore.redis { client = client, key = "bench:" .. mode, permits = 2 }
local holding, peak = 0, 0

local function cycle()
  local lease = sem:acquire()
  holding = holding + 1
  if holding > peak then peak = holding end
  task.yield()
  holding = holding - 1
  lease:release()
end

if mode == "alone" then
  for _ = 1, 2000 do cycle() end
else
  local tasks = {}
  for t = 1, 8 do tasks[t] = task.spawn(function() for _ = 1, 250 do cycle() end end) end
  for t = 1, 8 do tasks[t]:await() end
end
print("redis_semaphore " .. mode .. " " .. peak)
client:close()
