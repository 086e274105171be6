-- context: 1,000,000 var:run calls, each reading its value across one wait
-- (task.yield, like setImmediate) in a fresh closure; the results are summed.
local task = require "ebb.task"
local context = require "ebb.context"

local N = 1000000
local var = context.new({ name = "bench" })

local sum = 0
for i = 1, N do
  sum = sum + var:run(i, function()
    task.yield()
    return var:get()
  end)
end

print(("context %d %d"):format(N, sum))
