-- ebb.task: tasks, and the ways to combine them (all, race, any, all_settled,
-- group, timeout, future). A task is a Lua table; new tasks wait in a ring
-- that runner coroutines take them from, one after another, so a task that
-- never waits costs no crossing into C. One that waits gets a C record
-- (ebb.core) holding its coroutine, timer and cancellation.
local core = require "ebb.core"
local origins = require "ebb.host" -- where plain errors were raised
local errors = require "ebb.errors"
local check = require "ebb.check"
local abort_core = require "ebb.abort.core"
local clock_now = require("ebb.clock.core").now

local type, select, error, rawget, rawset, setmetatable, getmetatable, unpack =
  type, select, error, rawget, rawset, setmetatable, getmetatable, unpack
local co_yield = coroutine.yield
local table_new = require "table.new" -- LuaJIT's: a table sized up front
local AbortError, TimeoutError, AggregateError = errors.AbortError, errors.TimeoutError, errors.AggregateError
local c_sleep, c_yield, c_shield, check_abort, waitlist = core.sleep, core.yield, core.shield,
  core.check_abort, core.waitlist

local task = {}
local cur = core.cur       -- cur[1]: the running task (set by the runner and by C)
local IDLE = core.IDLE
local host = {}            -- what the host calls: boot wires these up
task._host = host

local live = {} -- tasks that belong to a spec (ebb test), while unfinished

