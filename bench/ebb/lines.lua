-- lines: a 200 MB log read line by line with fs.lines, its lines counted by
-- level (the second field). Usage: lines.lua log
local fs = require "ebb.fs"

local counts, n = {}, 0
for line in fs.lines(arg[1]) do
  local level = line:match("^%S+ (%u+)")
  counts[level] = (counts[level] or 0) + 1
  n = n + 1
end
print(("lines %d DEBUG=%d ERROR=%d INFO=%d WARN=%d"):format(n, counts.DEBUG, counts.ERROR, counts.INFO, counts.WARN))
