-- ebb.path: POSIX paths as strings, with the results of Node's path.posix;
-- only resolve and relative read the system (the working directory).
local check = require "ebb.check"

local type, select, byte, sub, find, gmatch, concat =
  type, select, string.byte, string.sub, string.find, string.gmatch, table.concat

local SLASH = 47 -- "/"

local path = { sep = "/" }

local function str(v, n, fname)
  if type(v) ~= "string" then check.expected(v, n, fname, "string", 2) end
end

-- The names of p joined by "/", with "." dropped and ".." taking the name
-- before it away; a ".." with nothing before it is kept when above_root
-- (a relative path), dropped otherwise (nothing is above "/").
local function collapse(p, above_root)
  local names, n = {}, 0
  for name in gmatch(p, "[^/]+") do
    if name == ".." then
      if n > 0 and names[n] ~= ".." then
        names[n] = nil
        n = n - 1
      elseif above_root then
        n = n + 1
        names[n] = ".."
      end
    elseif name ~= "." then
      n = n + 1
      names[n] = name
    end
  end
  return concat(names, "/", 1, n)
end

-- Whether p needs collapsing: an empty, "." or ".." name.
local function tidy(p)
  return not (find(p, "//", 1, true) or find(p, "/%.%.?/") or find(p, "^%.%.?/") or find(p, "/%.%.?$")
    or p == "." or p == "..")
end

local function normalize(p)
  if p == "" then return "." end
  if tidy(p) then return p end
  local absolute, trailing = byte(p, 1) == SLASH, byte(p, -1) == SLASH
  local s = collapse(p, not absolute)
  if s == "" then
    if absolute then return "/" end
    return trailing and "./" or "."
  end
  if trailing then s = s .. "/" end
  return absolute and "/" .. s or s
end

function path.normalize(p)
  str(p, 1, "normalize")
  return normalize(p)
end

function path.join(...)
  local n = select("#", ...)
  if n == 2 then -- the usual case, without a table
    local a, b = ...
    str(a, 1, "join")
    str(b, 2, "join")
    if a == "" then return normalize(b) end
    if b == "" then return normalize(a) end
    return normalize(a .. "/" .. b)
  end
  local parts, k = {}, 0
  for i = 1, n do
    local p = select(i, ...)
    str(p, i, "join")
    if p ~= "" then
      k = k + 1
      parts[k] = p
    end
  end
  if k == 0 then return "." end
  return normalize(concat(parts, "/", 1, k))
end

function path.is_absolute(p)
  str(p, 1, "is_absolute")
  return byte(p, 1) == SLASH
end

local cwd -- fs.cwd, once needed

-- The arguments from the last to the first until one is absolute, then the
-- working directory before them: always an absolute path, without a
-- trailing slash.
local function resolve(...)
  local resolved, absolute = "", false
  for i = select("#", ...), 1, -1 do
    local p = select(i, ...)
    if not absolute and p ~= "" then
      resolved = resolved == "" and p or p .. "/" .. resolved
      absolute = byte(p, 1) == SLASH
    end
  end
  if not absolute then
    cwd = cwd or require("ebb.fs").cwd
    resolved = resolved == "" and cwd() or cwd() .. "/" .. resolved
  end
  return "/" .. collapse(resolved, false)
end

function path.resolve(...)
  for i = 1, select("#", ...) do
    str((select(i, ...)), i, "resolve")
  end
  return resolve(...)
end

function path.absolute(p)
  str(p, 1, "absolute")
  return resolve(p)
end

-- The names of a path as pathlib's parts: "/" first for an absolute path,
-- then each name but empty ones and ".".
local function split(p)
  local names, n = {}, 0
  if byte(p, 1) == SLASH then
    n = 1
    names[1] = "/"
  end
  for name in gmatch(p, "[^/]+") do
    if name ~= "." then
      n = n + 1
      names[n] = name
    end
  end
  return names, n
end

function path.split(p)
  str(p, 1, "split")
  return (split(p))
end

function path.relative(from, to)
  str(from, 1, "relative")
  str(to, 2, "relative")
  if from == to then return "" end
  local a, na = split(resolve(from))
  local b, nb = split(resolve(to))
  local same = 1
  while same < na and same < nb and a[same + 1] == b[same + 1] do
    same = same + 1
  end
  local out, n = {}, 0
  for _ = same + 1, na do
    n = n + 1
    out[n] = ".."
  end
  for i = same + 1, nb do
    n = n + 1
    out[n] = b[i]
  end
  return concat(out, "/", 1, n)
end

-- The end of the last name (trailing slashes left out), 0 when there is none.
local function last_name_end(p)
  local e = #p
  while e > 0 and byte(p, e) == SLASH do
    e = e - 1
  end
  return e
end

function path.dirname(p)
  str(p, 1, "dirname")
  if p == "" then return "." end
  local absolute = byte(p, 1) == SLASH
  local i = last_name_end(p)
  while i > 1 and byte(p, i) ~= SLASH do -- back over the last name
    i = i - 1
  end
  if i <= 1 then return absolute and "/" or "." end
  if i == 2 and absolute then return "//" end -- as Node: "//a" has "//"
  return sub(p, 1, i - 1) -- one slash taken off: "/a//b" has "/a/", as Node
end

local function basename(p)
  local e = last_name_end(p)
  if e == 0 then return "" end
  local s = e
  while s > 1 and byte(p, s - 1) ~= SLASH do
    s = s - 1
  end
  return sub(p, s, e)
end

function path.basename(p, suffix)
  str(p, 1, "basename")
  if suffix == nil or suffix == "" then return basename(p) end
  str(suffix, 2, "basename")
  if p == suffix then return "" end
  local base = basename(p)
  if #suffix < #base and sub(base, -#suffix) == suffix then return sub(base, 1, #base - #suffix) end
  return base
end

function path.extname(p)
  str(p, 1, "extname")
  local base = basename(p)
  local dot = find(base, "%.[^.]*$")
  if not dot or dot == 1 or base == ".." then return "" end
  return sub(base, dot)
end

return path
