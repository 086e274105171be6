-- ebb.task's joins and what is built on them: all, all_settled, race, any,
-- group, timeout. Loaded the first time one of them is called (ebb.task
-- holds a stub for each), so start-up does not pay for them.
local task = require "ebb.task"
local core = require "ebb.core"
local errors = require "ebb.errors"
local check = require "ebb.check"
local clock_now = require("ebb.clock.core").now

local type, error, rawget, rawset, setmetatable, unpack =
  type, error, rawget, rawset, setmetatable, unpack
local table_new = require "table.new" -- LuaJIT's: a table sized up front
local AbortError, TimeoutError, AggregateError = errors.AbortError, errors.TimeoutError, errors.AggregateError
local c_shield, waitlist = core.shield, core.waitlist

local shared = task._shared
local observe, waiters_of, finished, results, check_own_abort =
  shared.observe, shared.waiters_of, shared.finished, shared.results, shared.check_own_abort
local spawn, is_task, Task = task.spawn, task.is_task, task.Task

local join = {}

-- ---- joins: one waiter told of many tasks as each ends, in that order ----
local Join = {}
Join.__index = Join

-- t has ended (ebb.task calls it for the joins of every task that ends).
function Join:push(t)
  local tail = self.tail + 1
  self.tail = tail
  local done = self.done
  if done then done[tail] = t
  elseif not self.failed and t[1] ~= "done" then self.failed = t end -- its status
  if self.parked then -- wake the waiter once; it looks at all that ended
    self.parked = false
    self.wl:wake_all()
  end
end

