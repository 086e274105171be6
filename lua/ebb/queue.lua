-- ebb.queue: a concurrency limiter. Jobs wait as tasks that have not started
-- (no coroutine each), in FIFO buckets per priority: O(1) per job.
local core = require "ebb.core"
local task = require "ebb.task"
local errors = require "ebb.errors"
local check = require "ebb.check"

local type, error, setmetatable, rawget, rawset = type, error, setmetatable, rawget, rawset
local deferred, start, waitlist, check_abort = task._deferred, task._start, core.waitlist, core.check_abort

local queue = {}
local Queue = {}
Queue.__index = function(q, k)
  if k == "pending" then return rawget(q, "_pending") end
  if k == "active" then return rawget(q, "_active") end
  if k == "concurrency" then return rawget(q, "_concurrency") end
  if k == "paused" then return rawget(q, "_paused") end
  return Queue[k]
end

local function check_queue(q, fname)
  check.self(q, Queue, fname, "queue", 2)
end

local concurrency_wrong = check.kind.count(1)

local function check_concurrency(n, fname)
  local why = concurrency_wrong(n)
  if why then check.badarg(1, fname, "concurrency" .. why, 2) end
end

-- ---- buckets: one FIFO per priority, the priorities kept sorted high to low ----

local function bucket_of(q, prio)
  local b = q._buckets[prio]
  if b then return b end
  b = { head = 0, tail = 0, prio = prio }
  q._buckets[prio] = b
  local order = q._order
  local i = #order
  while i > 0 and order[i].prio < prio do
    order[i + 1] = order[i]
    i = i - 1
  end
  order[i + 1] = b
  return b
end

-- An emptied first bucket goes (the last one stays, for reuse): priorities
-- used once (fractional, time-based) neither pile up nor are walked again.
local function drop_first(q, b)
  table.remove(q._order, 1)
  q._buckets[b.prio] = nil
end

-- The next job that is still waiting to start, highest priority first (a
-- task's [1] is its status: see ebb.task's template).
local function take(q)
  local order = q._order
  while true do
    local b = order[1]
    if not b then return nil end
    while b.head < b.tail do
      local h = b.head + 1
      b.head = h
      local t = b[h]
      b[h] = nil
      if t[1] == "pending" and t.hook == q._waiting then return t end
    end
    b.head, b.tail = 0, 0
    if #order == 1 then return nil end
    drop_first(q, b)
  end
end

local function wake_idle(q)
  if q._pending == 0 and q._active == 0 and q._idle then
    local wl = q._idle
    q._idle = false
    wl:wake_all()
  end
end

-- Closures live in these helpers, not in the hot functions: a function with
-- a captured local cannot be compiled by LuaJIT's JIT here (UCLO).
local function job_timeout(t, ms)
  return task.delay(ms, function()
    t:cancel(errors.TimeoutError("the job timed out after " .. ms .. " ms"))
  end)
end

local function cancel_on_abort(signal, t)
  rawset(t, "q_off", signal:on_abort(function(reason) t:cancel(reason) end))
end

-- A job has ended: the listener on its signal goes with it.
local function forget_signal(t)
  local off = rawget(t, "q_off")
  if off then
    rawset(t, "q_off", nil)
    off()
  end
end

-- The first bucket's next job, else the slow way: no loop runs on the usual
-- path, so the JIT compiles the whole of a job's end and the next's start.
local function take_next(q)
  local b = q._order[1]
  if b then
    local h = b.head
    if h < b.tail then
      h = h + 1
      b.head = h
      local t = b[h]
      b[h] = nil
      if h == b.tail and q._order[2] then drop_first(q, b) end -- emptied, and not the last
      if t[1] == "pending" and t.hook == q._waiting then return t end
    end
  end
  return take(q)
end

-- Starts one job if a slot is free; false when none could start.
local function start_one(q)
  if q._paused or q._active >= q._concurrency or q._pending <= 0 then return false end
  local t = take_next(q)
  if not t then
    q._pending = 0
    return false
  end
  q._pending = q._pending - 1
  q._active = q._active + 1
  t.hook = q._started -- from now on its end frees a slot
  local ms = rawget(t, "q_timeout")
  if ms then -- counted from the start: past it, the job is cancelled with a TimeoutError
    rawset(t, "q_timer", job_timeout(t, ms))
  end
  start(t)
  return true
end

local function dispatch(q)
  while start_one(q) do end
  wake_idle(q)
end

-- A job's task ends: a waiting one (cancelled) tells its hook, the queue's
-- Waiting...
local Waiting = {}
Waiting.__index = Waiting

