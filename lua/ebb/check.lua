-- ebb.check: the argument checks every module shares, worded as host/util.c
-- words them for C: "bad argument #N to 'fname' (...)", raised at the caller;
-- the options tables, and what a failed system call raises.
-- `level` is error()'s level as seen from the public function (default 1:
-- that function called the check itself); each check adds its own frame.
local type, error, tostring, pairs, ipairs, getmetatable, rawget, setmetatable =
  type, error, tostring, pairs, ipairs, debug.getmetatable, rawget, setmetatable
local floor, format, find, sort, concat = math.floor, string.format, string.find, table.sort, table.concat

local check = {}

local MAX_MS = 1e12 -- as EBB_MAX_MS: about 31 years
local MAX_WHOLE = 2 ^ 53
check.MAX_MS, check.MAX_WHOLE = MAX_MS, MAX_WHOLE

-- The one wording of an argument error.
local function message(n, fname, msg)
  return format("bad argument #%d to '%s' (%s)", n, fname, msg)
end
check.message = message

local function raise(n, fname, msg, level)
  error(message(n, fname, msg), (level or 1) + 2)
end

-- badarg(n, fname, msg [, level]): raises at the caller of the function that calls it.
function check.badarg(n, fname, msg, level)
  raise(n, fname, msg, (level or 1) + 1)
end

function check.expected(v, n, fname, expected, level)
  raise(n, fname, format("%s expected, got %s", expected, type(v)), (level or 1) + 1)
end

-- What a message says a bad value was: a number itself, else its type.
function check.got(v) return type(v) == "number" and tostring(v) or type(v) end

-- ---- what is wrong with a value: nil when it is fine, else the words that
-- follow its name ("ms" .. ": number of milliseconds expected, got string").
-- The option kinds of check.options; the checks below raise with them. ----
local kind = {}
check.kind = kind

-- As Lua calls a value: a function, or one whose metatable has __call.
local function is_callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__call") ~= nil
end
check.is_callable = is_callable

local signal_mt -- the C signals' metatable, found on first use

local function is_signal(v)
  signal_mt = signal_mt or getmetatable(require("ebb.abort.core").new_signal())
  return type(v) == "userdata" and getmetatable(v) == signal_mt
end
check.is_signal = is_signal

local function bound(v)
  if v == floor(v) and v <= MAX_WHOLE and v >= -MAX_WHOLE then return format("%.0f", v) end
  return format("%.14g", v)
end

-- A whole number from min to max (as ebb_check_whole words it).
local function out_of_range(v, min, max)
  if type(v) ~= "number" then return ": number expected, got " .. type(v) end
  if not (v >= min and v <= max and v == floor(v)) then
    return format(" must be a whole number from %s to %s, got %s", bound(min), bound(max), tostring(v))
  end
end

function kind.ms(v)
  if type(v) ~= "number" then return ": number of milliseconds expected, got " .. type(v) end
  if not (v >= 0 and v <= MAX_MS) then
    return " must be a non-negative number of milliseconds, at most 1e12, got " .. tostring(v)
  end
end

-- A whole number from min to max.
function kind.whole(min, max) return function(v) return out_of_range(v, min, max or MAX_WHOLE) end end

-- A whole number from min, or math.huge for no limit (a count of retries, a concurrency).
function kind.count(min)
  local words = format(" must be a whole number from %s, or math.huge, got ", bound(min))
  return function(v)
    if type(v) ~= "number" then return ": number expected, got " .. type(v) end
    if not (v >= min and (v == 1 / 0 or v == floor(v))) then return words .. tostring(v) end
  end
end

function kind.signal(v)
  if not is_signal(v) then return " must be an abort signal, got " .. type(v) end
end

function kind.callable(v)
  if not is_callable(v) then return " must be a function, got " .. type(v) end
end

local function of_type(name)
  return function(v)
    if type(v) ~= name then return format(" must be a %s, got %s", name, type(v)) end
  end
end
kind.boolean, kind.string, kind.table = of_type("boolean"), of_type("string"), of_type("table")

-- A string that goes to the system (a path, a name): no NUL byte, which C would stop at.
function kind.cstring(v)
  if type(v) ~= "string" then return " must be a string, got " .. type(v) end
  if find(v, "\0", 1, true) then return " must not contain a NUL byte" end
end

function kind.any() end

-- A job's priority (ebb.queue, ebb.worker): any number but NaN.
function kind.priority(v)
  if type(v) ~= "number" or v ~= v then return " must be a number, got " .. check.got(v) end
end

