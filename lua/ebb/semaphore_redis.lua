-- ebb.semaphore_redis: permits shared by every process that uses the same Redis key,
-- waiters served first come first served through a queue of tickets on the server.
-- The scripts (semaphore_redis_scripts) decide; this side waits, renews and tells.
local task = require "ebb.task"
local abort = require "ebb.abort"
local check = require "ebb.check"
local errors = require "ebb.errors"
local clock = require "ebb.clock"
local core = require "ebb.core"
local scripts = require "ebb.semaphore_redis_scripts"
local grants = require "ebb.semaphore_redis_grants"

local type, pairs, error, pcall, setmetatable, format, random, min, max =
  type, pairs, error, pcall, setmetatable, string.format, math.random, math.min, math.max
local kind, now, waitlist, check_abort = check.kind, clock.now, core.waitlist, core.check_abort

local M = {}
local LeaseLostError = require("ebb.semaphore").LeaseLostError

local RedisSemaphore = {}
RedisSemaphore.__index = RedisSemaphore
local RedisLease = {}
RedisLease.__index = RedisLease

local OPTIONS = {
  client = require("ebb.redis")._client_kind,
  key = kind.string, permits = kind.whole(1, 2 ^ 31), lease = kind.whole(30, 1e9),
}
local ACQUIRE_OPTIONS = { signal = kind.signal, timeout = kind.ms }

local function check_sem(s, fname) check.self(s, RedisSemaphore, fname, "redis semaphore", 2) end

-- 16 hex digits no other process draws: the holders' and waiters' ids start with them
-- (math.random starts from the same seed in every process).
local function unique_prefix()
  local f = io.open("/dev/urandom", "rb")
  local bytes = f and f:read(8)
  if f then f:close() end
  if not bytes or #bytes < 8 then
    bytes = tostring({}) .. os.time() .. os.clock() .. random()
  end
  return (bytes:gsub(".", function(c) return format("%02x", c:byte()) end)):sub(1, 16)
end

function M.new(opts)
  opts = check.options(opts, 1, "redis", OPTIONS)
  check.required(opts, { "client", "key", "permits" }, 1, "redis")
  local key = opts.key
  return setmetatable({
    client = opts.client, key = key, permits = opts.permits, lease = opts.lease or 10000,
    channel = key .. ":grants", _keys = { key .. ":holders", key .. ":queue", key .. ":deadlines", key .. ":seq" },
    _prefix = unique_prefix(), _count = 0,
    _waiters = {}, waiting = 0, _holding = {}, held = 0, lost = 0, closed = false, _reason = nil,
    _listening = nil,
  }, RedisSemaphore)
end

local function run(self, script, id, signal, first)
  return script:run(self.client, self._keys, { self.permits, self.channel, id, first and 1 or 0 }, signal)
end

local ConnectionError = require("ebb.redis").ConnectionError

local function aborted(signal)
  if signal and signal.aborted then return true end
  local t = task.current()
  return t ~= nil and t.signal.aborted
end

-- A lost connection, a server that cannot be reached or stopped answering: what
-- the waits and the renewals ride out while the lease or the ticket may live.
local function transient(e, signal)
  if aborted(signal) then return false end
  return errors.is(e, ConnectionError) or errors.is(e, errors.SystemError) or errors.is(e, errors.TimeoutError)
end

-- How long taking an id out may wait for a server that is gone or stopped
-- answering: its lease or ticket then ends by itself.
local function leave_bound(self) return min(self.lease, 2000) end

-- Takes id out of the server's sets, holder or waiter: -> true, 1 when it held a
-- permit. Waits for the answer even in a task being cancelled.
local function leave(self, id)
  return task.shield(pcall, task.timeout, leave_bound(self), run, self, scripts.leave, id)
end

-- The same, in a task of its own, which a guard ends after the bound. By EVAL,
-- not EVALSHA: a script not loaded yet would go after a SCRIPT LOAD, behind the
-- caller's next commands.
local function leave_in_task(self, ids)
  local guard = task.delay(leave_bound(self), task.Task.cancel, task.current())
  local k = self._keys
  for i = 1, #ids do
    pcall(self.client.command, self.client, "EVAL", scripts.leave.source, 4, k[1], k[2], k[3], k[4],
      self.permits, self.channel, ids[i], 0)
  end
  guard:cancel()
end

