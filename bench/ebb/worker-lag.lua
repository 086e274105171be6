-- worker-lag: the loop's worst lag, measured by a 1 ms ticker, while a pool
-- of `size` workers computes (8 CPU-bound jobs). Usage: worker-lag.lua [size] [nice]
-- (default 2, and the pool's default nice)
local worker, task, clock = require "ebb.worker", require "ebb.task", require "ebb.clock"

local pool = worker.pool { size = tonumber(arg and arg[1]) or 2, nice = tonumber(arg and arg[2]) }
local code = [[return function(seed)
  local x = seed
  for _ = 1, 20000000 do x = (x * 1103515245 + 12345) % 2147483648 end
  return x
end]]
local computing, worst, ticks = true, 0, 0
local ticker = task.spawn(function()
  local last = clock.now()
  while computing do
    task.sleep(1)
    local now = clock.now()
    worst = math.max(worst, now - last - 1)
    last, ticks = now, ticks + 1
  end
end)
local jobs = {}
for i = 1, 8 do jobs[i] = function() return pool:run(code, i) end end
task.all(jobs)
computing = false
ticker:await()
pool:close()
print(("worker-lag %d ticks, worst lag %.2f ms"):format(ticks, worst))
