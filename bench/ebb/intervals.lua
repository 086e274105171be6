-- intervals: 1,000 intervals of 10 ms, each a closure stopped after its 100th call
-- (100,000 calls over about a second), all awaited.
local task = require "ebb.task"

local N, CALLS = 1000, 100

local calls = 0
local list = {}
for i = 1, N do
  local n, t = 0, nil
  t = task.interval(10, function()
    calls = calls + 1
    n = n + 1
    if n == CALLS then t:cancel() end
  end)
  list[i] = t
end
for i = 1, N do pcall(list[i].await, list[i]) end

print("intervals " .. calls)
