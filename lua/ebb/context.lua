-- ebb.context: async-local values. The current values are a small immutable
-- table held by the running task (its field ctx), so switching tasks costs nothing.
local core = require "ebb.core"

local cur = core.cur -- cur[1]: the running task
local type, pairs, error, xpcall, setmetatable, getmetatable = type, pairs, error, xpcall, setmetatable, getmetatable

local context = {}
local outside = false -- the values of code that runs in no task (a timer's listener)

local function current()
  local t = cur[1]
  if t then return t.ctx end
  return outside
end

local function set_current(c)
  local t = cur[1]
  if t then t.ctx = c else outside = c end
end

-- A copy of c with var set to value (or unset, for nil): tables are never
-- changed once current, so any task may keep one.
local function with(c, var, value)
  local n = {}
  if c then
    for k, v in pairs(c) do n[k] = v end
  end
  n[var] = value
  return n
end

local function traced(e)
  if type(e) ~= "table" then core.remember(e, debug.traceback(tostring(e), 2)) end
  return e
end

-- Runs fn(...) with c current, and puts back what was current however it ends.
local function run_with(c, fn, ...)
  local before = current()
  set_current(c)
  local function finish(ok, ...)
    set_current(before)
    if not ok then error((...), 0) end
    return ...
  end
  return finish(xpcall(fn, traced, ...))
end

local function check_fn(fn, n, fname)
  if type(fn) ~= "function" then
    error(("bad argument #%d to '%s' (function expected, got %s)"):format(n, fname, type(fn)), 3)
  end
end

local Var = {}
Var.__index = Var

local function check_var(v, fname)
  if getmetatable(v) ~= Var then
    error(("bad argument #1 to '%s' (context variable expected, got %s)"):format(fname, type(v)), 3)
  end
end

function Var:get()
  check_var(self, "get")
  local c, v = current(), nil
  if c then v = c[self] end
  if v == nil then return self.default end
  return v
end

function Var:run(value, fn, ...)
  check_var(self, "run")
  check_fn(fn, 2, "run")
  return run_with(with(current(), self, value), fn, ...)
end

-- fn(...) with this variable unset: it reads its default.
function Var:exit(fn, ...)
  check_var(self, "exit")
  check_fn(fn, 1, "exit")
  return run_with(with(current(), self, nil), fn, ...)
end

-- The value for the rest of the current task (or outside code).
function Var:enter(value)
  check_var(self, "enter")
  set_current(with(current(), self, value))
end

function Var:__tostring()
  return "ContextVar (" .. (self.name or "unnamed") .. ")"
end

function context.new(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #1 to 'new' (table of options expected, got " .. type(opts) .. ")", 2)
  end
  opts = opts or {}
  if opts.name ~= nil and type(opts.name) ~= "string" then
    error("bad argument #1 to 'new' (option 'name' must be a string)", 2)
  end
  return setmetatable({ name = opts.name, default = opts.default }, Var)
end

local Snapshot = {}
Snapshot.__index = Snapshot

function Snapshot:run(fn, ...)
  if getmetatable(self) ~= Snapshot then
    error("bad argument #1 to 'run' (snapshot expected, got " .. type(self) .. ")", 2)
  end
  check_fn(fn, 1, "run")
  return run_with(self.ctx, fn, ...)
end

-- Every variable's value as it is now, to run code with later.
function context.snapshot()
  return setmetatable({ ctx = current() }, Snapshot)
end

-- fn, bound to the values current now: it runs with them wherever it is called.
function context.bind(fn)
  if type(fn) ~= "function" then
    error("bad argument #1 to 'bind' (function expected, got " .. type(fn) .. ")", 2)
  end
  local snap = context.snapshot()
  return function(...) return run_with(snap.ctx, fn, ...) end
end

function context.is_var(v) return getmetatable(v) == Var end

return context
