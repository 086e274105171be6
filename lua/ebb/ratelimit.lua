-- ebb.ratelimit: how often something may happen: `rate` tokens every `per` ms, with
-- bursts of up to `burst`, kept as GCRA (one number: when the bucket is next empty
-- on ebb.clock); takes that must wait are served first come, first served.
local check = require "ebb.check"
local line = require "ebb.ratelimit_line"
local waiting = line.waiting
local clock_now = require("ebb.clock.core").now

local type, setmetatable, format, max = type, setmetatable, string.format, math.max

local ratelimit = {}
local RateLimiter = {}
local function check_limiter(l, fname) check.self(l, RateLimiter, fname, "rate limiter", 2) end

RateLimiter.__index = function(l, k)
  if k == "waiting" then
    check_limiter(l, "__index")
    return waiting(l)
  end
  return RateLimiter[k]
end

local EPSILON = 1e-6 -- ms: sums of fractional intervals round
-- ms: the longest a full burst may take to come back (about 31,700 years). Past it the
-- limit's times stop being numbers a clock or a Redis expiry can hold (rate = 1e-300
-- made the burst infinite: no limit at all).
local MAX_REFILL = 1e15

local function positive(v)
  if type(v) ~= "number" then return ": number expected, got " .. type(v) end
  if not (v > 0 and v <= 1e12) then return " must be a positive number, at most 1e12, got " .. tostring(v) end
end

-- The options both limiters share; `extra` adds a kind's own.
function ratelimit._options(opts, fname, extra)
  local valid = { rate = positive, burst = check.kind.whole(1, 2 ^ 31), per = positive }
  for k, v in pairs(extra or {}) do valid[k] = v end
  opts = check.options(opts, 1, fname, valid, 2)
  check.required(opts, { "rate" }, 1, fname, 2)
  local per, burst = opts.per or 1000, opts.burst or 1
  local interval = per / opts.rate
  if not (burst * interval <= MAX_REFILL) then
    check.badarg(1, fname, format("a full burst must come back within 1e15 ms (burst * per / rate), got %s",
      tostring(burst * interval)), 2)
  end
  return opts, { rate = opts.rate, per = per, burst = burst, interval = interval, tolerance = burst * interval }
end

-- How long until n tokens are there (0 or less: now), past the takes in line. The
-- debt (tat - now) is taken first: adding a large burst's tolerance to the clock's
-- value would round by more than EPSILON (a fresh limiter refusing its burst).
local function wait_for(l, n, now)
  return max(l._tat - now, 0) + n * l.interval - l.tolerance
end

-- The line's attempt: takes n tokens (nil), or says how long to wait. A take that
-- wakes late for tokens due at `_due` takes them as of then (if less than a token's
-- interval late): the timer's lateness does not lower the rate.
local function attempt(l, n)
  local now, due = clock_now(), l._due
  if due and now >= due and now - due < l.interval then now = due end
  local tat = max(l._tat, now)
  local ms = wait_for(l, n, now)
  if ms > EPSILON then
    l._due = now + ms
    return ms
  end
  l._tat, l._due = tat + n * l.interval, false
end

-- take([n] [, signal | opts]): waits until n tokens are there and takes them.
function RateLimiter:take(a, b)
  check_limiter(self, "take")
  local n, signal, timeout = line.take_args(a, b, self.burst, "take")
  line.take(self, n, signal, timeout, attempt)
end

-- try_take([n]) -> true, or false and the ms until n tokens would be there.
function RateLimiter:try_take(n)
  check_limiter(self, "try_take")
  if type(n) ~= "number" and n ~= nil then check.expected(n, 1, "try_take", "number") end
  n = line.take_args(n, nil, self.burst, "try_take")
  local now = clock_now()
  if line.empty(self) then
    local ms = attempt(self, n)
    if not ms then return true end
    return false, ms
  end
  return false, wait_for(self, self._queued + n, now)
end

function RateLimiter:__tostring()
  check_limiter(self, "__tostring")
  return format("RateLimiter (%s per %s ms, burst %d, %d waiting)", tostring(self.rate), tostring(self.per),
    self.burst, line.waiting(self))
end

function ratelimit.new(opts)
  local _, o = ratelimit._options(opts, "new")
  o._tat, o._due = -math.huge, false
  return setmetatable(line.init(o), RateLimiter)
end

-- redis{client=, key=, rate=, burst=, per=}: the same limit shared by every process.
function ratelimit.redis(opts)
  return require("ebb.ratelimit_redis").new(opts)
end

return ratelimit
