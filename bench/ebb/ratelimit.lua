-- ratelimit: 1,000 tasks (a closure each) take 200,000 tokens in all from one limiter
-- of 100,000 a second with bursts of 1,000: 2 s of tokens, served in order.
local task = require "ebb.task"
local ratelimit = require "ebb.ratelimit"

local TASKS, TOKENS = 1000, 200000
local limit = ratelimit.new { rate = 100000, burst = 1000 }
local taken = 0
local list = {}
for i = 1, TASKS do
  list[i] = function()
    for _ = 1, TOKENS / TASKS do
      limit:take()
      taken = taken + 1
    end
  end
end
task.all(list)
print("ratelimit " .. taken)
