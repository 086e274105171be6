-- ebb.scope: explicit resource management (TC39's `using` and DisposableStack):
-- resources disposed last first on any exit, their errors kept as SuppressedError.
local task = require "ebb.task"
local errors = require "ebb.errors"
local check = require "ebb.check"
local core = require "ebb.core"

local type, select, error, xpcall, pcall, rawget, setmetatable, getmetatable =
  type, select, error, xpcall, pcall, rawget, setmetatable, debug.getmetatable
local SuppressedError = errors.SuppressedError

local scope = {}

local badarg, callable = check.badarg, check.is_callable

-- A plain (string) error keeps where it was first raised across our re-raise.
local traced = require("ebb.host").traced

-- ---- disposal ----
local NOARG = {} -- a deferred function is called with no argument at all

-- Resources are pairs (value, disposer) in res[1..2n] (a value may be nil:
-- adopt(nil, fn)). DisposeResources of the
-- proposal: a disposer's error D while E is pending makes SuppressedError(D, E).
local function dispose_all(res, n, failed, err)
  for i = 2 * n - 1, 1, -2 do
    local v, f = res[i], res[i + 1]
    res[i], res[i + 1] = nil, nil
    local ok, e
    if v == NOARG then ok, e = xpcall(f, traced) else ok, e = xpcall(f, traced, v) end
    if not ok then
      if failed then err = SuppressedError(e, err) else failed, err = true, e end
    end
  end
  return failed, err
end

-- Shielded: a cancelled task's disposers may still wait. Outside a task (an
-- abort listener, say) there is nothing to shield and nothing may wait.
local function dispose(res, n, failed, err)
  if n == 0 then return failed, err end
  if task.current() then
    local ok, f, e = pcall(task.shield, dispose_all, res, n, failed, err)
    if ok then return f, e end
  end
  return dispose_all(res, n, failed, err)
end

-- ---- DisposableStack ----
local Stack = {}
local StackMT = { __name = "DisposableStack", __index = Stack }

local function new_stack()
  return setmetatable({ disposed = false, _res = {}, _n = 0 }, StackMT)
end

-- Checks self (a live stack), raising at the caller of the method.
local function live(self, fname)
  if getmetatable(self) ~= StackMT then check.expected(self, 1, fname, "DisposableStack", 2) end
  if self.disposed then error(("'%s' on a disposed DisposableStack"):format(fname), 3) end
end

local function push(self, v, f)
  local n = self._n + 1
  self._n = n
  self._res[2 * n - 1], self._res[2 * n] = v, f
end

-- The disposer of v, looked up now as `using` does: __close, else close.
local function disposer_of(v)
  local tv = type(v)
  local mt = (tv == "table" or tv == "userdata") and getmetatable(v)
  local f, what = type(mt) == "table" and rawget(mt, "__close"), "__close metamethod"
  if not f then
    if tv ~= "table" and not (type(mt) == "table" and mt.__index ~= nil) then return nil end
    f, what = v.close, "close method"
    if f == nil then return nil end
  end
  return f, what
end

function Stack:use(v)
  live(self, "use")
  if v == nil then return nil end
  local f, what = disposer_of(v)
  if f == nil then
    badarg(1, "use", "value with a __close metamethod or a close method expected, got " .. type(v))
  end
  if not callable(f) then badarg(1, "use", ("its %s must be a function, got %s"):format(what, type(f))) end
  push(self, v, f)
  return v
end

function Stack:adopt(v, on_dispose)
  live(self, "adopt")
  check.callable(on_dispose, 2, "adopt")
  push(self, v, on_dispose)
  return v
end

function Stack:defer(fn)
  live(self, "defer")
  check.callable(fn, 1, "defer")
  push(self, NOARG, fn)
end

function Stack:move()
  live(self, "move")
  local to = new_stack()
  to._res, to._n = self._res, self._n
  self._res, self._n, self.disposed = {}, 0, true
  return to
end

-- Takes the resources out and marks the stack disposed before any disposer
-- runs, so one that adds to it raises.
local function take(self)
  local res, n = self._res, self._n
  self._res, self._n, self.disposed = {}, 0, true
  return res, n
end

local function dispose_stack(self, fname)
  if getmetatable(self) ~= StackMT then check.expected(self, 1, fname, "DisposableStack", 2) end
  if self.disposed then return end
  local failed, err = dispose(take(self))
  if failed then error(err, 0) end
end
function Stack:dispose() dispose_stack(self, "dispose") end
function Stack:close() dispose_stack(self, "close") end -- a stack is a resource too
StackMT.__close = Stack.close

StackMT.__tostring = function(self)
  check.self(self, StackMT, "__tostring", "DisposableStack")
  if self.disposed then return "DisposableStack (disposed)" end
  return ("DisposableStack (%d resources)"):format(self._n)
end

function scope.stack()
  return new_stack()
end

-- ---- scope.run ----
local function finish(s, ok, ...)
  local failed, err = not ok, nil
  if failed then err = ... end
  if not s.disposed then
    local res, n = take(s)
    failed, err = dispose(res, n, failed, err)
  end
  if failed then error(err, 0) end
  return ...
end

function scope.run(fn, ...)
  check.callable(fn, 1, "run")
  local s = new_stack()
  return finish(s, xpcall(fn, traced, s, ...))
end

return scope
