-- ebb.context: async-local values. The current values are an immutable chain
-- held by the running task (its field ctx), so switching tasks costs nothing.
local core = require "ebb.core"
local check = require "ebb.check"

local cur = core.cur -- cur[1]: the running task
local type, error, xpcall, select, setmetatable, getmetatable = type, error, xpcall, select, setmetatable,
  getmetatable

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

-- The values are a chain of links {k = var, v = value, p = older links}: a
-- run adds one link (no copy), a read walks to the nearest link of its var,
-- and a link is never changed, so any task or snapshot may keep one.
local UNSET = {}

local function with(c, var, value)
  if value == nil then value = UNSET end
  return { k = var, v = value, p = c or false }
end

local traced = require("ebb.host").traced

local function restore(before, ok, ...)
  set_current(before)
  if not ok then error((...), 0) end
  return ...
end

-- Runs fn(...) with c current, and puts back what was current however it ends.
local function run_with(c, fn, ...)
  local before = current()
  set_current(c)
  return restore(before, xpcall(fn, traced, ...))
end

-- The same for fn with no arguments: no varargs, so the JIT compiles it.
local function run_bare(c, fn)
  local before = current()
  set_current(c)
  return restore(before, xpcall(fn, traced))
end

local function check_fn(fn, n, fname)
  if type(fn) ~= "function" then check.expected(fn, n, fname, "function", 2) end
end

local Var = {}
Var.__index = Var

local function check_var(v, fname)
  check.self(v, Var, fname, "context variable", 2)
end

local function value_of(var, v)
  if v == UNSET then return var.default end
  return v
end

-- The nearest link of var further down the chain.
local function find(var, c)
  while c do
    if c.k == var then return value_of(var, c.v) end
    c = c.p
  end
  return var.default
end

function Var:get()
  check_var(self, "get")
  local c = current()
  if c and c.k == self then return value_of(self, c.v) end -- the usual case: no loop
  return find(self, c and c.p)
end

function Var:run(value, fn, ...)
  check_var(self, "run")
  check_fn(fn, 2, "run")
  if select("#", ...) == 0 then return run_bare(with(current(), self, value), fn) end
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

function Snapshot:__tostring()
  check.self(self, Snapshot, "__tostring", "snapshot")
  local seen, n, link = {}, 0, self.ctx
  while link do -- the nearest link of a variable is its value; UNSET is none
    if not seen[link.k] then
      seen[link.k] = true
      if link.v ~= UNSET then n = n + 1 end
    end
    link = link.p
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

function context.is_var(v) return getmetatable(v) == Var end

return context
