-- Helpers shared by the ebb.abort specs.
local abort = require "ebb.abort"

local M = {}

-- Returns a listener that appends `name` (and the reason it got) to `log`.
function M.recorder(log, name)
  return function(...)
    log[#log + 1] = name
    log[name .. ".reason"] = (...)
    log[name .. ".nargs"] = select("#", ...)
  end
end

-- A signal is what abort.any accepts as an input.
function M.is_signal(v)
  return type(v) == "userdata" and (pcall(abort.any, { v }))
end

-- Two full collections: the second finalises what the first resurrected.
function M.full_gc()
  collectgarbage("collect")
  collectgarbage("collect")
end

return M
