-- semaphore: 1,000 tasks share 5 permits for 1,000,000 acquire/yield/release
-- cycles in all (a yield while holding the permit lets the others queue).
local task = require "ebb.task"
local semaphore = require "ebb.semaphore"

local TASKS, PERMITS, CYCLES = 1000, 5, 1000000
local sem = semaphore.new(PERMITS)
local per_task = CYCLES / TASKS
local done = 0

local function worker()
  for _ = 1, per_task do
    sem:acquire()
    task.yield()
    sem:release()
    done = done + 1
  end
end

local list = {}
for i = 1, TASKS do list[i] = worker end
task.all(list)
print("semaphore " .. done)
