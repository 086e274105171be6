-- Streams the stream specs share.
local stream = require "ebb.stream"

local M = {}

-- A readable over a list of chunks that logs "src closed" into `log` when closed.
function M.source(chunks, log)
  local i = 0
  return stream.readable(function()
    i = i + 1
    return chunks[i]
  end, function() log[#log + 1] = "src closed" end)
end

return M
