-- path: 1,000,000 rounds of what a build script does with paths: join a file's
-- path, take it apart, make it relative, tidy a messy one. Usage: path.lua [rounds]
local path = require "ebb.path"

local N = tonumber(arg[1]) or 1000000
local total = 0
for i = 1, N do
  local dir = "/srv/app/src/" .. i % 100
  local file = path.join(dir, "../lib", "mod" .. i .. ".lua")
  total = total + #path.basename(file, ".lua") + #path.extname(file) + #path.dirname(file)
  total = total + #path.relative("/srv/app", file) + #path.normalize(dir .. "//./x/../y/")
end
print("path " .. N .. " " .. total)