-- Takes ids out without waiting (a give-up is not held up by a slow server), but
-- after the command is written, so it goes before the caller's next ones.
local function leave_soon(self, ids)
  task.spawn(leave_in_task, self, ids)
  task.shield(task.yield)
end

local function idle_check(self)
  if self.waiting == 0 and self.held == 0 then grants.idle(self) end
end

-- The lease is no longer this object's: its renewals stop.
local function forget(self, lease)
  self._holding[lease.id] = nil
  self.held = self.held - 1
  if lease._renewer ~= task.current() then lease._renewer:cancel() end
end

local function lose(self, lease, cause)
  forget(self, lease)
  idle_check(self)
  self.lost = self.lost + 1
  lease._controller:abort(LeaseLostError(format("the lease of a permit of semaphore '%s' was lost%s", self.key,
    cause and "" or " (it ended before it was renewed)"), { cause = cause }))
end

-- Renews the lease every third of it. A failed renewal is tried again until the
-- lease would have ended by this process's clock (counted from when the last
-- successful renewal was sent: never later than the server's end).
local function renew_loop(self, lease)
  local period = self.lease / 3
  local wait = period
  while true do
    task.sleep(wait)
    local left = lease._until - now()
    if left <= 0 then return lose(self, lease, lease._failure) end
    local sent = now()
    local ok, r = pcall(task.timeout, left, run, self, scripts.renew, lease.id)
    if ok and r == 0 then return lose(self, lease, nil) end
    if ok then
      lease._until, lease._failure, wait = sent + self.lease, nil, period
    elseif transient(r) then
      lease._failure, wait = r, min(period / 4, max(0, lease._until - now()))
    else
      return lose(self, lease, r)
    end
  end
end

-- since: when the ask that was granted was sent (the lease cannot have started before).
local function hold(self, id, since)
  self._count = self._count + 1
  local c = abort.controller()
  local lease = setmetatable({ id = id, signal = c.signal, semaphore = self, _controller = c,
    _until = since + self.lease, _n = self._count, _failure = nil, _renewer = nil }, RedisLease)
  self._holding[id] = lease
  self.held = self.held + 1
  lease._renewer = task.spawn(renew_loop, self, lease)
  return lease
end

local function next_id(self)
  self._count = self._count + 1
  return format("%d:%s:%d", self.lease, self._prefix, self._count)
end

-- Asks the server again: -> the time the ask was sent when it was granted, else nil
-- (the ticket lives on from then: w.asked). A failure is raised unless the
-- server is only out of reach and the ticket may still live.
local function ask(self, w, signal)
  local sent = now()
  local ok, r = pcall(run, self, scripts.acquire, w.id, signal, w.asked == -1 / 0)
  if ok then
    if r > 0 then return sent end
    w.asked = sent
  elseif not transient(r, signal) or now() - w.asked > self.lease then
    error(r, 0)
  end
end

-- Waits for the waiter's grant: a message names it, or (the fallback for a lost
-- message) asking again every third of a lease finds it held; asking again also
-- keeps the ticket alive. -> when the ask that was granted was sent.
local function wait_turn(self, w, signal, subscribed)
  local period = self.lease / 3
  while true do
    if not subscribed then
      subscribed = grants.start(self, signal)
      -- grants made before the subscription was open were not heard: ask once more
      local since = subscribed and ask(self, w, signal)
      if since then return since end
    end
    if w.granted then return w.asked end
    if self.closed then error(self._reason, 0) end
    local ok, reason = w.wl:wait(signal, period * (0.9 + 0.2 * random()))
    if ok == false then error(reason, 0) end
    if self.closed then error(self._reason, 0) end
    if w.granted then return w.asked end
    if ok == nil then
      if self._listening == nil then subscribed = false end
      local since = ask(self, w, signal)
      if since then return since end
    end
  end
end

local function acquire_options(self, a)
  local signal, timeout = a, nil
  if type(a) == "table" then
    local o = check.options(a, 1, "acquire", ACQUIRE_OPTIONS, 2)
    signal, timeout = o.signal, o.timeout
  elseif a ~= nil and not check.is_signal(a) then
    check.badarg(1, "acquire", "abort signal or table of options expected, got " .. type(a), 2)
  end
  return signal, timeout
end

local function drop_waiter(self, id)
  self._waiters[id] = nil
  self.waiting = self.waiting - 1
end