local function attach(j, t)
  local i = j.n + 1
  j.n = i
  j.tasks[i] = t
  local old = t[2] -- the task's join (see ebb.task's template)
  if finished(t) then
    j:push(t)
    if not old then t[2] = true end
  elseif old == false or old == true then
    t[2] = j
  else
    local more = rawget(t, "joins")
    if not more then
      more = {}
      rawset(t, "joins", more)
    end
    more[#more + 1] = j
  end
end

local function first_result(t)
  if (rawget(t, 0) or 0) == 0 then return nil end -- [0]: how many results, from [3]
  return t[3]
end

-- ---- combinators ----
-- A join that only counts (task.all) keeps no list of the tasks that ended,
-- only the first that failed.
local function new_join(size, counts)
  local j = setmetatable({ tasks = false, n = 0, done = false, head = 0, tail = 0, parked = false, wl = false,
    failed = false }, Join)
  j.tasks = table_new(size or 4, 0)
  if not counts then j.done = table_new(size or 4, 0) end
  return j
end

local function join_list(list, fname, counts)
  if type(list) ~= "table" then
    check.expected(list, 1, fname, "list of tasks or functions", 2)
  end
  for i = 1, #list do
    local v = list[i]
    if type(v) ~= "function" and not is_task(v) then
      check.badarg(1, fname, "item " .. i .. " is not a task or function", 2)
    end
  end
  local j = new_join(#list, counts)
  for i = 1, #list do
    local v = list[i]
    attach(j, type(v) == "function" and spawn(v) or v)
  end
  return j
end

function Join:add(v)
  if type(v) == "function" then v = spawn(v)
  elseif not is_task(v) then check.expected(v, 1, "add", "task or function") end
  attach(self, v)
  return v
end

-- The next task to have ended; nil when all were told; false, reason when
-- the waiting task is aborted.
local function park(j)
  local wl = j.wl
  if not wl then
    wl = waitlist()
    j.wl = wl
  end
  j.parked = true
  local ok, reason = wl:wait()
  j.parked = false
  return ok, reason
end

function Join:next()
  local h = self.head
  while h >= self.tail do -- none has ended yet that was not told
    if h >= self.n then return nil end
    local ok, reason = park(self)
    if ok == false then return false, reason end
  end
  h = h + 1
  self.head = h
  return self.done[h]
end

-- The join is done with the tasks that have not ended: they stop telling it
-- (a long-lived task raced many times keeps no list of old joins).
function Join:detach()
  for i = 1, self.n do
    local t = self.tasks[i]
    if not finished(t) then
      local more = rawget(t, "joins")
      if t[2] == self then
        t[2] = more and #more > 0 and table.remove(more) or true
      elseif more then
        for k = #more, 1, -1 do
          if more[k] == self then
            table.remove(more, k)
            break
          end
        end
      end
    end
  end
end

function Join:cancel(reason)
  for i = 1, self.n do Task.cancel(self.tasks[i], reason) end
end

local function next_ended(j)
  local t, reason = j:next()
  if t == false then -- the caller was cancelled: every task is a loser
    j:cancel(reason)
    j:detach()
    error(reason, 0)
  end
  return t
end

function join.all(list)
  check_own_abort()
  local j = join_list(list, "all", true)
  local n = j.n
  while true do -- stop at the first task that fails
    local t = j.failed
    if t then
      j:cancel(AbortError("another task of task.all failed", { cause = rawget(t, "error") }))
      j:detach()
      results(t) -- raises its error, keeping where it was raised
    end
    if j.tail >= n then break end
    local ok, reason = park(j)
    if ok == false then -- the caller was cancelled: every task is a loser
      j:cancel(reason)
      error(reason, 0)
    end
  end
  local out, tasks = table_new(n, 0), j.tasks
  for i = 1, n do
    local t = tasks[i]
    if rawget(t, 0) ~= 0 then out[i] = t[3] end
  end
  return out
end

function join.all_settled(list)
  check_own_abort()
  local j = join_list(list, "all_settled")
  for _ = 1, j.n do next_ended(j) end
  local out = {}
  for i = 1, j.n do
    local t = j.tasks[i]
    if t[1] == "done" then out[i] = { ok = true, value = first_result(t) }
    else out[i] = { ok = false, error = rawget(t, "error") } end
  end
  return out
end

function join.race(list)
  check_own_abort()
  local j = join_list(list, "race")
  if j.n == 0 then check.badarg(1, "race", "list must not be empty: a race of none has no winner") end
  local t = next_ended(j)
  j:cancel(AbortError("lost the race"))
  j:detach()
  return results(t)
end

function join.any(list)
  check_own_abort()
  local j = join_list(list, "any")
  for _ = 1, j.n do
    local t = next_ended(j)
    if t[1] == "done" then
      j:cancel(AbortError("another task of task.any succeeded"))
      j:detach()
      return results(t)
    end
  end
  local errs = {}
  for i = 1, j.n do errs[i] = rawget(j.tasks[i], "error") end
  error(AggregateError(errs, "all " .. #errs .. " tasks failed"), 2)
end

-- ---- groups ----
local Group = {}
Group.__index = Group

function Group:spawn(fn, ...)
  check.self(self, Group, "spawn", "group")
  if self.closed then error("the group has ended: no new tasks", 2) end
  check.callable(fn, 1, "spawn")
  local t = spawn(fn, ...)
  attach(self.join, t)
  return t
end

function Group:__tostring()
  check.self(self, Group, "__tostring", "group")
  local j = self.join
  local tasks = j.n .. (j.n == 1 and " task" or " tasks")
  if self.closed then return "Group (" .. tasks .. ", ended)" end
  return ("Group (%s, %d running)"):format(tasks, j.n - j.tail)
end

local traced = require("ebb.host").traced

function join.group(fn)
  if type(fn) ~= "function" then check.expected(fn, 1, "group", "function") end
  check_own_abort()
  local j = new_join()
  local g = setmetatable({ join = j }, Group)
  local ok, e = xpcall(fn, traced, g)
  local first = not ok and e or nil
  local shielded, seen = false, 0
  if first ~= nil then j:cancel(first) end
  -- Wait for every child; after the first failure the rest are cancelled
  -- and awaited shielded, so their cleanup has run when the group returns.
  while seen < j.n do
    if first ~= nil and not shielded then
      c_shield(1)
      shielded = true
    end
    local t, reason = j:next()
    if t then
      seen = seen + 1
      if first == nil and t[1] == "failed" then
        first = rawget(t, "error")
        j:cancel(AbortError("a task of the group failed", { cause = first }))
      end
    elseif t == false and first == nil then
      first = reason
      j:cancel(reason)
    end
  end
  if shielded then c_shield(-1) end
  g.closed = true
  if first ~= nil then error(first, 0) end
end

-- ---- timeout ----
function join.timeout(ms, fn, ...)
  check.ms(ms, 1, "timeout", "ms")
  check.callable(fn, 2, "timeout")
  check_own_abort()
  local t = spawn(fn, ...)
  observe(t)
  local w = waiters_of(t)
  local deadline = clock_now() + ms
  local why
  while not finished(t) do
    local ok, reason = w:wait(nil, math.max(0, deadline - clock_now()))
    if ok == nil then
      why = TimeoutError("timed out after " .. ms .. " ms")
    elseif ok == false then
      why = reason
    end
    if why ~= nil then break end
  end
  if why == nil then return results(t) end
  Task.cancel(t, why)
  c_shield(1) -- its cleanup runs before we return
  while not finished(t) do w:wait() end
  c_shield(-1)
  error(why, 0)
end

-- ---- for modules given a signal that must reach code they do not own ----

-- Runs fn(...) in a task of its own that an abort of `signal` cancels with
-- its reason, and waits for it: the signal counts as listened to while fn
-- runs (ebb.shutdown's first SIGINT aborts it instead of ending the process),
-- and the abort reaches fn whatever it waits on. fn's results, or its error.
function join._abortable(signal, fn, ...)
  local child = spawn(fn, ...)
  local off = signal:on_abort(function(reason) Task.cancel(child, reason) end)
  local r = { pcall(Task.await, child) }
  if not r[1] and not finished(child) then -- the caller itself was cancelled
    Task.cancel(child, r[2])
    task.shield(pcall, Task.await, child)
  end
  off()
  if not r[1] then error(r[2], 0) end
  return unpack(r, 2, table.maxn(r))
end

return join
