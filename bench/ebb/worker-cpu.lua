-- worker-cpu: a CPU-bound job over N items (a linear congruential hash of
-- each item, 20,000,000 steps) on a pool of `size` worker threads, all items
-- queued at once. Usage: worker-cpu.lua [size] [items] [nice] (default 2, 16, and the
-- pool's default nice).
local worker, task = require "ebb.worker", require "ebb.task"

local size = tonumber(arg and arg[1]) or 2
local n = tonumber(arg and arg[2]) or 16
local pool = worker.pool { size = size, nice = tonumber(arg and arg[3]) }
local code = [[return function(seed)
  local x = seed
  for _ = 1, 20000000 do x = (x * 1103515245 + 12345) % 2147483648 end
  return x
end]]
local results = {}
local tasks = {}
for i = 1, n do
  tasks[i] = task.spawn(function() results[i] = pool:run(code, i) end)
end
for i = 1, n do tasks[i]:await() end
pool:close()
local check = 0
for i = 1, n do check = (check + results[i]) % 2147483648 end
print("worker-cpu " .. n .. " " .. string.format("%.0f", check))