function Waiting:settled(t)
  local q = self.q
  forget_signal(t)
  if not rawget(t, "q_counted") then q._pending = q._pending - 1 end
  if not start_one(q) then wake_idle(q) end
end

-- ...and a started one the queue's Started.
local Started = {}
Started.__index = Started

function Started:settled(t)
  local q = self.q
  local timer = rawget(t, "q_timer")
  if timer then timer:cancel() end -- its timeout goes
  forget_signal(t)
  q._active = q._active - 1
  if not start_one(q) then wake_idle(q) end
end

local kind = check.kind
local JOB = {
  signal = kind.signal, timeout = kind.ms,
  priority = kind.priority,
}

-- Errors are raised at the caller of push/run: check_opts < enqueue < push/run.
local function check_opts(opts, fname)
  if opts == nil then return nil, nil, 0 end
  check.options(opts, 2, fname, JOB, 3)
  return opts.signal, opts.timeout, opts.priority or 0
end

local function enqueue(q, fname, fn, opts, awaiting)
  if type(fn) ~= "function" then check.expected(fn, 1, fname, "function", 2) end
  local signal, timeout, priority = check_opts(opts, fname)
  if signal and signal.aborted then error(signal.reason, 0) end
  if awaiting then -- run waits: a caller already cancelled queues nothing
    check.raise_if_aborted(check_abort())
  end
  local t = deferred(q._waiting, fn)
  if timeout then rawset(t, "q_timeout", timeout) end
  local b = bucket_of(q, priority)
  local tail = b.tail + 1
  b.tail = tail
  b[tail] = t
  q._pending = q._pending + 1
  if signal then -- aborted while waiting or while running: the job ends with the reason
    cancel_on_abort(signal, t)
  end
  dispatch(q)
  return t
end

-- push(fn [, opts]) -> Task; the job counts as pending when push returns.
function Queue:push(fn, opts)
  check_queue(self, "push")
  local t = enqueue(self, "push", fn, opts) -- not a tail call: errors point at push's caller
  return t
end

-- run(fn [, opts]) -> fn's results, or raises its error.
local function ran(t, ok, ...)
  if ok then return ... end
  local e = ...
  local st = t[1] -- its status, read raw (ebb.task keeps it at [1])
  if st == "pending" or st == "running" then t:cancel(e) end -- the caller was cancelled: so is its job
  error(e, 0)
end

function Queue:run(fn, opts)
  check_queue(self, "run")
  local t = enqueue(self, "run", fn, opts, true)
  return ran(t, pcall(t.await, t))
end

function Queue:set_concurrency(n)
  check_queue(self, "set_concurrency")
  check_concurrency(n, "set_concurrency")
  self._concurrency = n
  dispatch(self)
end

function Queue:pause()
  check_queue(self, "pause")
  self._paused = true
end

function Queue:resume()
  check_queue(self, "resume")
  self._paused = false
  dispatch(self)
end

-- Waits until nothing is pending or active.
function Queue:idle(signal)
  check_queue(self, "idle")
  check.opt_signal(signal, 1, "idle")
  check.raise_if_aborted(check_abort(signal)) -- aborted: raises even when already idle
  while self._pending > 0 or self._active > 0 do
    local wl = self._idle
    if not wl then
      wl = waitlist()
      self._idle = wl
    end
    check.raise_if_aborted(wl:wait(signal))
  end
end

-- Fails every job still waiting to start with reason (an AbortError by default).
function Queue:clear(reason)
  check_queue(self, "clear")
  if reason == nil then reason = errors.AbortError("the queue was cleared") end
  local order = self._order
  self._order, self._buckets = {}, {}
  for i = 1, #order do
    local b = order[i]
    for k = b.head + 1, b.tail do
      local t = b[k]
      if t[1] == "pending" and t.hook == self._waiting then
        rawset(t, "q_counted", true)
        self._pending = self._pending - 1
        t:cancel(reason)
      end
    end
  end
  self._pending = 0
  wake_idle(self)
end

function Queue:__tostring()
  check_queue(self, "__tostring")
  return ("Queue (%d active of %s, %d pending%s)"):format(self._active, tostring(self._concurrency),
    self._pending, self._paused and ", paused" or "")
end

function queue.new(concurrency)
  check_concurrency(concurrency, "new")
  local q = setmetatable({
    _concurrency = concurrency, _pending = 0, _active = 0, _paused = false, _idle = false,
    _buckets = {}, _order = {}, _waiting = false, _started = false,
  }, Queue)
  q._waiting, q._started = setmetatable({ q = q }, Waiting), setmetatable({ q = q }, Started)
  return q
end

return queue
