-- ebb.task: tasks on the scheduler, and the ways to combine them (all, race,
-- any, all_settled, group, timeout, future). The state lives in ebb.core.
local core = require "ebb.core"
local errors = require "ebb.errors"

local spawn, await_begin, result, outcome, cancel = core.spawn, core.await_begin, core.result,
  core.outcome, core.cancel
local is_task, join = core.is_task, core.join
local c_sleep, c_yield, shield = core.sleep, core.yield, core.shield
local type, select, error, ipairs = type, select, error, ipairs
local AbortError, TimeoutError, AggregateError = errors.AbortError, errors.TimeoutError,
  errors.AggregateError

local task = {}

local function check_signal(v, n, fname)
  if v ~= nil and not (type(v) == "userdata" and tostring(v):match("^AbortSignal")) then
    error(("bad argument #%d to '%s' (abort signal expected, got %s)"):format(n, fname, type(v)), 3)
  end
end

-- A wait's outcome: true, or false and the abort reason, or nil on timeout.
local function raise_if_aborted(ok, reason)
  if ok == false then error(reason, 0) end
  return ok
end

-- ---- the Task object ----
local Task = {}

function Task.await(t)
  if not is_task(t) then error("bad argument #1 to 'await' (task expected, got " .. type(t) .. ")", 2) end
  raise_if_aborted(await_begin(t))
  return result(t)
end

function Task.cancel(t, reason)
  if not is_task(t) then error("bad argument #1 to 'cancel' (task expected, got " .. type(t) .. ")", 2) end
  if reason == nil then reason = AbortError("the task was cancelled") end
  cancel(t, reason)
end

-- The task's outcome without raising: ok, then results or the error.
function Task.result(t)
  return outcome(t)
end

core.set_methods(Task)
task.Task = Task

task.delay = core.delay
task.current = core.current
task.is_task = is_task

function task.sleep(ms, signal)
  if type(ms) ~= "number" or ms ~= ms or ms < 0 then
    error("bad argument #1 to 'sleep' (non-negative number of milliseconds expected, got " ..
      (type(ms) == "number" and tostring(ms) or type(ms)) .. ")", 2)
  end
  if signal ~= nil then check_signal(signal, 2, "sleep") end
  raise_if_aborted(c_sleep(ms, signal))
end
core.set_sleep(task.sleep)
task.spawn = core.spawn
spawn = core.spawn

function task.yield()
  raise_if_aborted(c_yield())
end

-- Runs fn(...) shielded from the current task's cancellation: its waits go on.
function task.shield(fn, ...)
  shield(1)
  local r = { pcall(fn, ...) }
  shield(-1)
  if not r[1] then error(r[2], 0) end
  return unpack(r, 2, table.maxn(r))
end

-- ---- combinators ----
-- A join follows a list of tasks; next() tells of each as it ends:
-- index, ok, first result or error. Aborted while waiting: false, reason.

local function next_ended(j)
  local i, ok, v = j:next()
  while i == true do i, ok, v = j:next() end
  if i == false then -- the caller was cancelled: every task is a loser
    j:cancel(ok)
    error(ok, 0)
  end
  return i, ok, v
end

function task.all(list)
  local j, bad = join(list, "all")
  if not j then error(bad, 2) end
  local out = {}
  for _ = 1, j:size() do
    local i, ok, v = next_ended(j)
    if not ok then
      j:cancel(AbortError("another task of task.all failed", { cause = v }))
      result(j:task(i)) -- raises v, keeping where it was raised
    end
    out[i] = v
  end
  return out
end

function task.all_settled(list)
  local j, bad = join(list, "all_settled")
  if not j then error(bad, 2) end
  local out = {}
  for _ = 1, j:size() do
    local i, ok, v = next_ended(j)
    if ok then out[i] = { ok = true, value = v } else out[i] = { ok = false, error = v } end
  end
  return out
end

function task.race(list)
  local j, bad = join(list, "race")
  if not j then error(bad, 2) end
  if j:size() == 0 then error("bad argument #1 to 'race' (empty list)", 2) end
  local i = next_ended(j)
  j:cancel(AbortError("lost the race"))
  return result(j:task(i))
end

