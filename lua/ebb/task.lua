-- ebb.task: tasks and the scheduler's side of them. A task is a Lua table;
-- new tasks wait in a ring that runner coroutines take them from, one after
-- another, so a task that never waits costs no crossing into C. One that
-- waits gets a C record (ebb.core, at the task's [0] while it runs) holding
-- its coroutine, timer and cancellation. The ways to combine tasks (all,
-- race, any, all_settled, group, timeout) are in ebb.task_join, futures in
-- ebb.task_future: both load on first use.
local core = require "ebb.core"
local origins = require "ebb.host" -- where plain errors were raised
local errors = require "ebb.errors"
local check = require "ebb.check"
local abort_core = require "ebb.abort.core"

local type, select, error, rawget, rawset, setmetatable, getmetatable, unpack =
  type, select, error, rawget, rawset, setmetatable, debug.getmetatable, unpack
local co_yield = coroutine.yield
local AbortError = errors.AbortError
local c_sleep, c_yield, c_shield, check_abort, waitlist = core.sleep, core.yield, core.shield,
  core.check_abort, core.waitlist

local task = {}
local cur = core.cur       -- cur[1]: the running task (set by the runner and by C)
local IDLE = core.IDLE
local host = {}            -- what the host calls: boot wires these up
task._host = host

-- What the files that hold the rest of ebb.task share with this one.
local shared = {}
task._shared = shared

-- ebb test follows the tasks that belong to a spec (ebb.test_tasks sets
-- owned and ended when it loads, before any task has an owner).
local function nothing() end
shared.owned, shared.ended = nothing, nothing

local function own(t, owner)
  t.owner = owner
  shared.owned(t)
end

-- ---- the Task object ----
local Task = {}
local TaskMT = { __name = "Task" }
task.Task = Task

local function signal_of(t)
  local s = rawget(t, "signal")
  if not s then
    s = abort_core.new_signal()
    rawset(t, "signal", s)
  end
  return s
end

TaskMT.__index = function(t, k)
  local m = Task[k]
  if m ~= nil then return m end
  if k == "status" then return rawget(t, 1) end
  if k == "signal" then return signal_of(t) end
  if k == "ctx" then return false end -- none: the field is made by the first that sets one
end

local ids, last_id = setmetatable({}, { __mode = "k" }), 0
TaskMT.__tostring = function(t)
  if getmetatable(t) ~= TaskMT then check.expected(t, 1, "__tostring", "task") end
  local id = ids[t]
  if not id then
    last_id = last_id + 1
    id = last_id
    ids[t] = id
  end
  return ("Task #%d (%s)"):format(id, t.status)
end


-- One template, so every task has the same small shape, all of it in the
-- array part (a table with no hash part is 64 bytes smaller): [1] is its
-- status (public as t.status, through __index), [2] its join: false, true
-- (observed: someone awaits it) or the join following it. Until it starts,
-- [3] is the function and [4] its argument (or a list of them, [0] > 1);
-- once it ends, [3..[0]+2] are its results: [0] counts the arguments, then
-- the results. In between [0] is free: a task that waits keeps its C record
-- there (a light userdata). Rarer fields (ctx, tmr, hook, owner, waiters,
-- joins, signal, error) are added to a hash part when needed and read raw,
-- ctx only by a task made where context values are set. The indices are
-- literals: an upvalue holding one would cost a load in the interpreter.
local function has_record(t) return type(rawget(t, 0)) == "userdata" end

local function fill_task(t, fn, n, a, owner)
  t[0], t[3], t[4] = n, fn, a
  local ct = cur[1] -- a task sees the context values of where it was made
  local c = ct and rawget(ct, "ctx")
  if c then t.ctx = c end
  if owner then own(t, owner) end
  return t
end

local function new_task(fn, n, a, owner)
  return fill_task(setmetatable({ "pending", false, false, false }, TaskMT), fn, n, a, owner)
end

local function is_task(v) return getmetatable(v) == TaskMT end
task.is_task = is_task

local function finished(t)
  local st = t[1]
  return st == "done" or st == "failed" or st == "cancelled"
end

local raise_if_aborted = check.raise_if_aborted

-- The rule of every awaiting function: an aborted caller raises at once.
local function check_own_abort(signal)
  local ct = cur[1]
  local s = ct and rawget(ct, "signal")
  if (s and s.aborted) or signal ~= nil then raise_if_aborted(check_abort(signal)) end
end

local check_ms, check_callable = check.ms, check.callable

-- A task someone awaits or joins: its failure is not reported as unhandled.
local function observe(t)
  if t[2] == false then t[2] = true end
end

-- ---- ending ----
local unhandled = {}

local function settled(t)
  if has_record(t) or rawget(t, "tmr") then core.release(t) end
  local j = t[2]
  if j and j ~= true then
    j:push(t)
    local more = rawget(t, "joins")
    if more then
      for k = 1, #more do more[k]:push(t) end
    end
  end
  local w = rawget(t, "waiters")
  if w then w:wake_all() end
  if rawget(t, "owner") then shared.ended(t) end
  if rawget(t, "cancel_counted") then core.count_cancelled(-1) end
  local h = rawget(t, "hook") -- an owner told of the end (a queue frees the job's slot)
  if h then h:settled(t) end
end

-- The task's results, kept; settled(t) follows.
local function keep_results(t, ...)
  if type(t[0]) == "userdata" then core.release(t) end -- before [0] counts the results
  local n = select("#", ...)
  if n == 1 then
    t[3] = ...
  elseif n > 1 then
    for i = 1, n do t[i + 2] = (select(i, ...)) end
  end
  if n < 2 then t[4] = nil end
  if n < 1 then t[3] = nil end
  t[0] = n
  t[1] = "done"
end

-- A task ends with an error: its own cancellation reason means "cancelled".
local function fail(t, e, tb)
  if finished(t) then return end
  local s = rawget(t, "signal")
  local own = s ~= nil and s.aborted and rawequal(s.reason, e)
  t[1] = own and "cancelled" or "failed"
  t[3], t[4] = nil, nil
  rawset(t, "error", e)
  rawset(t, "traceback", tb)
  if not own and not t[2] then
    unhandled[#unhandled + 1] = t
    core.note_unhandled()
  end
  settled(t)
end

host.failed = fail
host.timer_done = function(t) -- a timer task; it keeps its small shape
  t[1] = "done"
  settled(t)
end

-- Failed tasks nobody has looked at by the end of the turn.
function host.take_unhandled()
  local list = unhandled
  unhandled = {}
  local out = {}
  for i = 1, #list do
    if not list[i][2] then out[#out + 1] = list[i] end
  end
  return out
end

-- ---- new tasks: the ring and its runners ----
local R = { head = 0, tail = 0, stop = 0, batch_end = 0, first = false }
local RING_CHUNK = 1024 -- new tasks run between two looks at the clock (sched.c)
core.set_ring(R)

local function enqueue(t)
  local tail = R.tail + 1
  R.tail = tail
  R[tail] = t
end
host.enqueue = enqueue

-- Every pooled coroutine runs the runner. An error in a task ends the
-- coroutine; the host then ends the task with it (host.failed), with no pcall
-- per task. Tasks started while the ring is being run go past its end; when
-- most of it has been taken, what is left moves down, so the ring stays
-- small. A batch's share (up to batch_end) is run in chunks (up to stop):
-- between two the host looks at the clock. R.first: true for a new batch,
-- "more" for its next chunk, false to go on with the chunk.
local function compact()
  local h, tail = R.head, R.tail
  for i = h + 1, tail do
    R[i - h] = R[i]
    R[i] = nil
  end
  R.head, R.tail, R.stop, R.batch_end = 0, tail - h, R.stop - h, R.batch_end - h
end

-- Takes the next task of the chunk: true when it is to start (it is then
-- current), false when not (cancelled before it started, or the chunk is
-- done). No loop here: the runner's is the one LuaJIT compiles.
local function take()
  local head = R.head
  if head >= R.stop then return false end
  head = head + 1
  R.head = head
  local t = R[head]
  R[head] = nil
  if head > 1024 and head * 2 > R.tail then compact() end
  if t[1] ~= "pending" then return false end
  cur[1] = t
  return true
end

-- The current task starts: its arguments, which it no longer holds.
local function start()
  local t = cur[1]
  t[1] = "running"
  local n, a = t[0], t[4]
  t[4] = nil
  if n == 1 then return a end
  if n == 0 then return end
  return unpack(a, 1, n)
end

-- The current task's function has returned these. (The runner then calls
-- settled from its own frame: the C calls in it then stay in low slots,
-- rather than under two vararg frames.)
local function done(...) return keep_results(cur[1], ...) end

-- A task that waits keeps the runner's coroutine, whose stack doubles once
-- its frames and the 20 slots a C function is given (a wait) go past its
-- first 40: the task's function is called from the runner's lowest free
-- slot, so a closure that sleeps keeps a stack of the first size. It is
-- called as an index, not through a local: LuaJIT then gives it no name, as
-- it gives a coroutine's body none, where a local would lend it its own in
-- argument errors and tracebacks. keep_results or fail clears it.
function host.runner()
  while true do
    if R.first then -- set by the host before it resumes a runner
      if R.first == true then R.batch_end = R.tail end
      local stop = R.head + RING_CHUNK
      R.stop = stop < R.batch_end and stop or R.batch_end
      R.first = false
    end
    if take() then
      done(cur[1][3](start()))
      settled(cur[1])
    elseif R.head >= R.stop then
      if R.head >= R.tail then R.head, R.tail, R.stop, R.batch_end = 0, 0, 0, 0 end
      co_yield(IDLE)
    end
  end
end

-- With no task running (an abort listener fired by a timer), the owner
-- lent to the code that runs (ebb_lend_owner).
local function owner_now()
  local ct = cur[1]
  if ct then return rawget(ct, "owner") end
  return rawget(cur, "owner")
end

-- A timer task has fewer fields (no function, no arguments, no results):
-- many concurrent sleepers stay small.
local function timer_task(ms)
  check_ms(ms, 1, "sleep", "ms")
  local t = setmetatable({ "running", false }, TaskMT)
  local owner = owner_now()
  if owner then own(t, owner) end
  core.timer_task(t, ms)
  return t
end

-- The wait is called from the lowest free slot (its results go into the
-- arguments' slots: ok, reason), with no signal argument when there is
-- none: a closure that sleeps then keeps its coroutine's first stack (see
-- host.runner).
function task.sleep(ms, signal)
  check_ms(ms, 1, "sleep", "ms")
  if signal == nil then -- most sleeps have none: no call to check it
    ms, signal = c_sleep(ms)
  else
    check.opt_signal(signal, 2, "sleep")
    ms, signal = c_sleep(ms, signal)
  end
  if ms == false then error(signal, 0) end
end
local sleep = task.sleep

local function spawn_many(fn, n, ...) return new_task(fn, n, { ... }, owner_now()) end

-- spawn of a function with at most one argument: a fixed arity, so LuaJIT
-- can compile it on its own when it is called from code that is not
-- compiled (a loop that makes a closure per task); a vararg function never
-- starts a trace.
local function spawn_one(fn, n, a)
  if type(fn) ~= "function" then check_callable(fn, 1, "spawn") end
  if fn == sleep and n == 1 then -- a timer, no coroutine (bad input fails inside the task)
    if type(a) == "number" and a == a and a >= 0 then return timer_task(a) end
  end
  local t = setmetatable({ "pending", false, false, false }, TaskMT)
  t[0], t[3], t[4] = n, fn, a
  local ct, owner = cur[1], nil
  if ct then
    local c = rawget(ct, "ctx")
    if c then t.ctx = c end
    owner = rawget(ct, "owner")
  else
    owner = rawget(cur, "owner") -- lent, as owner_now says
  end
  if owner then own(t, owner) end
  local tail = R.tail + 1
  R.tail = tail
  R[tail] = t
  return t
end

function task.spawn(fn, ...)
  local n = select("#", ...)
  if n <= 1 then return spawn_one(fn, n, ...) end
  if type(fn) ~= "function" then check_callable(fn, 1, "spawn") end
  local t = spawn_many(fn, n, ...)
  enqueue(t)
  return t
end
local spawn = task.spawn

function task.delay(ms, fn, ...)
  check_ms(ms, 1, "delay", "ms")
  check_callable(fn, 2, "delay")
  local n = select("#", ...)
  local t
  if n <= 1 then t = new_task(fn, n, (...), owner_now())
  else t = new_task(fn, n, { ... }, owner_now()) end
  core.delay_timer(t, ms)
  return t
end

function task.current() return cur[1] end

-- The wait's results are taken into locals, not passed on as a call's
-- arguments: LuaJIT stitches a trace across a C function only at a call of
-- fixed arity, so a loop that yields stays compiled on both sides.
function task.yield()
  local ok, reason = c_yield()
  if ok == false then error(reason, 0) end
end

-- Runs fn(...) shielded from the current task's cancellation: its waits go on.
function task.shield(fn, ...)
  check_callable(fn, 1, "shield")
  c_shield(1)
  local r = { pcall(fn, ...) }
  c_shield(-1)
  if not r[1] then error(r[2], 0) end
  return unpack(r, 2, table.maxn(r))
end

-- ---- awaiting ----
local function results(t)
  if t[1] == "done" then
    local n = rawget(t, 0) or 0
    if n == 1 then return t[3] end
    if n == 0 then return end
    return unpack(t, 3, n + 2)
  end
  local e = rawget(t, "error")
  if type(e) ~= "table" then origins.remember(e, rawget(t, "traceback")) end
  error(e, 0)
end


local function waiters_of(t)
  local w = rawget(t, "waiters")
  if not w then
    w = waitlist()
    rawset(t, "waiters", w)
  end
  return w
end

function Task.await(t)
  if not is_task(t) then check.expected(t, 1, "await", "task") end
  check_own_abort()
  observe(t)
  if not finished(t) then
    if t == cur[1] then error("a task cannot await itself", 2) end
    local w = waiters_of(t)
    repeat -- the wait's results in locals: a trace goes on across the C call (see task.yield)
      local ok, reason = w:wait()
      if ok == false then error(reason, 0) end
    until finished(t)
  end
  return results(t)
end

function Task.cancel(t, reason)
  if not is_task(t) then check.expected(t, 1, "cancel", "task") end
  if finished(t) then return end
  if reason == nil then reason = AbortError("the task was cancelled") end
  local s = signal_of(t)
  if s.aborted then return end
  local was = t[1]
  rawset(t, "cancel_counted", true) -- until it ends, waits look for their task's own abort
  core.count_cancelled(1)
  abort_core.abort(s, reason)
  if finished(t) then return end
  if was == "pending" then -- it has not started, and now never will
    core.release(t) -- a delay not yet due: its timer goes
    fail(t, reason)
  elseif rawget(t, "tmr") then -- a timer task: nothing to run, it just ends
    fail(t, reason)
  elseif has_record(t) then
    core.cancel_record(t)
  end
end

-- The outcome without raising: true, results... or false, error, traceback.
function Task.result(t)
  if not is_task(t) then check.expected(t, 1, "result", "task") end
  observe(t)
  if not finished(t) then return nil end
  if t[1] == "done" then return true, results(t) end
  return false, rawget(t, "error"), rawget(t, "traceback")
end

-- ---- on first use: joins, combinators, futures ----
shared.observe, shared.waiters_of, shared.finished, shared.results = observe, waiters_of, finished, results
shared.check_own_abort = check_own_abort

-- Each stub tail-calls the function it stands for, so errors are placed
-- and tracebacks read as if it had been called directly.
local join, future -- ebb.task_join, ebb.task_future once loaded
local function joins()
  join = join or require "ebb.task_join"
  return join
end
function task.all(list) return (join or joins()).all(list) end
function task.all_settled(list) return (join or joins()).all_settled(list) end
function task.race(list) return (join or joins()).race(list) end
function task.any(list) return (join or joins()).any(list) end
function task.group(fn) return (join or joins()).group(fn) end
function task.timeout(ms, fn, ...) return (join or joins()).timeout(ms, fn, ...) end
function task._abortable(signal, fn, ...) return (join or joins())._abortable(signal, fn, ...) end

function task.future()
  future = future or require("ebb.task_future").future
  return future()
end

local interval -- ebb.task_interval's, once loaded
function task.interval(ms, fn, opts)
  interval = interval or require("ebb.task_interval").interval
  return interval(ms, fn, opts)
end

-- ---- for modules that start tasks themselves (ebb.queue) ----

-- A task that starts only when task._start(t) is called; hook:settled(t)
-- is called when it ends, however it ends.
function task._deferred(hook, fn, ...)
  local n = select("#", ...)
  local a
  if n <= 1 then a = (...) else a = { ... } end
  -- made with its hook, so with its hash part from the start (no second
  -- one for each job): ctx takes the other node (a queue's jobs measured
  -- 20% slower when it was left out)
  local t = setmetatable({ "pending", false, false, false, hook = hook, ctx = false },
    TaskMT)
  return fill_task(t, fn, n, a, owner_now())
end
task._start = enqueue

-- ---- for objects that hold something until their task ends (fs.lines' file) ----

-- The hook of a task that holds things: it tells the hook before it (a
-- queue's) first, then releases each thing still held. A release must not
-- wait or raise: it runs inside the task's end.
local Holds = {}
Holds.__index = Holds

function Holds:settled(t)
  local prev = self.prev
  if prev then prev:settled(t) end
  local held = self.held
  for v, release in pairs(held) do
    held[v] = nil
    release(v)
  end
end

-- _hold(v, release): release(v) is called when the running task ends, however
-- it ends, unless _let_go(v) was called first. Returns the task (nil outside one).
function task._hold(v, release)
  local t = cur[1]
  if not t then return nil end
  local h = rawget(t, "hook")
  if getmetatable(h) ~= Holds then
    h = setmetatable({ prev = h, held = setmetatable({}, { __mode = "k" }) }, Holds)
    t.hook = h
  end
  h.held[v] = release
  return t
end

function task._let_go(t, v)
  local h = t and rawget(t, "hook")
  if getmetatable(h) == Holds then h.held[v] = nil end
end

-- _unhold(obj): what an object that reads for a task holds goes: its signal's
-- listener (obj._off, the function on_abort returned) and its task's hold
-- (obj._task, what _hold returned); both fields become false.
function task._unhold(obj)
  local off = obj._off
  if off then
    obj._off = false
    off()
  end
  if obj._task then
    task._let_go(obj._task, obj)
    obj._task = false
  end
end

-- ---- for the host ----
local root
function host.spawn_root(fn, ...)
  root = spawn(fn, ...)
  observe(root)
end
function host.root_done() return root == nil or finished(root) end

return task
