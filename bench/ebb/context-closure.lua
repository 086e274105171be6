-- context-closure: 1,000,000 var:run calls, each with a new store table and an
-- inline function that reads it across one wait (task.yield).
local task = require "ebb.task"
local context = require "ebb.context"

local N = 1000000
local var = context.new({ name = "request" })

local sum = 0
for i = 1, N do
  sum = sum + var:run({ id = i }, function()
    task.yield()
    return var:get().id
  end)
end

print(("context-closure %d %d"):format(N, sum))
