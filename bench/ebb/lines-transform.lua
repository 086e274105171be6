-- lines-transform: a 200 MB log split into lines by a hand-written
-- stream.transform in a pipeline from fs.reader to a writable that counts the
-- lines by level (the second field). With "yield" as the second argument the
-- sink yields to the loop every line. Usage: lines-transform.lua log [yield]
local fs = require "ebb.fs"
local stream = require "ebb.stream"
local task = require "ebb.task"

local each_line = arg[2] == "yield"

local split = stream.transform(function(yield, chunks)
  local rest = ""
  for chunk in chunks do
    local text = rest .. chunk
    local start = 1
    while true do
      local nl = text:find("\n", start, true)
      if not nl then break end
      yield(text:sub(start, nl - 1))
      start = nl + 1
    end
    rest = text:sub(start)
  end
  if rest ~= "" then yield(rest) end
end)

local counts, n = {}, 0
local count = stream.writable(function(line)
  local level = line:match("^%S+ (%u+)")
  counts[level] = (counts[level] or 0) + 1
  n = n + 1
  if each_line then task.yield() end
end)

stream.pipeline(fs.reader(arg[1]), split, count)
print(("lines %d DEBUG=%d ERROR=%d INFO=%d WARN=%d"):format(n, counts.DEBUG, counts.ERROR, counts.INFO, counts.WARN))