-- One of the strings given: ' must be "a", "b" or "c", got x'.
function kind.one_of(...)
  local set, words = {}, {}
  for i, s in ipairs { ... } do
    set[s], words[i] = true, '"' .. s .. '"'
  end
  local list = concat(words, ", ", 1, #words - 1) .. " or " .. words[#words]
  return function(v)
    if not set[v] then return format(" must be %s, got %s", list, type(v) == "string" and v or type(v)) end
  end
end

-- ---- the checks: each returns the value, or raises naming the argument ----

function check.callable(v, n, fname, level)
  if not is_callable(v) then raise(n, fname, "function expected, got " .. type(v), (level or 1) + 1) end
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

-- A whole number from min to max (max at most 2^53, where doubles stop being exact).
function check.whole(v, n, fname, what, min, max, level)
  local why = out_of_range(v, min, max or MAX_WHOLE)
  if why then raise(n, fname, what .. why, (level or 1) + 1) end
  return v
end

-- A duration: a finite number of milliseconds from 0 to 1e12.
function check.ms(v, n, fname, what, level)
  if type(v) == "number" and v >= 0 and v <= MAX_MS then return v end
  raise(n, fname, what .. kind.ms(v), (level or 1) + 1)
end

-- An abort signal: "abort signal expected", or "<what> must be an abort signal".
function check.signal(v, n, fname, what, level)
  if is_signal(v) then return v end
  raise(n, fname, what and what .. kind.signal(v) or "abort signal expected, got " .. type(v), (level or 1) + 1)
end

-- An abort signal or nil (a signal argument left out).
function check.opt_signal(v, n, fname, level)
  if v ~= nil and not is_signal(v) then
    raise(n, fname, "abort signal expected, got " .. type(v), (level or 1) + 1)
  end
  return v
end

-- An object of one kind: a table or userdata whose metatable is mt.
function check.self(v, mt, fname, expected, level)
  if v ~= nil and getmetatable(v) == mt then return v end
  raise(1, fname, format("%s expected, got %s", expected, type(v)), (level or 1) + 1)
end

-- ---- options tables ----
local names_of = setmetatable({}, { __mode = "k" }) -- valid -> "a, b, c"

local function valid_names(valid)
  local s = names_of[valid]
  if not s then
    local list = {}
    for k in pairs(valid) do list[#list + 1] = k end
    sort(list)
    s = concat(list, ", ")
    names_of[valid] = s
  end
  return s
end

-- options(opts, n, fname, valid [, level]) -> opts, or a new empty table for
-- nil. valid maps each option's name to its kind (check.kind); any other key
-- is refused, naming the valid ones.
local option_problem -- ebb.core's, found at the first use (ebb.core loads after this module)

function check.options(opts, n, fname, valid, level)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    raise(n, fname, "table of options expected, got " .. type(opts), (level or 1) + 1)
  end
  option_problem = option_problem or require("ebb.core").option_problem
  local problem, k, why = option_problem(opts, valid)
  if problem == "unknown" then
    raise(n, fname, format("unknown option '%s'; valid options: %s", tostring(k), valid_names(valid)),
      (level or 1) + 1)
  elseif problem then
    raise(n, fname, format("option '%s'%s", k, why), (level or 1) + 1)
  end
  return opts
end

-- required(opts, names, n, fname [, level]): raises for the first of names missing from opts.
function check.required(opts, names, n, fname, level)
  for i = 1, #names do
    if opts[names[i]] == nil then raise(n, fname, format("option '%s' is required", names[i]), (level or 1) + 1) end
  end
  return opts
end

-- ---- results from C ----

-- The C half's answer to a request: true, values... | false, the abort reason
-- | nil, code, message. The values; the reason raised as it is; or
-- fail(a, b, code, message), which raises the failure.
function check.result(fail, a, b, ok, ...)
  if ok then return ... end
  if ok == false then error((...), 0) end
  return fail(a, b, ...)
end

-- ok, reason from waiting (core.check_abort, a wait): false raises the reason.
function check.raise_if_aborted(ok, reason)
  if ok == false then error(reason, 0) end
  return ok
end

-- A failed system call: SystemError "<code>: <message>, <syscall> <target>"
-- (no target: "..., <syscall>"), its fields code, syscall and fields' own.
function check.system_error(code, msg, syscall, target, fields)
  fields = fields or {}
  fields.code, fields.syscall = code, syscall
  local text = target == nil and format("%s: %s, %s", code, msg, syscall)
    or format("%s: %s, %s %s", code, msg, syscall, tostring(target))
  -- a tail call: the error's traceback starts at the caller
  return require("ebb.errors").SystemError(text, fields)
end

return check