function task.any(list)
  local j, bad = join(list, "any")
  if not j then error(bad, 2) end
  local errs = {}
  for _ = 1, j:size() do
    local i, ok, v = next_ended(j)
    if ok then
      j:cancel(AbortError("another task of task.any succeeded"))
      return result(j:task(i))
    end
    errs[i] = v
  end
  error(AggregateError(errs, "all " .. #errs .. " tasks failed"), 2)
end

-- ---- groups ----
local Group = {}
Group.__index = Group

function Group:spawn(fn, ...)
  if getmetatable(self) ~= Group then error("bad argument #1 to 'spawn' (group expected)", 2) end
  if self.closed then error("the group has ended: no new tasks", 2) end
  if type(fn) ~= "function" and not (getmetatable(fn) or {}).__call then
    error("bad argument #1 to 'spawn' (function expected, got " .. type(fn) .. ")", 2)
  end
  local t = spawn(fn, ...)
  self.join:add(t)
  return t
end

local function traced(e)
  if type(e) ~= "table" then core.remember(e, debug.traceback(tostring(e), 2)) end
  return e
end

function task.group(fn)
  if type(fn) ~= "function" then error("bad argument #1 to 'group' (function expected, got " .. type(fn) .. ")", 2) end
  local j = join()
  local g = setmetatable({ join = j }, Group)
  local ok, e = xpcall(fn, traced, g)
  local first = not ok and e or nil
  local shielded, seen = false, 0
  if first ~= nil then j:cancel(first) end
  -- Wait for every child; after the first failure the rest are cancelled
  -- and awaited shielded, so their cleanup has run when the group returns.
  while seen < j:size() do
    if first ~= nil and not shielded then
      shield(1)
      shielded = true
    end
    local i, tok, v = j:next()
    if type(i) == "number" then
      seen = seen + 1
      if first == nil and not tok and j:task(i).status == "failed" then
        first = v
        j:cancel(AbortError("a task of the group failed", { cause = v }))
      end
    elseif i == false and first == nil then
      first = tok
      j:cancel(tok)
    end
  end
  if shielded then shield(-1) end
  g.closed = true
  if first ~= nil then error(first, 0) end
end

-- ---- timeout ----
function task.timeout(ms, fn, ...)
  if type(ms) ~= "number" or ms ~= ms or ms < 0 then
    error("bad argument #1 to 'timeout' (non-negative number of milliseconds expected, got " .. type(ms) .. ")", 2)
  end
  if type(fn) ~= "function" then error("bad argument #2 to 'timeout' (function expected, got " .. type(fn) .. ")", 2) end
  local reason = core.cancelled()
  if reason ~= nil then error(reason, 0) end
  local t = spawn(fn, ...)
  local ok, why = await_begin(t, nil, ms)
  if ok then return result(t) end
  local e = ok == nil and TimeoutError("timed out after " .. ms .. " ms") or why
  cancel(t, e)
  shield(1)
  pcall(await_begin, t)
  shield(-1)
  error(e, 0)
end

-- ---- futures ----
local Future = {}
Future.__index = function(f, k)
  if k == "settled" then return rawget(f, "_state") ~= nil end
  return Future[k]
end

local function check_future(f, fname)
  if getmetatable(f) ~= Future then error("bad argument #1 to '" .. fname .. "' (future expected)", 3) end
end

function Future:resolve(...)
  check_future(self, "resolve")
  if self._state then return false end
  self._state, self._n, self._values = "ok", select("#", ...), { ... }
  self._waiters:wake_all()
  return true
end

function Future:reject(err)
  check_future(self, "reject")
  if self._state then return false end
  self._state, self._error = "error", err
  self._waiters:wake_all()
  return true
end

function Future:await(opts)
  check_future(self, "await")
  local signal, timeout
  if opts ~= nil then
    if type(opts) ~= "table" then error("bad argument #1 to 'await' (table of options expected, got " .. type(opts) .. ")", 2) end
    signal, timeout = opts.signal, opts.timeout
    check_signal(signal, 1, "await")
    if timeout ~= nil and (type(timeout) ~= "number" or timeout ~= timeout or timeout < 0) then
      error("bad argument #1 to 'await' (timeout must be a non-negative number of milliseconds)", 2)
    end
  end
  raise_if_aborted(core.check_abort(signal))
  local deadline = timeout and require("ebb.clock").now() + timeout
  while not self._state do
    local left = deadline and math.max(0, deadline - require("ebb.clock").now())
    local ok, reason = self._waiters:wait(signal, left)
    if ok == nil then error(TimeoutError("the future was not settled within " .. timeout .. " ms"), 2) end
    raise_if_aborted(ok, reason)
  end
  if self._state == "error" then error(self._error, 0) end
  return unpack(self._values, 1, self._n)
end

function task.future()
  return setmetatable({ _waiters = core.waitlist() }, Future)
end

return task
