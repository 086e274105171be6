-- walk: every entry of a tree of 1,100 directories and 20,000 files, with
-- fs.walk, counted by type. Usage: walk.lua dir
local fs = require "ebb.fs"

local root = arg[1]
local files, dirs, chars = 0, 0, 0
for entry in fs.walk(root) do
  if entry.type == "directory" then
    dirs = dirs + 1
  elseif entry.type == "file" then
    files = files + 1
    chars = chars + #entry.path - #root
  end
end
print(("walk %d files %d directories %d chars"):format(files, dirs, chars))
