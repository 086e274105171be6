-- sleepers-closure: 100,000 concurrent tasks, each a closure that sleeps
-- (i % 100) ms, then all awaited.
local task = require "ebb.task"

local N = 100000

local list = {}
for i = 1, N do
  list[i] = task.spawn(function() task.sleep(i % 100) end)
end
task.all(list)

print("sleepers-closure " .. #list)
