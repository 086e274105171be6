-- ratelimit-redis: 1,000 tasks take 50,000 tokens in all from ratelimit.redis with
-- tokens to spare: what a take costs (one script round trip, pipelined when many
-- tasks ask at once). Usage: ebb ratelimit-redis.lua PORT.
local task, redis, ratelimit = require "ebb.task", require "ebb.redis", require "ebb.ratelimit"
local client = redis.connect("redis://127.0.0.1:" .. arg[1])
local limit = ratelimit.redis { client = client, key = "bench-" .. math.random(1e9), rate = 1e9, burst = 1e6 }
local TASKS, TOKENS, taken = 1000, 50000, 0
local list = {}
for i = 1, TASKS do list[i] = function() for _ = 1, TOKENS / TASKS do limit:take() taken = taken + 1 end end end
task.all(list)
print("ratelimit-redis " .. taken)
client:close()
