-- ebb.check: the argument checks every module shares, worded as host/util.c
-- words them for C: "bad argument #N to 'fname' (...)", raised at the caller.
-- `level` is error()'s level as seen from the public function (default 1:
-- that function called the check itself); each check adds its own frame.
local type, error, tostring, getmetatable, floor, format, find =
  type, error, tostring, getmetatable, math.floor, string.format, string.find

local check = {}

local MAX_MS = 1e12 -- as EBB_MAX_MS: about 31 years
local MAX_WHOLE = 2 ^ 53
check.MAX_MS, check.MAX_WHOLE = MAX_MS, MAX_WHOLE

local function raise(n, fname, msg, level)
  error(format("bad argument #%d to '%s' (%s)", n, fname, msg), (level or 1) + 2)
end

-- badarg(n, fname, msg [, level]): raises at the caller of the function that calls it.
function check.badarg(n, fname, msg, level)
  raise(n, fname, msg, (level or 1) + 1)
end

function check.expected(v, n, fname, expected, level)
  raise(n, fname, format("%s expected, got %s", expected, type(v)), (level or 1) + 1)
end

function check.callable(v, n, fname, level)
  if type(v) == "function" then return v end
  local mt = getmetatable(v)
  if type(mt) == "table" and mt.__call ~= nil then return v end
  raise(n, fname, "function expected, got " .. type(v), (level or 1) + 1)
end

-- A table of options, or nil (then an empty one).
function check.opts(v, n, fname, level)
  if v == nil then return {} end
  if type(v) ~= "table" then raise(n, fname, "table of options expected, got " .. type(v), (level or 1) + 1) end
  return v
end

-- A string that C can take whole: one with a NUL byte is refused.
function check.cstring(v, n, fname, what, level)
  if type(v) ~= "string" then
    raise(n, fname, format("%s: string expected, got %s", what, type(v)), (level or 1) + 1)
  end
  if find(v, "\0", 1, true) then raise(n, fname, what .. " must not contain a NUL byte", (level or 1) + 1) end
  return v
end

local function bound(v)
  if v == floor(v) and v <= MAX_WHOLE and v >= -MAX_WHOLE then return format("%.0f", v) end
  return format("%.14g", v)
end

local function in_range(v, n, fname, what, min, max, whole, level)
  if type(v) ~= "number" then raise(n, fname, format("%s: number expected, got %s", what, type(v)), level + 1) end
  if not (v >= min and v <= max) or (whole and v ~= floor(v)) then
    raise(n, fname, format("%s must be a %snumber from %s to %s, got %s", what, whole and "whole " or "", bound(min),
      bound(max), tostring(v)), level + 1)
  end
  return v
end

-- A finite number from min to max.
function check.number(v, n, fname, what, min, max, level)
  in_range(v, n, fname, what, min, max, false, (level or 1) + 1) -- not a tail call: it would lose a level
  return v
end

-- A whole number from min to max (max at most 2^53, where doubles stop being exact).
function check.whole(v, n, fname, what, min, max, level)
  in_range(v, n, fname, what, min, max or MAX_WHOLE, true, (level or 1) + 1)
  return v
end

-- A duration: a finite number of milliseconds from 0 to 1e12.
function check.ms(v, n, fname, what, level)
  if type(v) ~= "number" then
    raise(n, fname, format("%s: number of milliseconds expected, got %s", what, type(v)), (level or 1) + 1)
  end
  if not (v >= 0 and v <= MAX_MS) then
    raise(n, fname, what .. " must be a non-negative number of milliseconds, at most 1e12, got " .. tostring(v),
      (level or 1) + 1)
  end
  return v
end

local signal_mt -- the C signals' metatable, found on first use

-- An abort signal: "abort signal expected", or "<what> must be an abort signal".
function check.signal(v, n, fname, what, level)
  signal_mt = signal_mt or getmetatable(require("ebb.abort.core").new_signal())
  if type(v) == "userdata" and getmetatable(v) == signal_mt then return v end
  local msg = what and format("%s must be an abort signal, got %s", what, type(v))
    or "abort signal expected, got " .. type(v)
  raise(n, fname, msg, (level or 1) + 1)
end

-- An object of one kind: a table or userdata whose metatable is mt.
function check.self(v, mt, fname, expected, level)
  if v ~= nil and getmetatable(v) == mt then return v end
  raise(1, fname, format("%s expected, got %s", expected, type(v)), (level or 1) + 1)
end

return check
