-- ebb.retry: calling a function again after it fails, with exponential backoff and
-- jitter (none, full, equal, decorrelated), deadlines, abort signals and shared budgets.
local task = require "ebb.task"
local clock = require "ebb.clock"
local errors = require "ebb.errors"
local core = require "ebb.core"
local check = require "ebb.check"
local bit = require "bit"

local type, error, xpcall, tostring, getmetatable, setmetatable, pairs =
  type, error, xpcall, tostring, debug.getmetatable, setmetatable, pairs
local min, floor, ldexp, huge = math.min, math.floor, math.ldexp, math.huge
local check_abort, sleep, now, TimeoutError = core.check_abort, task.sleep, clock.now, errors.TimeoutError
local abortable = task._abortable

local retry = {}
local got = check.got

-- ---- the default random source ----
-- Marsaglia's xorshift128 on 32-bit words, so retry.seed makes it repeatable
-- without touching math.randomseed (which scripts may rely on).
local bxor, lshift, rshift, tobit = bit.bxor, bit.lshift, bit.rshift, bit.tobit
local sx, sy, sz, sw

local function next_random()
  local t = bxor(sx, lshift(sx, 11))
  sx, sy, sz = sy, sz, sw
  sw = bxor(sw, rshift(sw, 19), t, rshift(t, 8))
  return (sw % 4294967296) / 4294967296
end

local function reseed(a, b, c)
  -- sw is a constant, so the state is never all zero
  sx, sy, sz, sw = bxor(tobit(a), 123456789), bxor(tobit(b), 362436069), bxor(tobit(c), 521288629), 88675123
  for _ = 1, 16 do next_random() end
end

local function split(n) -- a finite number as three 32-bit words: low, high, fraction
  local i = floor(n)
  return i % 4294967296, floor(i / 4294967296) % 4294967296, floor((n - i) * 4294967296)
end

function retry.seed(n)
  if type(n) ~= "number" or n ~= n or n == huge or n == -huge then
    check.badarg(1, "seed", "finite number expected, got " .. got(n))
  end
  reseed(split(n))
end

reseed(os.time(), tonumber(tostring({}):match("%x+$"), 16) or 0, floor(os.clock() * 1e6))

-- ---- options ----
local kind = check.kind
local Budget = {}

-- A number from 0 (what: "number" or "number of milliseconds"), inf as allowed.
local function non_negative(what, inf)
  local words = " must be a non-negative " .. what .. ", got "
  return function(v)
    if not (type(v) == "number" and v >= 0 and (inf or v < huge)) then
      return words .. got(v)
    end
  end
end

local KINDS = {
  retries = kind.count(0),
  base = kind.ms, cap = kind.ms,
  max_elapsed = non_negative("number of milliseconds", true),
  jitter = kind.one_of("full", "equal", "decorrelated", "none"),
  signal = kind.signal,
  budget = function(v)
    if getmetatable(v) ~= Budget and not retry._is_budget(v) then
      return " must be a budget (retry.budget, retry.budget.redis, or an object with withdraw and deposit"
        .. " methods), got " .. got(v)
    end
  end,
  capacity = non_negative("number"),
  should_retry = kind.callable, on_retry = kind.callable, delay = kind.callable, random = kind.callable,
}
for _, k in pairs { "retry_cost", "timeout_cost", "refund" } do KINDS[k] = KINDS.capacity end

local valid_of = {} -- defaults -> the kinds of its options
local function kinds_of(defaults)
  local valid = valid_of[defaults]
  if not valid then
    valid = {}
    for k in pairs(defaults) do valid[k] = KINDS[k] end
    valid_of[defaults] = valid
  end
  return valid
end

-- opts checked (the options allowed are the keys of defaults), with every
-- default filled in; errors at the caller of the function that calls this.
local function options(opts, n, fname, defaults)
  check.options(opts, n, fname, kinds_of(defaults), 2)
  local o = {}
  for k, v in pairs(defaults) do o[k] = v end
  if opts then
    for k, v in pairs(opts) do o[k] = v end
  end
  return o
end

local NONE = false -- an option with no default (nil would end the defaults table)

-- ---- backoff policies ----
local Backoff = {}
Backoff.__index = Backoff

-- What a function given as an option returned is not what it should be.
local function bad_result(option, expected, v)
  error(("bad result from option '%s' (%s expected, got %s)"):format(option, expected, got(v)), 0)
end