-- Where a spec's task was made, for the report of what a spec left behind:
-- the first frame outside ebb's own modules, and the ebb function it called
-- there (net.listen's accept loop reads "made by listen at spec/x_spec.lua:5").
local getinfo = debug.getinfo

-- The name an ebb module gives fn, for a function called with no name of its
-- own (through pcall): "listen" for net.listen.
local function module_name_of(fn)
  for name, m in pairs(package.loaded) do
    if type(name) == "string" and name:sub(1, 4) == "ebb." and type(m) == "table" then
      for k, v in pairs(m) do
        if v == fn and type(k) == "string" then return k end
      end
    end
  end
end

local function made_at()
  local via
  for level = 3, 20 do
    local info = getinfo(level, "Slnf")
    if not info then return nil end
    if info.what ~= "C" then
      if info.source:sub(1, 5) ~= "@ebb/" then
        return ("made by %s at %s:%d"):format(via or "?", info.short_src, info.currentline)
      end
      via = info.name or module_name_of(info.func) or ("function <%s:%d>"):format(info.short_src, info.linedefined)
    end
  end
end

local function own(t, owner)
  t.owner = owner
  t.made_at = made_at()
  live[t] = true
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
    if rawget(t, "rec") then core.signal_made(t) end
  end
  return s
end

TaskMT.__index = function(t, k)
  local m = Task[k]
  if m ~= nil then return m end
  if k == "signal" then return signal_of(t) end
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


-- One template, so every task has the same small shape. Until it starts,
-- [1] is the function and [2] its argument (or a list of them, n > 1); once
-- it ends, [1..n] are its results. join is false, true (observed: someone
-- awaits it) or the join following it. Rarer fields (rec, tmr, owner,
-- waiters, joins, signal, error) are read raw.
-- Every field is a constant in the constructor: a table built from compiled
-- bytecode then gets its full size at once, and the stores below never
-- resize it.
local function new_task(fn, n, a, owner)
  local t = setmetatable({ false, false, status = "pending", n = 0, join = false, ctx = false, hook = false },
    TaskMT)
  t[1], t[2], t.n = fn, a, n
  local ct = cur[1] -- a task sees the context values of where it was made
  if ct then t.ctx = ct.ctx end
  if owner then own(t, owner) end
  return t
end

local function is_task(v) return getmetatable(v) == TaskMT end
task.is_task = is_task

local function finished(t)
  local st = t.status
  return st == "done" or st == "failed" or st == "cancelled"
end

local function raise_if_aborted(ok, reason)
  if ok == false then error(reason, 0) end
  return ok
end

-- The rule of every awaiting function: an aborted caller raises at once.
local function check_own_abort(signal)
  local ct = cur[1]
  local s = ct and rawget(ct, "signal")
  if (s and s.aborted) or signal ~= nil then raise_if_aborted(check_abort(signal)) end
end

-- level 2: the caller of the function that calls badarg; 3 from its helpers
local function badarg(n, fname, msg, level)
  check.badarg(n, fname, msg, level or 2)
end

local function check_callable(fn, n, fname)
  if type(fn) ~= "function" then check.callable(fn, n, fname, 2) end
end

local function check_ms(ms, n, fname)
  if type(ms) ~= "number" or not (ms >= 0 and ms <= 1e12) then check.ms(ms, n, fname, "ms", 2) end
end

local function check_signal(v, n, fname)
  if v ~= nil then check.signal(v, n, fname, nil, 2) end
end

-- ---- joins: one waiter told of many tasks as each ends, in that order ----
local Join = {}
Join.__index = Join

local function join_push(j, t)
  local tail = j.tail + 1
  j.tail = tail
  j.done[tail] = t
  if j.parked then -- wake the waiter once; it looks at all that ended
    j.parked = false
    j.wl:wake_all()
  end
end

local function observe(t)
  if t.join == false then t.join = true end
end

local function attach(j, t)
  local i = j.n + 1
  j.n = i
  j.tasks[i] = t
  local old = t.join
  if finished(t) then
    join_push(j, t)
    if not old then t.join = true end
  elseif old == false or old == true then
    t.join = j
  else
    local more = rawget(t, "joins")
    if not more then
      more = {}
      rawset(t, "joins", more)
    end
    more[#more + 1] = j
  end
end

-- ---- ending ----
local unhandled = {}

local function settled(t)
  if rawget(t, "rec") or rawget(t, "tmr") then core.release(t) end
  local j = t.join
  if j and j ~= true then
    join_push(j, t)
    local more = rawget(t, "joins")
    if more then
      for k = 1, #more do join_push(more[k], t) end
    end
  end
  local w = rawget(t, "waiters")
  if w then w:wake_all() end
  if rawget(t, "owner") then live[t] = nil end
  local h = t.hook -- an owner told of the end (a queue frees the job's slot)
  if h then h:settled(t) end
end

local function finish(t, ...)
  local n = select("#", ...)
  if n == 1 then
    t[1] = ...
  elseif n > 1 then
    for i = 1, n do t[i] = (select(i, ...)) end
  end
  if n < 2 then t[2] = nil end
  if n < 1 then t[1] = nil end
  t.n = n
  t.status = "done"
  settled(t)
end

-- A task ends with an error: its own cancellation reason means "cancelled".
local function fail(t, e, tb)
  if finished(t) then return end
  local s = rawget(t, "signal")
  local own = s ~= nil and s.aborted and rawequal(s.reason, e)
  t.status = own and "cancelled" or "failed"
  t[1], t[2] = nil, nil
  rawset(t, "error", e)
  rawset(t, "traceback", tb)
  if not own and not t.join then
    unhandled[#unhandled + 1] = t
    core.note_unhandled()
  end
  settled(t)
end

host.failed = fail
host.timer_done = function(t) -- a timer task; it keeps its small shape
  t.status = "done"
  settled(t)
end

-- Failed tasks nobody has looked at by the end of the turn.
function host.take_unhandled()
  local list = unhandled
  unhandled = {}
  local out = {}
  for i = 1, #list do
    if not list[i].join then out[#out + 1] = list[i] end
  end
  return out
end

-- ---- new tasks: the ring and its runners ----
local R = { head = 0, tail = 0, stop = 0, batch_end = 0 }
local RING_CHUNK = 1024 -- new tasks run between two looks at the clock (sched.c)
core.set_ring(R)

local function enqueue(t)
  local tail = R.tail + 1
  R.tail = tail
  R[tail] = t
end
host.enqueue = enqueue

-- The function is called as t[1], not through a local: LuaJIT then gives it
-- no name, as it gives a coroutine's body none, where a local would lend it
-- its own ('fn') in argument errors and tracebacks. finish or fail clears it.
local function run_one(t)
  cur[1] = t
  t.status = "running"
  local n, a = t.n, t[2]
  t[2] = nil
  if n == 0 then
    finish(t, t[1]())
  elseif n == 1 then
    finish(t, t[1](a))
  else
    finish(t, t[1](unpack(a, 1, n)))
  end
end

host.run_one = run_one

-- Every pooled coroutine runs this. An error in a task ends the coroutine;
-- the host then ends the task with it (host.failed), with no pcall per task.
-- Tasks started while the ring is being run go past its end; when most of
-- it has been taken, what is left moves down, so the ring stays small. A
-- batch's share (up to batch_end) is run in chunks (up to stop): between two
-- the host looks at the clock. first: true for a new batch, "more" for its
-- next chunk, false to go on with the chunk.
local function compact()
  local h, tail = R.head, R.tail
  for i = h + 1, tail do
    R[i - h] = R[i]
    R[i] = nil
  end
  R.head, R.tail, R.stop, R.batch_end = 0, tail - h, R.stop - h, R.batch_end - h
end

function host.runner(first)
  while true do
    if first then
      if first == true then R.batch_end = R.tail end
      local stop = R.head + RING_CHUNK
      R.stop = stop < R.batch_end and stop or R.batch_end
    end
    while R.head < R.stop do
      local head = R.head + 1
      R.head = head
      local t = R[head]
      R[head] = nil
      if head > 1024 and head * 2 > R.tail then compact() end
      if t.status == "pending" then run_one(t) end
    end
    if R.head >= R.tail then R.head, R.tail, R.stop, R.batch_end = 0, 0, 0, 0 end
    first = co_yield(IDLE)
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
  check_ms(ms, 1, "sleep")
  local t = setmetatable({ status = "running", join = false }, TaskMT)
  local owner = owner_now()
  if owner then own(t, owner) end
  core.timer_task(t, ms)
  return t
end

function task.sleep(ms, signal)
  check_ms(ms, 1, "sleep")
  if signal ~= nil then check_signal(signal, 2, "sleep") end
  raise_if_aborted(c_sleep(ms, signal))
end
local sleep = task.sleep

local function spawn_many(fn, n, ...) return new_task(fn, n, { ... }, owner_now()) end

function task.spawn(fn, ...)
  local n = select("#", ...)
  if type(fn) ~= "function" then check_callable(fn, 1, "spawn") end
  local t
  if n <= 1 then
    if fn == sleep and n == 1 then -- a timer, no coroutine (bad input fails inside the task)
      local ms = ...
      if type(ms) == "number" and ms == ms and ms >= 0 then return timer_task(ms) end
    end
    t = setmetatable({ false, false, status = "pending", n = 0, join = false, ctx = false, hook = false }, TaskMT)
    t[1], t[2], t.n = fn, (...), n
    local ct, owner = cur[1], nil
    if ct then
      t.ctx = ct.ctx
      owner = rawget(ct, "owner")
    else
      owner = rawget(cur, "owner") -- lent, as owner_now says
    end
    if owner then own(t, owner) end
  else
    t = spawn_many(fn, n, ...)
  end
  local tail = R.tail + 1
  R.tail = tail
  R[tail] = t
  return t
end
local spawn = task.spawn

function task.delay(ms, fn, ...)
  check_ms(ms, 1, "delay")
  check_callable(fn, 2, "delay")
  local n = select("#", ...)
  local t
  if n <= 1 then t = new_task(fn, n, (...), owner_now())
  else t = new_task(fn, n, { ... }, owner_now()) end
  core.delay_timer(t, ms)
  return t
end

function task.current() return cur[1] end

function task.yield()
  raise_if_aborted(c_yield())
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
  if t.status == "done" then
    local n = rawget(t, "n") or 0
    if n == 1 then return t[1] end
    if n == 0 then return end
    return unpack(t, 1, n)
  end
  local e = rawget(t, "error")
  if type(e) ~= "table" then origins.remember(e, rawget(t, "traceback")) end
  error(e, 0)
end

local function first_result(t)
  if (rawget(t, "n") or 0) == 0 then return nil end
  return t[1]
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
  if not is_task(t) then badarg(1, "await", "task expected, got " .. type(t)) end
  check_own_abort()
  observe(t)
  if not finished(t) then
    if t == cur[1] then error("a task cannot await itself", 2) end
    local w = waiters_of(t)
    repeat raise_if_aborted(w:wait()) until finished(t)
  end
  return results(t)
end

function Task.cancel(t, reason)
  if not is_task(t) then badarg(1, "cancel", "task expected, got " .. type(t)) end
  if finished(t) then return end
  if reason == nil then reason = AbortError("the task was cancelled") end
  local s = signal_of(t)
  if s.aborted then return end
  local was = t.status
  abort_core.abort(s, reason)
  if finished(t) then return end
  if was == "pending" then -- it has not started, and now never will
    core.release(t) -- a delay not yet due: its timer goes
    fail(t, reason)
  elseif rawget(t, "tmr") then -- a timer task: nothing to run, it just ends
    fail(t, reason)
  elseif rawget(t, "rec") then
    core.cancel_record(t)
  end
end

-- The outcome without raising: true, results... or false, error, traceback.
function Task.result(t)
  if not is_task(t) then badarg(1, "result", "task expected, got " .. type(t)) end
  observe(t)
  if not finished(t) then return nil end
  if t.status == "done" then return true, results(t) end
  return false, rawget(t, "error"), rawget(t, "traceback")
end

-- ---- combinators ----
local function new_join(size)
  local j = setmetatable({ tasks = false, n = 0, done = false, head = 0, tail = 0, parked = false, wl = false }, Join)
  j.tasks, j.done = table_new(size or 4, 0), table_new(size or 4, 0)
  return j
end

local function join_list(list, fname)
  if type(list) ~= "table" then
    badarg(1, fname, "list of tasks or functions expected, got " .. type(list), 3)
  end
  for i = 1, #list do
    local v = list[i]
    if type(v) ~= "function" and not is_task(v) then
      badarg(1, fname, "item " .. i .. " is not a task or function", 3)
    end
  end
  local j = new_join(#list)
  for i = 1, #list do
    local v = list[i]
    attach(j, type(v) == "function" and spawn(v) or v)
  end
  return j
end

function Join:add(v)
  if type(v) == "function" then v = spawn(v)
  elseif not is_task(v) then badarg(1, "add", "task or function expected, got " .. type(v)) end
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
      if t.join == self then
        t.join = more and #more > 0 and table.remove(more) or true
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

function task.all(list)
  check_own_abort()
  local j = join_list(list, "all")
  local n, done = j.n, j.done
  while true do -- look at each task as it ends; stop at the first failure
    local tail = j.tail
    for k = j.head + 1, tail do
      local t = done[k]
      if t.status ~= "done" then
        j:cancel(AbortError("another task of task.all failed", { cause = rawget(t, "error") }))
        j:detach()
        results(t) -- raises its error, keeping where it was raised
      end
    end
    j.head = tail
    if tail >= n then break end
    local ok, reason = park(j)
    if ok == false then -- the caller was cancelled: every task is a loser
      j:cancel(reason)
      error(reason, 0)
    end
  end
  local out, tasks = table_new(n, 0), j.tasks
  for i = 1, n do
    local t = tasks[i]
    if t.n ~= 0 then out[i] = t[1] end
  end
  return out
end

function task.all_settled(list)
  check_own_abort()
  local j = join_list(list, "all_settled")
  for _ = 1, j.n do next_ended(j) end
  local out = {}
  for i = 1, j.n do
    local t = j.tasks[i]
    if t.status == "done" then out[i] = { ok = true, value = first_result(t) }
    else out[i] = { ok = false, error = rawget(t, "error") } end
  end
  return out
end

function task.race(list)
  check_own_abort()
  local j = join_list(list, "race")
  if j.n == 0 then badarg(1, "race", "empty list") end
  local t = next_ended(j)
  j:cancel(AbortError("lost the race"))
  j:detach()
  return results(t)
end

function task.any(list)
  check_own_abort()
  local j = join_list(list, "any")
  for _ = 1, j.n do
    local t = next_ended(j)
    if t.status == "done" then
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
  if getmetatable(self) ~= Group then badarg(1, "spawn", "group expected") end
  if self.closed then error("the group has ended: no new tasks", 2) end
  check_callable(fn, 1, "spawn")
  local t = spawn(fn, ...)
  attach(self.join, t)
  return t
end

local traced = origins.traced

function task.group(fn)
  if type(fn) ~= "function" then badarg(1, "group", "function expected, got " .. type(fn)) end
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
      if first == nil and t.status == "failed" then
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
function task.timeout(ms, fn, ...)
  check_ms(ms, 1, "timeout")
  check_callable(fn, 2, "timeout")
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

-- ---- futures ----
local Future = {}
Future.__index = function(f, k)
  if k == "settled" then return rawget(f, "_state") ~= nil end
  return Future[k]
end

local function check_future(f, fname)
  if getmetatable(f) ~= Future then badarg(1, fname, "future expected", 2) end
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
    if type(opts) ~= "table" then badarg(1, "await", "table of options expected, got " .. type(opts)) end
    signal, timeout = opts.signal, opts.timeout
    check_signal(signal, 1, "await")
    if timeout ~= nil then check.ms(timeout, 1, "await", "option 'timeout'") end
  end
  raise_if_aborted(check_abort(signal))
  local deadline = timeout and clock_now() + timeout
  while not self._state do
    local left = deadline and math.max(0, deadline - clock_now())
    local ok, reason = self._waiters:wait(signal, left)
    if ok == nil then error(TimeoutError("the future was not settled within " .. timeout .. " ms"), 2) end
    raise_if_aborted(ok, reason)
  end
  if self._state == "error" then error(self._error, 0) end
  return unpack(self._values, 1, self._n)
end

function task.future()
  return setmetatable({ _waiters = waitlist() }, Future)
end

-- ---- for modules given a signal that must reach code they do not own ----

-- Runs fn(...) in a task of its own that an abort of `signal` cancels with
-- its reason, and waits for it: the signal counts as listened to while fn
-- runs (ebb.shutdown's first SIGINT aborts it instead of ending the process),
-- and the abort reaches fn whatever it waits on. fn's results, or its error.
function task._abortable(signal, fn, ...)
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

-- ---- for modules that start tasks themselves (ebb.queue) ----

-- A task that starts only when task._start(t) is called; hook:settled(t)
-- is called when it ends, however it ends.
function task._deferred(hook, fn, ...)
  local n = select("#", ...)
  local t
  if n <= 1 then t = new_task(fn, n, (...), owner_now())
  else t = new_task(fn, n, { ... }, owner_now()) end
  t.hook = hook
  return t
end
task._start = enqueue

-- ---- for the host and ebb test ----
local root
function host.spawn_root(fn, ...)
  root = spawn(fn, ...)
  observe(root)
end
function host.root_done() return root == nil or finished(root) end

-- ebb test: the tasks of a spec (owner), made and followed.
function task._own(t, owner)
  rawset(t, "owner", owner)
  live[t] = true
end
function task._live(owner)
  local out = {}
  for t in pairs(live) do
    if rawget(t, "owner") == owner and t ~= cur[1] then out[#out + 1] = t end
  end
  return out
end
-- Waits for t at most ms of real time: true once it has ended, nil on timeout.
function task._await_real(t, ms)
  observe(t)
  local w = waiters_of(t)
  while not finished(t) do
    local ok, reason = w:wait_real(ms)
    if ok == nil then return nil end
    if ok == false then error(reason, 0) end
  end
  return true
end
task._results = results
task._finished = finished

return task