-- acquire([signal | {signal=, timeout=}]) -> a RedisLease once a permit is this
-- task's: at once when one is free and nobody waits, else after the tickets ahead.
local function acquire_within(self, signal)
  local ok, reason = check_abort(signal)
  if ok == false then error(reason, 0) end
  if self.closed then error(self._reason, 0) end
  local id = next_id(self)
  -- known before asking, so a grant published before the answer is not missed
  -- (asked: never, so a failure of the first ask is raised at once)
  local w = { id = id, wl = waitlist(), granted = nil, asked = -1 / 0 }
  self._waiters[id] = w
  self.waiting = self.waiting + 1
  local listening = self._listening ~= nil and self._listening.sub ~= nil
  local got, since = pcall(ask, self, w, signal)
  if got and not since then got, since = pcall(wait_turn, self, w, signal, listening) end
  drop_waiter(self, id)
  if got then return hold(self, id, since) end
  leave_soon(self, { id }) -- gave up (or the reply was lost): no ticket or permit stays behind
  idle_check(self)
  error(since, 0)
end

function RedisSemaphore:acquire(a)
  check_sem(self, "acquire")
  local signal, timeout = acquire_options(self, a)
  if not timeout then return acquire_within(self, signal) end
  return abort._within(timeout, signal, acquire_within, self)
end

-- try_acquire() -> a RedisLease when a permit is free and nobody waits; false otherwise.
function RedisSemaphore:try_acquire()
  check_sem(self, "try_acquire")
  if self.closed then return false end
  local id = next_id(self)
  local sent = now()
  local ok, r = pcall(run, self, scripts.try_acquire, id)
  if not ok then
    leave_soon(self, { id })
    error(r, 0)
  end
  if r == 0 then return false end
  return hold(self, id, sent)
end

local function latest(self)
  local last
  for _, l in pairs(self._holding) do
    if last == nil or l._n > last._n then last = l end
  end
  return last
end

-- release([lease]) -> true when the server took the permit back now; false when it
-- was not held here (released already, or lost).
function RedisSemaphore:release(lease)
  check_sem(self, "release")
  if lease == nil then
    lease = latest(self)
    if lease == nil then check.badarg(1, "release", "nothing is held") end
  elseif debug.getmetatable(lease) ~= RedisLease then
    check.expected(lease, 1, "release", "redis semaphore lease")
  end
  if lease.semaphore ~= self then check.badarg(1, "release", "the lease is another semaphore's") end
  if self._holding[lease.id] ~= lease then return false end
  forget(self, lease)
  local ok, was = leave(self, lease.id)
  idle_check(self)
  return ok and was == 1
end

local function finish(self, lease, ok, ...)
  self:release(lease)
  if not ok then error((...), 0) end
  return ...
end

-- with(fn, ...): fn(...) holding a permit, run in a task of its own that a lost
-- lease cancels (with the LeaseLostError); the permit goes back however fn ends.
function RedisSemaphore:with(fn, ...)
  check_sem(self, "with")
  check.callable(fn, 1, "with")
  local lease = self:acquire()
  return finish(self, lease, pcall(task._abortable, lease.signal, fn, ...))
end

-- close([reason]): the waiters fail with reason, and later acquires; what is held
-- here goes back to the server (from a task of its own: close never waits).
function RedisSemaphore:close(reason)
  check_sem(self, "close")
  if self.closed then return end
  self.closed = true
  self._reason = reason or errors.new("the semaphore is closed", { name = "ClosedError" })
  for _, w in pairs(self._waiters) do w.wl:wake_all() end
  grants.stop(self)
  local ids = {}
  for id, lease in pairs(self._holding) do
    forget(self, lease)
    ids[#ids + 1] = id
  end
  if #ids > 0 then task.spawn(leave_in_task, self, ids) end
end
RedisSemaphore.__close = RedisSemaphore.close

function RedisSemaphore:__tostring()
  check_sem(self, "__tostring")
  return format("RedisSemaphore (%s, %d permits, %d held here, %d waiting here)", self.key, self.permits,
    self.held, self.waiting)
end

local function check_lease(l, fname) check.self(l, RedisLease, fname, "redis semaphore lease", 2) end

function RedisLease:release()
  check_lease(self, "release")
  return self.semaphore:release(self)
end
RedisLease.__close = RedisLease.release

function RedisLease:__tostring()
  check_lease(self, "__tostring")
  local s = self.semaphore
  local state = s._holding[self.id] == self and "held" or (self.signal.aborted and "lost" or "released")
  return format("RedisLease (%s, %s)", s.key, state)
end

return M