local function draw(p)
  local r = p.random()
  if type(r) ~= "number" or not (r >= 0 and r < 1) then
    bad_result("random", "number in [0, 1)", r)
  end
  return r
end

-- The delay before retry n (n: the attempt that just failed, from 0) by the
-- policy p (base, cap, jitter, random, prev: a Backoff, or a retry call's state).
local function delay_of(p, n)
  local base, cap, jitter = p.base, p.cap, p.jitter
  if jitter == "decorrelated" then
    local d = min(cap, base + (3 * p.prev - base) * draw(p))
    p.prev = d
    return d
  end
  -- e = min(cap, base * 2^n): ldexp is exact, and past 2^2200 every positive
  -- base overflows to inf, which min turns into cap (0 stays 0)
  local e = min(cap, ldexp(base, min(n, 2200)))
  if jitter == "full" then return e * draw(p) end
  if jitter == "equal" then return e / 2 + e / 2 * draw(p) end
  return e
end

-- The delay before retry n, without waiting.
function Backoff:delay(n)
  check.self(self, Backoff, "delay", "backoff policy")
  if type(n) ~= "number" then check.badarg(1, "delay", "n: number expected, got " .. type(n)) end
  if not (n >= 0 and n < huge and n % 1 == 0) then -- any attempt: 1e300 too
    check.badarg(1, "delay", "n must be a whole number from 0, got " .. tostring(n))
  end
  return delay_of(self, n)
end

-- Forgets the state a policy keeps between delays (decorrelated's previous delay).
function Backoff:reset()
  check.self(self, Backoff, "reset", "backoff policy")
  self.prev = self.base
end

function Backoff:__tostring()
  check.self(self, Backoff, "__tostring", "backoff policy")
  local jitter = self.jitter == "none" and "no" or self.jitter
  return ("Backoff (%s to %s ms, %s jitter)"):format(got(self.base), got(self.cap), jitter)
end

local function new_backoff(o)
  return setmetatable({ base = o.base, cap = o.cap, jitter = o.jitter, random = o.random or next_random,
    prev = o.base }, Backoff)
end

local BACKOFF = { base = 1000, cap = 30000, jitter = "full", random = NONE }

function retry.backoff(opts)
  return new_backoff(options(opts, 1, "backoff", BACKOFF))
end

-- ---- budgets: a token bucket shared by many calls (AWS SDKs' "standard" mode) ----
Budget.__index = Budget

local BUDGET = { capacity = 500, retry_cost = 5, timeout_cost = 10, refund = 1 }

function Budget:__tostring()
  check.self(self, Budget, "__tostring", "budget")
  return ("Budget (%s of %s tokens)"):format(got(self.tokens), got(self.capacity))
end

-- A budget whose retry (or timeout retry) costs more than it can ever hold would
-- never pay for one: refused, for the local budget and the Redis one alike.
local function check_costs(o, fname, level)
  for _, k in ipairs { "retry_cost", "timeout_cost" } do
    if o[k] > o.capacity then
      check.badarg(1, fname, ("option '%s' (%s) must not exceed option 'capacity' (%s): no retry could be paid for")
        :format(k, got(o[k]), got(o.capacity)), (level or 1) + 1)
    end
  end
end

-- retry.budget(opts): a table called as the local budget's maker, whose field
-- redis makes the fleet-wide one (the shape of semaphore.redis).
local function local_budget(_, opts)
  local o = options(opts, 1, "budget", BUDGET)
  check_costs(o, "budget")
  o.tokens = o.capacity
  o._here = true -- kept in this process: retry takes and gives back its tokens itself
  return setmetatable(o, Budget)
end
retry.budget = setmetatable({}, { __call = local_budget })

-- Takes what a retry after err costs; false when the bucket cannot pay it.
local function withdraw(b, err)
  local cost = errors.is(err, TimeoutError) and b.timeout_cost or b.retry_cost
  if b.tokens < cost then return false end
  b.tokens = b.tokens - cost
  return true
end

local function refund(b)
  b.tokens = min(b.capacity, b.tokens + b.refund)
end

-- The interface every budget has (retry calls the local one's directly).
function Budget:withdraw(err)
  check.self(self, Budget, "withdraw", "budget")
  return withdraw(self, err)
end

function Budget:deposit()
  check.self(self, Budget, "deposit", "budget")
  refund(self)
end

-- Anything with withdraw and deposit methods is a budget.
function retry._is_budget(v)
  local t = type(v)
  if t ~= "table" and t ~= "userdata" then return false end
  local ok, w, r = pcall(function() return v.withdraw, v.deposit end)
  return ok and check.is_callable(w) and check.is_callable(r)
end

-- budget.redis{client=, key=, ...}: one budget for every process that uses the key.
function retry.budget.redis(opts)
  return require("ebb.retry_budget_redis").new(opts, BUDGET, kinds_of(BUDGET), check_costs)
end

-- ---- retry(fn [, opts]) ----
local RETRY = { retries = 3, base = 1000, cap = 30000, jitter = "full", signal = NONE,
  should_retry = NONE, on_retry = NONE, max_elapsed = NONE, delay = NONE, budget = NONE, random = NONE }
local RETRY_KINDS = kinds_of(RETRY)

local raise_if_aborted = check.raise_if_aborted

-- A string error keeps the traceback of where it was first raised across the re-raise.
local traced = require("ebb.host").traced

-- A retry call's state: its options (checked), the defaults of RETRY filled
-- in, as a policy for delay_of. Every field is a constant in the constructor
-- so the table is made at its full size: in a module compiled into ebb a
-- constructor keeps no room for fields whose values are not constants.
local function new_call(fn, o)
  local c = { fn = false, retries = false, base = false, cap = false, jitter = false, random = false,
    prev = false, signal = false, should_retry = false, on_retry = false, max_elapsed = false, delay = false,
    budget = false, start = false }
  local base = o.base or RETRY.base
  c.fn, c.retries, c.base, c.cap, c.jitter = fn, o.retries or RETRY.retries, base, o.cap or RETRY.cap,
    o.jitter or RETRY.jitter
  c.random, c.prev, c.signal, c.should_retry, c.on_retry = o.random or next_random, base, o.signal,
    o.should_retry, o.on_retry
  c.max_elapsed, c.delay, c.budget, c.start = o.max_elapsed, o.delay, o.budget, o.max_elapsed and now()
  return c
end

local NO_OPTIONS = {}

-- Attempts n and on of call c. Each attempt's results go to settle as they
-- come (no table), and each step is a tail call, so the stack stays flat.
local settle

local function attempt(c, n)
  local signal = c.signal
  raise_if_aborted(check_abort(signal))
  -- given a signal, an attempt runs in a task of its own that the abort
  -- cancels, whatever fn waits on (the signal is listened to meanwhile)
  if signal then return settle(c, n, abortable(signal, xpcall, c.fn, traced, n)) end
  return settle(c, n, xpcall(c.fn, traced, n))
end

-- Attempt n of call c ended: its results, or the next attempt after the delay.
function settle(c, n, ok, ...)
  local budget = c.budget
  if ok then
    if budget then
      if budget._here then budget.tokens = min(budget.capacity, budget.tokens + budget.refund)
      else budget:deposit(c.signal) end
    end
    return ...
  end
  local err, signal, should_retry = ..., c.signal, c.should_retry
  -- an abort (of the signal, or of this task) ends the retrying with its reason
  raise_if_aborted(check_abort(signal))
  if n >= c.retries or (should_retry and not should_retry(err, n)) then error(err, 0) end
  local ms
  local custom = c.delay
  if custom then
    ms = custom(n, err)
    if ms ~= nil and kind.ms(ms) then
      bad_result("delay", "non-negative number of milliseconds, at most 1e12, or nil", ms)
    end
  end
  if ms == nil then ms = delay_of(c, n) end
  -- no retry starts past the deadline: give up now rather than sleep first
  -- (past by more than a nanosecond: sums of milliseconds in floats round)
  local max_elapsed = c.max_elapsed
  if max_elapsed and now() + ms - c.start > max_elapsed + 1e-6 then error(err, 0) end
  if budget then
    local paid
    if budget._here then paid = withdraw(budget, err) else paid = budget:withdraw(err, signal) end
    if not paid then error(err, 0) end
  end
  local on_retry = c.on_retry
  if on_retry then on_retry(err, n, ms) end
  sleep(ms, signal)
  return attempt(c, n + 1)
end

return setmetatable(retry, {
  __call = function(_, fn, opts)
    check.callable(fn, 1, "retry")
    if opts ~= nil then check.options(opts, 2, "retry", RETRY_KINDS) end
    -- before fn runs: retrying needs a task to wait in (the host's error, at the caller)
    if not core.can_wait() then core.check_can_wait() end
    return attempt(new_call(fn, opts or NO_OPTIONS), 0)
  end,
})
