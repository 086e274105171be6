-- context: 1,000,000 var:run calls, each reading its value across one wait
-- (task.yield, like setImmediate); the body reads the value from the context,
-- so one function serves every call (the Node peer does the same).
local task = require "ebb.task"
local context = require "ebb.context"

local N = 1000000
local var = context.new({ name = "bench" })

local function body()
  task.yield()
  return var:get()
end

local sum = 0
for i = 1, N do sum = sum + var:run(i, body) end

print(("context %d %d"):format(N, sum))
