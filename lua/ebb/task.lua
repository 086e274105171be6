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

task.spawn = spawn
task.delay = core.delay
task.current = core.current
task.is_task = is_task

function task.sleep(ms, signal)
  raise_if_aborted(c_sleep(ms, signal))
end

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

local function as_tasks(list, fname)
  if type(list) ~= "table" then
    error(("bad argument #1 to '%s' (list of tasks or functions expected, got %s)"):format(fname, type(list)), 3)
  end
  local tasks, j = {}, join()
  for i = 1, #list do
    local v = list[i]
    if type(v) == "function" then
      v = spawn(v)
    elseif not is_task(v) then
      error(("bad argument #1 to '%s' (item %d is not a task or function)"):format(fname, i), 3)
    end
    tasks[i] = v
    j:add(v)
  end
  return tasks, j
end

local function cancel_rest(tasks, reason)
  for i = 1, #tasks do cancel(tasks[i], reason) end
end

local function wait_next(tasks, j)
  local idx, reason = j:next()
  while idx == true do idx, reason = j:next() end -- woken: now one has ended
  if type(idx) == "number" then return idx end
  cancel_rest(tasks, reason) -- aborted while waiting: the tasks are losers too
  error(reason, 0)
end

function task.all(list)
  local tasks, j = as_tasks(list, "all")
  local out = {}
  for seen = 1, #tasks do
    local i = wait_next(tasks, j)
    local t = tasks[i]
    local ok, e = outcome(t)
    if not ok then
      cancel_rest(tasks, AbortError("another task of task.all failed", { cause = e }))
      result(t) -- raises e, keeping where it was raised
    end
    out[i] = (result(t))
  end
  return out
end

function task.all_settled(list)
  local tasks, j = as_tasks(list, "all_settled")
  local out = {}
  for seen = 1, #tasks do
    local i = wait_next(tasks, j)
    local ok, e = outcome(tasks[i])
    if ok then out[i] = { ok = true, value = (result(tasks[i])) }
    else out[i] = { ok = false, error = e } end
  end
  return out
end

function task.race(list)
  local tasks, j = as_tasks(list, "race")
  if #tasks == 0 then error("bad argument #1 to 'race' (empty list)", 2) end
  local i = wait_next(tasks, j)
  cancel_rest(tasks, AbortError("lost the race"))
  return result(tasks[i])
end

function task.any(list)
  local tasks, j = as_tasks(list, "any")
  local errs = {}
  for seen = 1, #tasks do
    local i = wait_next(tasks, j)
    local ok, e = outcome(tasks[i])
    if ok then
      cancel_rest(tasks, AbortError("another task of task.any succeeded"))
      return result(tasks[i])
    end
    errs[i] = e
  end
  error(AggregateError(errs, "all " .. #tasks .. " tasks failed"), 2)
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
  self.tasks[#self.tasks + 1] = t
  self.join:add(t)
  return t
end

local function traced(e)
  if type(e) ~= "table" then core.remember(e, debug.traceback(tostring(e), 2)) end
  return e
end

function task.group(fn)
  if type(fn) ~= "function" then error("bad argument #1 to 'group' (function expected, got " .. type(fn) .. ")", 2) end
  local g = setmetatable({ tasks = {}, join = join() }, Group)
  local ok, e = xpcall(fn, traced, g)
  local first = not ok and e or nil
  local shielded, seen = false, 0
  if first ~= nil then cancel_rest(g.tasks, first) end
  -- Wait for every child; after the first failure the rest are cancelled
  -- and awaited shielded, so their cleanup has run when the group returns.
  while seen < #g.tasks do
    if first ~= nil and not shielded then
      shield(1)
      shielded = true
    end
    local idx, reason = g.join:next()
    while idx == true do idx, reason = g.join:next() end
    if type(idx) == "number" then
      seen = seen + 1
      local t = g.tasks[idx]
      if first == nil and t.status == "failed" then
        first = select(2, outcome(t))
        cancel_rest(g.tasks, AbortError("a task of the group failed", { cause = first }))
      end
    elseif first == nil then
      first = reason
      cancel_rest(g.tasks, reason)
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
