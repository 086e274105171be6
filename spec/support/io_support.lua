-- Helpers shared by the specs of streams, sockets and processes.
local task = require "ebb.task"

local M = {}

-- Everything a readable gives until its end, as one string.
function M.read_all(s)
  local parts = {}
  for chunk in s:chunks() do parts[#parts + 1] = chunk end
  return table.concat(parts)
end

-- Runs fn in a task and returns once that task has run up to its first wait
-- (a task spawned runs before the spawner's next turn).
function M.started(fn, ...)
  local t = task.spawn(fn, ...)
  task.yield()
  return t
end

return M
