-- worker-dispatch: trivial jobs through a pool of 2 worker threads, all
-- started at once from tasks, then awaited. Usage: worker-dispatch.lua [jobs]
-- (default 100,000).
local worker, task = require "ebb.worker", require "ebb.task"

local n = tonumber(arg and arg[1]) or 100000
local pool = worker.pool { size = 2 }
local code = "return function(i) return i + 1 end"
local sum = 0
local tasks = {}
for i = 1, n do
  tasks[i] = task.spawn(function()
    local r = pool:run(code, i)
    sum = sum + r
  end)
end
for i = 1, n do tasks[i]:await() end
pool:close()
print("worker-dispatch " .. n .. " " .. string.format("%.0f", sum))
