-- ebb.path: POSIX paths as strings, with the results of Node's path.posix;
-- only resolve and relative read the system (the working directory).
local check = require "ebb.check"

local type, select, byte, sub, gmatch, concat, min =
  type, select, string.byte, string.sub, string.gmatch, table.concat, math.min

local SLASH, DOT = 47, 46 -- "/", "."

local path = { sep = "/" }

local function str(v, n, fname)
  if type(v) ~= "string" then check.expected(v, n, fname, "string", 2) end
end

-- The names of p, reused by every call (nothing here waits).
local names = {}

-- The names of p joined by "/", with "." dropped and ".." taking the name
-- before it away; a ".." with nothing before it is kept when above_root
-- (a relative path), dropped otherwise (nothing is above "/"). A scan of the
-- bytes, which LuaJIT compiles (gmatch it does not).
local function collapse(p, above_root)
  local n, len, start = 0, #p, 1
  for i = 1, len + 1 do
    if i > len or byte(p, i) == SLASH then
      local size = i - start
      if size == 2 and byte(p, start) == DOT and byte(p, start + 1) == DOT then
        if n > 0 and names[n] ~= ".." then
          n = n - 1
        elseif above_root then
          n = n + 1
          names[n] = ".."
        end
      elseif size > 1 or (size == 1 and byte(p, start) ~= DOT) then
        n = n + 1
        names[n] = sub(p, start, i - 1)
      end
      start = i + 1
    end
  end
  return concat(names, "/", 1, n)
end

-- Whether p is normalized already: no empty name inside it, no "." or "..".
local function tidy(p)
  local len, start = #p, 1
  for i = 1, len + 1 do
    if i > len or byte(p, i) == SLASH then
      local size = i - start
      if size == 0 then
        if i ~= 1 and i <= len then return false end -- "//"; a leading or trailing "/" is kept
      elseif size <= 2 and byte(p, start) == DOT and (size == 1 or byte(p, start + 1) == DOT) then
        return false
      end
      start = i + 1
    end
  end
  return true
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

-- resolve(p) of one path: one already absolute and tidy is only trimmed.
local function absolute(p)
  if byte(p, 1) ~= SLASH or not tidy(p) then return resolve(p) end
  if byte(p, -1) == SLASH and p ~= "/" then return sub(p, 1, -2) end
  return p
end

function path.resolve(...)
  local n = select("#", ...)
  for i = 1, n do
    str((select(i, ...)), i, "resolve")
  end
  if n == 1 then return absolute((...)) end
  return resolve(...)
end

function path.absolute(p)
  str(p, 1, "absolute")
  return absolute(p)
end

-- The names of a path as pathlib's parts: "/" first for an absolute path,
-- then each name but empty ones and ".".
function path.split(p)
  str(p, 1, "split")
  local parts = {}
  if byte(p, 1) == SLASH then parts[1] = "/" end
  for name in gmatch(p, "[^/]+") do
    if name ~= "." then parts[#parts + 1] = name end
  end
  return parts
end

-- As Node's: the resolved paths compared byte by byte up to the last "/"
-- they share, then a ".." for each name of from after it.
function path.relative(from, to)
  str(from, 1, "relative")
  str(to, 2, "relative")
  if from == to then return "" end
  from, to = absolute(from), absolute(to)
  if from == to then return "" end
  local from_len, to_len = #from - 1, #to - 1 -- after the root's "/"
  local length = min(from_len, to_len)
  local last_sep, i = -1, 0 -- offsets after the root's "/"
  while i < length do
    local c = byte(from, i + 2)
    if c ~= byte(to, i + 2) then break end
    if c == SLASH then last_sep = i end
    i = i + 1
  end
  if i == length then
    if to_len > length then
      if byte(to, i + 2) == SLASH then return sub(to, i + 3) end -- from /a/b to /a/b/c
      if i == 0 then return sub(to, 2) end -- from /
    elseif from_len > length then
      if byte(from, i + 2) == SLASH then -- from /a/b/c to /a/b
        last_sep = i
      elseif i == 0 then -- to /
        last_sep = 0
      end
    end
  end
  local up = 0
  for k = last_sep + 2, #from do
    if k == #from or byte(from, k + 1) == SLASH then up = up + 1 end
  end
  return ("../"):rep(up - 1) .. ".." .. sub(to, last_sep + 2)
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

-- Where the last name, ending at e, starts.
local function name_start(p, e)
  local s = e
  while s > 1 and byte(p, s - 1) ~= SLASH do
    s = s - 1
  end
  return s
end

local function basename(p)
  local e = last_name_end(p)
  if e == 0 then return "" end
  return sub(p, name_start(p, e), e)
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
  local e = last_name_end(p)
  local s = name_start(p, e)
  for d = e, s + 1, -1 do -- the last ".", unless it starts the name
    if byte(p, d) == DOT then
      if d == s + 1 and e == s + 1 and byte(p, s) == DOT then return "" end -- ".."
      return sub(p, d, e)
    end
  end
  return ""
end

return path
