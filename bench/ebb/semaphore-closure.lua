-- semaphore-closure: 1,000 tasks, each a closure spawned in a loop, share 5
-- permits for 1,000,000 acquire/yield/release cycles in all.
local task = require "ebb.task"
local semaphore = require "ebb.semaphore"

local TASKS, PERMITS, CYCLES = 1000, 5, 1000000
local sem = semaphore.new(PERMITS)
local done = 0

local list = {}
for i = 1, TASKS do
  list[i] = task.spawn(function()
    for _ = 1, CYCLES / TASKS do
      sem:acquire()
      task.yield()
      sem:release()
      done = done + 1
    end
  end)
end
task.all(list)
print("semaphore-closure " .. done)
