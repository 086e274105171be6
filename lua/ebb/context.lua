-- ebb.context: async-local values. The current values are an immutable chain
-- held by the running task (its field ctx), so switching tasks costs nothing.
local core = require "ebb.core"
local check = require "ebb.check"

local cur = core.cur -- cur[1]: the running task
local type, error, xpcall, setmetatable = type, error, xpcall, setmetatable
local metatable_of = debug.getmetatable -- as check.self reads it

local context = {}
local outside = false -- the values of code that runs in no task (a timer's listener)

local function current()
  local t = cur[1]
  if t then return t.ctx end
  return outside
end

-- The values are a chain of links {var, value, older links}: a run adds one
-- link (no copy; an array, one allocation), a read walks to the nearest link
-- of its var, and a link is never changed, so any task or snapshot may keep one.
local UNSET = {}
-- In a worker thread (ebb.worker), the job's caller's values come as one
-- link {BY_NAME, {name = value}, older}: read by every variable of that name.
local BY_NAME = {}

local function with(c, var, value)
  if value == nil then value = UNSET end
  return { var, value, c }
end

local traced = require("ebb.host").traced

-- Puts back what was current before a run, however fn ended. The running task
-- is looked up again: a coroutine fn yielded from may be resumed by another.
local function restore(before, ok, ...)
  local t = cur[1]
  if t then t.ctx = before else outside = before end
  if not ok then error((...), 0) end
  return ...
end

-- Runs fn(...) with c current.
local function run_with(c, fn, ...)
  local t = cur[1]
  local before
  if t then before, t.ctx = t.ctx, c else before, outside = outside, c end
  return restore(before, xpcall(fn, traced, ...))
end

local function check_fn(fn, n, fname)
  if type(fn) ~= "function" then check.expected(fn, n, fname, "function", 2) end
end

local Var = {}
Var.__index = Var

local function check_var(v, fname)
  check.self(v, Var, fname, "context variable", 2)
end

-- The nearest link of var in the chain c.
local function find(var, c)
  while c do
    local k = c[1]
    if k == var then
      local v = c[2]
      if v == UNSET then return var.default end
      return v
    elseif k == BY_NAME then
      local v = c[2][var.name]
      if v ~= nil then return v end
    end
    c = c[3]
  end
  return var.default
end

-- get and run are what code calls most, often from closures the JIT never
-- compiles: their checks and lookups are written out rather than called.
function Var:get()
  if metatable_of(self) ~= Var then check_var(self, "get") end
  local t = cur[1]
  local c
  if t then c = t.ctx else c = outside end
  if c and c[1] == self and c[2] ~= UNSET then return c[2] end -- the usual case: the nearest link
  return find(self, c)
end

function Var:run(value, fn, ...)
  if metatable_of(self) ~= Var then check_var(self, "run") end
  if type(fn) ~= "function" then check_fn(fn, 2, "run") end
  if value == nil then value = UNSET end
  local t = cur[1]
  local before
  if t then
    before = t.ctx
    t.ctx = { self, value, before }
  else
    before = outside
    outside = { self, value, before }
  end
  return restore(before, xpcall(fn, traced, ...))
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
  local t = cur[1]
  if t then t.ctx = with(t.ctx, self, value) else outside = with(outside, self, value) end
end

function Var:__tostring()
  check_var(self, "__tostring")
  return "ContextVar (" .. (self.name or "unnamed") .. ")"
end

local NEW = { name = check.kind.string, default = check.kind.any }

function context.new(opts)
  opts = check.options(opts, 1, "new", NEW)
  return setmetatable({ name = opts.name, default = opts.default }, Var)
end

local Snapshot = {}
Snapshot.__index = Snapshot

function Snapshot:run(fn, ...)
  check.self(self, Snapshot, "run", "snapshot")
  check_fn(fn, 1, "run")
  return run_with(self.ctx, fn, ...)
end

-- The values current in the chain c, by variable name: the nearest link of
-- each name counts (UNSET: none). nil when no named variable has a value.
local function by_name(c)
  local values, seen
  while c do
    local var, v = c[1], c[2]
    if var == BY_NAME then
      for name, value in pairs(v) do
        if not (seen and seen[name]) then
          seen, values = seen or {}, values or {}
          seen[name], values[name] = true, value
        end
      end
    elseif var.name ~= nil and not (seen and seen[var.name]) then
      seen = seen or {}
      seen[var.name] = true
      if v ~= UNSET then
        values = values or {}
        values[var.name] = v
      end
    end
    c = c[3]
  end
  return values
end

function Snapshot:__tostring()
  check.self(self, Snapshot, "__tostring", "snapshot")
  local seen, n, link = {}, 0, self.ctx
  while link do -- the nearest link of a variable is its value; UNSET is none
    if link[1] == BY_NAME then
      for name in pairs(link[2]) do
        if not seen[name] then seen[name], n = true, n + 1 end
      end
    elseif not seen[link[1]] then
      seen[link[1]] = true
      if link[1].name ~= nil then seen[link[1].name] = true end
      if link[2] ~= UNSET then n = n + 1 end
    end
    link = link[3]
  end
  return ("Snapshot (%d %s)"):format(n, n == 1 and "value" or "values")
end

-- Every variable's value as it is now, to run code with later.
function context.snapshot()
  return setmetatable({ ctx = current() }, Snapshot)
end

-- fn, bound to the values current now: it runs with them wherever it is called.
function context.bind(fn)
  check_fn(fn, 1, "bind")
  local snap = context.snapshot()
  return function(...) return run_with(snap.ctx, fn, ...) end
end

function context.is_var(v) return metatable_of(v) == Var end

-- For ebb.worker: the values of named variables current now ({name = value},
-- nil when there are none), and, in a worker, making them current for the
-- rest of the running task.
function context._by_name()
  local c = current()
  if not c then return nil end
  return by_name(c)
end

function context._enter_by_name(values)
  local t = cur[1]
  t.ctx = { BY_NAME, values, t.ctx }
end

return context
