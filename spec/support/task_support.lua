-- Task bodies and helpers shared by the ebb.task specs.
local task = require "ebb.task"
local raised = require("asserts").raised

local M = {}

-- Awaits t, which must fail; returns its error.
function M.await_error(t)
  return raised(t.await, t)
end

-- A task body that waits (almost) forever; when cancelled it records that its
-- cleanup ran in `log` and re-raises the reason. Returns "finished" if not cancelled.
function M.sleeper(log, ms)
  return function()
    local ok, e = pcall(task.sleep, ms or 1e6)
    log[#log + 1] = "cleanup"
    if not ok then error(e, 0) end
    return "finished"
  end
end

return M
