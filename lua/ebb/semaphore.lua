-- ebb.semaphore: weighted permits with strict FIFO waiting; the state and the
-- waiting live in C (ebb.semaphore.core), with() is the Lua around them.
local core = require "ebb.semaphore.core"
local errors = require "ebb.errors"
local check = require "ebb.check"

local c_acquire, c_release, c_try = core.acquire, core.release, core.try_acquire
local type, error, pcall, select, unpack, getmetatable = type, error, pcall, select, unpack, debug.getmetatable

local semaphore = {}
local Semaphore = {}
local c_state = core.state
core.set_index(function(sem, k)
  local m = Semaphore[k]
  if m ~= nil then return m end
  if k == "available" then return (c_state(sem)) end
  if k == "waiting" then return (select(2, c_state(sem))) end
  if k == "closed" then return (select(3, c_state(sem))) end
end)

-- (n, signal), (signal) or (): n defaults to 1.
local function count_and_signal(a, b)
  if type(a) == "number" then return a, b end
  if a == nil then return 1, b end
  return 1, a
end

local SemaphoreMT = getmetatable(core.new(0))
local MAX = check.MAX_WHOLE

-- The checks cost a comparison when the arguments are good (this is the hot path).
function Semaphore:acquire(a, b)
  if getmetatable(self) ~= SemaphoreMT then check.self(self, SemaphoreMT, "acquire", "semaphore") end
  local n, signal = count_and_signal(a, b)
  if n ~= 1 then check.whole(n, 1, "acquire", "n", 1, MAX) end
  if signal ~= nil then check.opt_signal(signal, rawequal(a, signal) and 1 or 2, "acquire") end
  local ok, reason
  if n == 1 and signal == nil then ok, reason = c_acquire(self) -- the C half then reads no more
  else ok, reason = c_acquire(self, n, signal) end
  if not ok then
    if ok == nil then check.badarg(1, "acquire", "n is more than the semaphore's permits") end
    error(reason, 0)
  end
end

function Semaphore:try_acquire(n)
  if getmetatable(self) ~= SemaphoreMT then check.self(self, SemaphoreMT, "try_acquire", "semaphore") end
  if n ~= nil and n ~= 1 then check.whole(n, 1, "try_acquire", "n", 1, MAX) end
  return c_try(self, n == nil and 1 or n)
end

function Semaphore:release(n)
  if getmetatable(self) ~= SemaphoreMT then check.self(self, SemaphoreMT, "release", "semaphore") end
  if n ~= nil and n ~= 1 then check.whole(n, 1, "release", "n", 1, MAX) end
  local refused
  if n == nil then refused = c_release(self) else refused = c_release(self, n) end
  if refused then error(refused, 2) end
end

function Semaphore:close(reason)
  check.self(self, SemaphoreMT, "close", "semaphore")
  if reason == nil then reason = errors.new("the semaphore is closed", { name = "ClosedError" }) end
  core.close(self, reason)
end

local function finish(self, ok, ...)
  local refused = c_release(self) -- fn released more than it took: at with's caller
  if not ok then error((...), 0) end
  if refused then error(refused, 2) end
  return ...
end

-- Runs fn(...) holding one permit; it is released however fn ends (an error,
-- or the task's cancellation raised inside it).
function Semaphore:with(fn, ...)
  check.self(self, SemaphoreMT, "with", "semaphore")
  check.callable(fn, 1, "with")
  local ok, reason = c_acquire(self)
  if not ok then
    if ok == nil then check.badarg(1, "with", "a semaphore of 0 permits has none to hold") end
    error(reason, 0)
  end
  return finish(self, pcall(fn, ...))
end

function semaphore.new(permits)
  return core.new(permits)
end

-- redis{client=, key=, permits=, lease=}: permits shared across processes through Redis.
function semaphore.redis(opts)
  return require("ebb.semaphore_redis").new(opts)
end

-- What a semaphore.redis lease's signal aborts with when the lease was lost.
semaphore.LeaseLostError = errors.class("LeaseLostError")

return semaphore
