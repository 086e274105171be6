-- A call's values, trailing nils included.
local M = {}

-- How many values it was given.
function M.count(...) return select("#", ...) end

-- The values as a table, with their number in n.
function M.pack(...) return { n = select("#", ...), ... } end

return M
