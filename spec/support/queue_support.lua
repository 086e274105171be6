-- Helpers shared by the ebb.queue specs.
local task = require "ebb.task"

local M = {}

-- A job that waits until its gate is opened: gate(), then job = gated(gate).
function M.gate()
  return task.future()
end

return M
