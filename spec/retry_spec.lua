-- Specs for ebb.retry, one rule of the API contract ("rules every module follows",
-- "ebb.retry") at a time. Every body starts with clock.auto(): sleeps take no real time
-- (the runner puts the clock back to real after each spec).
package.path = "spec/support/?.lua;" .. package.path
local retry = require "ebb.retry"
local task = require "ebb.task"
local clock = require "ebb.clock"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local core = require "ebb.core"

-- Asserts fn raises an error matching `pattern`, positioned at this spec file.
local assert_bad = require("asserts").bad_at("retry_spec%.lua")

local raised = require("asserts").raised -- calls fn(...), which must raise; returns what it raised

-- A random source that always returns r, and one that returns each of list in turn.
local function const(r) return function() return r end end
local function seq(list)
  local i = 0
  return function()
    i = i + 1
    return list[i]
  end
end

-- Virtual time readings are floats on a real-time base: compare to within rounding.
local function assert_elapsed(t0, ms)
  assert.near(t0 + ms, clock.now(), 1e-6)
end

-- A function that fails `failures` times (with the error made by make_err(attempt), by
-- default a fresh Error), then returns "ok"; calls[i] = {attempt, clock time}.
local function flaky(failures, make_err)
  local calls = {}
  return function(attempt)
    calls[#calls + 1] = { attempt = attempt, at = clock.now() }
    if #calls <= failures then
      error(make_err and make_err(attempt) or errors.new("failure " .. attempt), 0)
    end
    return "ok"
  end, calls
end

-- The delays on_retry was given, for a function that always fails.
local function delays_of(opts)
  local got = {}
  opts.on_retry = function(_, _, ms) got[#got + 1] = ms end
  raised(retry, function() error("fails", 0) end, opts)
  return got
end

local function assert_delays(expected, got)
  assert.equal(#expected, #got)
  for i = 1, #expected do assert.near(expected[i], got[i], 1e-9) end
end

describe("ebb.retry", function()
  it("is callable and is ebb.retry", function()
    clock.auto()
    assert.equal(retry, require("ebb").retry)
    assert.equal("ok", retry(function() return "ok" end))
  end)

  describe("calls fn(attempt)", function()
    it("once when it succeeds, with attempt 0, and returns all its results", function()
      clock.auto()
      local seen = {}
      local t0 = clock.now()
      local r = { retry(function(attempt)
        seen[#seen + 1] = attempt
        return 1, nil, 3
      end) }
      assert.same({ 0 }, seen)
      assert.equal(3, select("#", unpack(r, 1, 3)))
      assert.same({ 1, nil, 3 }, r)
      assert_elapsed(t0, 0)
    end)

    it("again after each failure, counting attempts from 0, until it succeeds", function()
      clock.auto()
      local fn, calls = flaky(2)
      assert.equal("ok", retry(fn, { jitter = "none", base = 100 }))
      assert.equal(3, #calls)
      for i = 1, 3 do assert.equal(i - 1, calls[i].attempt) end
    end)

    it("sleeps the delay before each retry, on the clock", function()
      clock.auto()
      local fn, calls = flaky(3)
      local t0 = clock.now()
      retry(fn, { jitter = "none", base = 100 })
      assert.near(t0, calls[1].at, 1e-6)
      assert.near(t0 + 100, calls[2].at, 1e-6)
      assert.near(t0 + 300, calls[3].at, 1e-6)
      assert.near(t0 + 700, calls[4].at, 1e-6)
      assert_elapsed(t0, 700)
    end)

    it("has the defaults retries 3, base 1000, cap 30000, jitter full", function()
      clock.auto()
      local fn, calls = flaky(math.huge)
      local got = {}
      raised(retry, fn, { random = const(0.5), on_retry = function(_, _, ms) got[#got + 1] = ms end })
      assert.equal(4, #calls)
      assert_delays({ 500, 1000, 2000 }, got)
      local p = retry.backoff { random = const(0.5) }
      assert_delays({ 500, 1000, 2000, 4000, 8000, 15000, 15000 },
        { p:delay(0), p:delay(1), p:delay(2), p:delay(3), p:delay(4), p:delay(5), p:delay(6) })
    end)

    it("with retries = 0 exactly once", function()
      clock.auto()
      local fn, calls = flaky(1)
      raised(retry, fn, { retries = 0 })
      assert.equal(1, #calls)
    end)
  end)

  describe("jitter, with e = min(cap, base * 2^n)", function()
    local base, cap = 100, 1000
    local e = { 100, 200, 400, 800, 1000, 1000 }

    for _, r in ipairs { 0, 0.5, 0.999 } do
      it(("full: U(0, e), random %s"):format(r), function()
        clock.auto()
        local want = {}
        for i, v in ipairs(e) do want[i] = v * r end
        assert_delays(want, delays_of { retries = 6, base = base, cap = cap, jitter = "full", random = const(r) })
      end)

      it(("equal: e/2 + U(0, e/2), random %s"):format(r), function()
        clock.auto()
        local want = {}
        for i, v in ipairs(e) do want[i] = v / 2 + r * v / 2 end
        assert_delays(want, delays_of { retries = 6, base = base, cap = cap, jitter = "equal", random = const(r) })
      end)

      it(("decorrelated: min(cap, U(base, 3 * prev)), prev from base, random %s"):format(r), function()
        clock.auto()
        local want, prev = {}, base
        for i = 1, 6 do
          prev = math.min(cap, base + r * (3 * prev - base))
          want[i] = prev
        end
        assert_delays(want, delays_of { retries = 6, base = base, cap = cap, jitter = "decorrelated",
          random = const(r) })
      end)
    end

    it("decorrelated with varying draws follows prev exactly", function()
      clock.auto()
      -- prev 100 -> 100 + 0.5*200 = 200 -> 100 + 0.25*500 = 225 -> 100 + 0.999*575 > cap -> 100
      local got = delays_of { retries = 4, base = 100, cap = 600, jitter = "decorrelated",
        random = seq { 0.5, 0.25, 0.999, 0 } }
      local want, prev = {}, 100
      for i, r in ipairs { 0.5, 0.25, 0.999, 0 } do
        prev = math.min(600, 100 + r * (3 * prev - 100))
        want[i] = prev
      end
      assert_delays({ 200, 225, 600, 100 }, want)
      assert_delays(want, got)
    end)

    it("none: e, and random is never called", function()
      clock.auto()
      local calls = 0
      local got = delays_of { retries = 6, base = base, cap = cap, jitter = "none",
        random = function() calls = calls + 1 return 0 end }
      assert_delays(e, got)
      assert.equal(0, calls)
    end)

    it("the clock advances by exactly the delays", function()
      clock.auto()
      local t0 = clock.now()
      local got = delays_of { retries = 4, base = 10, jitter = "equal", random = const(0.25) }
      assert_delays({ 6.25, 12.5, 25, 50 }, got)
      assert_elapsed(t0, 6.25 + 12.5 + 25 + 50)
    end)

    it("never overflows: at attempt 10000 (and 1e300) e is cap", function()
      clock.auto()
      for _, jitter in ipairs { "none", "full", "equal", "decorrelated" } do
        local p = retry.backoff { base = 1000, cap = 30000, jitter = jitter, random = const(0.5) }
        for _, n in ipairs { 1023, 1024, 10000, 1e300 } do
          local d = p:delay(n)
          assert.is_true(d == d and d < math.huge, jitter .. " at " .. n .. " gave " .. tostring(d))
          if jitter == "none" then assert.equal(30000, d) end
          if jitter == "full" then assert.equal(15000, d) end
          if jitter == "equal" then assert.equal(22500, d) end
        end
      end
      -- base 0 stays 0 (no 0 * inf), and the tiniest base still reaches cap
      assert.equal(0, retry.backoff({ base = 0, jitter = "none" }):delay(10000))
      assert.equal(30000, retry.backoff({ base = 5e-324, jitter = "none" }):delay(10000))
    end)

    it("never overflows in a retry that reaches attempt 10000", function()
      clock.auto()
      local got = delays_of { retries = 10000, base = 1, cap = 2, jitter = "full", random = const(0.5) }
      assert.equal(10000, #got)
      for i = 1, #got do assert.is_true(got[i] == 1 or (i == 1 and got[i] == 0.5)) end
    end)
  end)

  describe("on_retry(err, attempt, delay_ms)", function()
    it("gets the error, the attempt that failed and the delay, before the sleep", function()
      clock.auto()
      local errs = {}
      local fn = function(attempt)
        errs[attempt] = errors.new("e" .. attempt)
        error(errs[attempt])
      end
      local log = {}
      local t0 = clock.now()
      local last = raised(retry, fn, { retries = 2, base = 100, jitter = "none",
        on_retry = function(...)
          log[#log + 1] = { n = select("#", ...), at = clock.now() - t0, ... }
        end })
      assert.equal(errs[2], last)
      assert.equal(2, #log)
      assert.equal(3, log[1].n)
      assert.equal(errs[0], log[1][1])
      assert.equal(0, log[1][2])
      assert.equal(100, log[1][3])
      assert.near(0, log[1].at, 1e-6)
      assert.equal(errs[1], log[2][1])
      assert.equal(1, log[2][2])
      assert.equal(200, log[2][3])
      assert.near(100, log[2].at, 1e-6)
    end)

    it("is not called when no retry follows", function()
      clock.auto()
      local n = 0
      raised(retry, function() error("x") end, { retries = 1, base = 1, on_retry = function() n = n + 1 end })
      assert.equal(1, n)
    end)
  end)

  describe("should_retry(err, attempt)", function()
    it("refusing raises that error at once: no sleep, no on_retry", function()
      clock.auto()
      local PermanentError = errors.class("PermanentError")
      local perm = PermanentError("404")
      local fn, calls = flaky(math.huge, function(attempt)
        return attempt == 1 and perm or errors.new("503")
      end)
      local asked, retried = {}, 0
      local t0 = clock.now()
      local e = raised(retry, fn, { base = 100, jitter = "none",
        should_retry = function(err, attempt)
          asked[#asked + 1] = { err, attempt }
          return not errors.is(err, PermanentError)
        end,
        on_retry = function() retried = retried + 1 end })
      assert.equal(perm, e)
      assert.equal(2, #calls)
      assert.equal(1, retried)
      assert.equal(2, #asked)
      assert.equal(0, asked[1][2])
      assert.equal(perm, asked[2][1])
      assert.equal(1, asked[2][2])
      assert_elapsed(t0, 100)
    end)

    it("is not asked after the last attempt", function()
      clock.auto()
      local n = 0
      raised(retry, function() error("x") end, { retries = 2, base = 1,
        should_retry = function() n = n + 1 return true end })
      assert.equal(2, n)
    end)
  end)

  describe("max_elapsed", function()
    it("no retry starts past it: the last error is raised without sleeping", function()
      clock.auto()
      local fn, calls = flaky(math.huge)
      local t0 = clock.now()
      local e = raised(retry, fn, { retries = 10, base = 100, jitter = "none", max_elapsed = 350 })
      -- attempts at 0, 100, 300; the next would start at 700
      assert.equal(3, #calls)
      assert.equal("failure 2", e.message)
      assert_elapsed(t0, 300)
    end)

    it("a retry starting exactly at the limit still runs", function()
      clock.auto()
      local fn, calls = flaky(math.huge)
      raised(retry, fn, { retries = 10, base = 100, jitter = "none", max_elapsed = 300 })
      assert.equal(3, #calls)
    end)

    it("counts the time fn itself takes", function()
      clock.auto()
      local calls = 0
      raised(retry, function()
        calls = calls + 1
        task.sleep(200)
        error("slow")
      end, { retries = 10, base = 10, jitter = "none", max_elapsed = 400 })
      -- fails at 200, retry at 210 fails at 410: past 400
      assert.equal(2, calls)
    end)
  end)

  describe("delay(attempt, err)", function()
    it("gives the delay (e.g. Retry-After), not capped, and on_retry sees it", function()
      clock.auto()
      local fn, calls = flaky(2, function(attempt)
        local e = errors.new("429")
        e.retry_after = attempt == 0 and 50000 or nil
        return e
      end)
      local asked, got = {}, {}
      local t0 = clock.now()
      retry(fn, { base = 100, cap = 1000, jitter = "none",
        delay = function(attempt, err)
          asked[#asked + 1] = { attempt, err.message }
          return err.retry_after
        end,
        on_retry = function(_, _, ms) got[#got + 1] = ms end })
      assert.same({ { 0, "429" }, { 1, "429" } }, asked)
      assert.same({ 50000, 200 }, got) -- nil: the jitter policy's delay
      assert.near(t0 + 50000, calls[2].at, 1e-6)
      assert_elapsed(t0, 50200)
    end)

    it("a policy left unused by it keeps its state (decorrelated prev)", function()
      clock.auto()
      local got = delays_of { retries = 3, base = 100, cap = 10000, jitter = "decorrelated", random = const(0.5),
        delay = function(attempt) if attempt == 1 then return 7 end end }
      assert.same({ 200, 7, 350 }, got)
    end)

    it("returning anything but nil or a non-negative number is an error", function()
      clock.auto()
      for _, v in ipairs { -1, 0 / 0, math.huge, 1e13, "10", {} } do
        local e = raised(retry, function() error("x") end, { delay = function() return v end })
        assert.matches("bad result from option 'delay'", e)
      end
    end)
  end)

  describe("signal", function()
    it("aborted before the first attempt: fn is not called and the reason is raised", function()
      clock.auto()
      local reason = errors.new("stop")
      local called = false
      local e = raised(retry, function() called = true end, { signal = abort.aborted(reason) })
      assert.equal(reason, e)
      assert.is_false(called)
    end)

    it("in a task whose own signal is aborted: fn is not called", function()
      clock.auto()
      local reason = errors.new("cancelled")
      local called = false
      local t = task.spawn(function()
        task.current():cancel(reason)
        retry(function() called = true end)
      end)
      assert.equal(reason, raised(t.await, t))
      assert.equal("cancelled", t.status)
      assert.is_false(called)
    end)

    it("aborted during the sleep: the timer is cleared and the reason raised at once", function()
      clock.auto()
      local before = core.stats().timers
      local ctl = abort.controller()
      local reason = errors.new("user stop")
      local calls = 0
      local t0 = clock.now()
      task.delay(10, function() ctl:abort(reason) end)
      local e = raised(retry, function()
        calls = calls + 1
        error("fails")
      end, { base = 1000, jitter = "none", signal = ctl.signal })
      assert.equal(reason, e)
      assert.equal(1, calls)
      assert_elapsed(t0, 10)
      assert.equal(before, core.stats().timers)
      assert.is_nil(clock.next_timer())
    end)

    it("aborted in on_retry: the sleep raises at once, no time passes", function()
      clock.auto()
      local before = core.stats().timers
      local ctl = abort.controller()
      local t0 = clock.now()
      local e = raised(retry, function() error("fails") end, { base = 1000, signal = ctl.signal,
        on_retry = function() ctl:abort() end })
      assert.is_true(errors.is(e, errors.AbortError))
      assert.equal(ctl.signal.reason, e)
      assert_elapsed(t0, 0)
      assert.equal(before, core.stats().timers)
    end)

    it("aborted while fn runs: its reason ends the retrying, should_retry not asked", function()
      clock.auto()
      local ctl = abort.controller()
      local asked = false
      local e = raised(retry, function()
        ctl:abort(errors.new("mid-call"))
        error("fn failed because of it")
      end, { signal = ctl.signal, should_retry = function() asked = true return true end })
      assert.equal(ctl.signal.reason, e)
      assert.is_false(asked)
    end)

    it("the task cancelled during the sleep: the reason is raised at once", function()
      clock.auto()
      local before = core.stats().timers
      local reason = errors.new("cancel")
      local t0 = clock.now()
      local t = task.spawn(retry, function() error("x") end, { base = 5000, jitter = "none" })
      task.delay(20, function() t:cancel(reason) end)
      assert.equal(reason, raised(t.await, t))
      assert_elapsed(t0, 20)
      assert.equal(before, core.stats().timers)
    end)
  end)

  describe("the last error", function()
    it("is raised unchanged when the retries run out: the same table", function()
      clock.auto()
      local last
      local e = raised(retry, function(attempt)
        last = { attempt = attempt }
        error(last)
      end, { retries = 2, base = 1 })
      assert.equal(last, e)
      assert.equal(2, e.attempt)
    end)

    it("a string keeps its message (and position), a number stays a number", function()
      clock.auto()
      local e = raised(retry, function(attempt) error("boom " .. attempt) end, { retries = 1, base = 1 })
      assert.matches("^[^\n]*retry_spec%.lua:%d+: boom 1$", e)
      assert.equal(42, raised(retry, function() error(42, 0) end, { retries = 1, base = 1 }))
    end)

    it("leaves no timer behind", function()
      clock.auto()
      local before = core.stats().timers
      raised(retry, function() error("x") end, { base = 3 })
      assert.equal(before, core.stats().timers)
    end)
  end)

  describe("budget", function()
    it("has the defaults capacity 500, retry_cost 5, timeout_cost 10, refund 1", function()
      clock.auto()
      local b = retry.budget()
      assert.equal(500, b.capacity)
      assert.equal(500, b.tokens)
      assert.equal(5, b.retry_cost)
      assert.equal(10, b.timeout_cost)
      assert.equal(1, b.refund)
    end)

    it("shared by two concurrent calls runs out: no tokens, no retry", function()
      clock.auto()
      local b = retry.budget { capacity = 10, retry_cost = 4 }
      local calls = { a = 0, b = 0 }
      local function call(name)
        return function()
          return retry(function()
            calls[name] = calls[name] + 1
            error(name .. " failed " .. calls[name], 0)
          end, { retries = 10, base = 10, jitter = "none", budget = b })
        end
      end
      local r = task.all_settled { call("a"), call("b") }
      -- 10 tokens pay for two retries of 4: a's first, then b's first; then 2 are left
      assert.same({ a = 2, b = 2 }, calls)
      assert.equal(2, b.tokens)
      assert.equal("a failed 2", r[1].error)
      assert.equal("b failed 2", r[2].error)
    end)

    it("a TimeoutError costs timeout_cost", function()
      clock.auto()
      local b = retry.budget { capacity = 25, retry_cost = 5, timeout_cost = 10 }
      local fn, calls = flaky(math.huge, function() return errors.TimeoutError() end)
      raised(retry, fn, { retries = 10, base = 1, budget = b })
      assert.equal(3, #calls)
      assert.equal(5, b.tokens)
      local plain = flaky(math.huge)
      raised(retry, plain, { retries = 10, base = 1, budget = b })
      assert.equal(0, b.tokens)
    end)

    it("every success gives back refund tokens, up to capacity", function()
      clock.auto()
      local b = retry.budget { capacity = 20, retry_cost = 5, refund = 2 }
      local fn = flaky(2)
      retry(fn, { base = 1, budget = b })
      assert.equal(20 - 10 + 2, b.tokens)
      retry(function() end, { budget = b })
      assert.equal(14, b.tokens)
      for _ = 1, 10 do retry(function() end, { budget = b }) end
      assert.equal(20, b.tokens)
    end)
  end)

  describe("random and seed", function()
    local function listing(opts)
      local p = retry.backoff(opts)
      local out = {}
      for n = 0, 7 do out[#out + 1] = p:delay(n) end
      return out
    end

    it("retry.seed(n) makes the default source repeatable", function()
      clock.auto()
      retry.seed(7)
      local a = listing { jitter = "full" }
      retry.seed(7)
      assert.same(a, listing { jitter = "full" })
      retry.seed(8)
      assert.are_not.same(a, listing { jitter = "full" })
      for _, v in ipairs(a) do assert.is_true(v >= 0 and v < 30000) end
      -- retry itself draws from it too
      retry.seed(7)
      local got = delays_of { retries = 8 }
      assert_delays(a, got)
    end)

    it("gives values in [0, 1) that spread", function()
      clock.auto()
      retry.seed(123)
      local p = retry.backoff { base = 1, cap = 1 } -- full: delay = the draw
      local lo, hi, sum = 1, 0, 0
      for _ = 1, 10000 do
        local r = p:delay(0)
        assert.is_true(r >= 0 and r < 1)
        lo, hi, sum = math.min(lo, r), math.max(hi, r), sum + r
      end
      assert.is_true(lo < 0.01 and hi > 0.99)
      assert.near(0.5, sum / 10000, 0.02)
    end)

    it("a random option that returns something outside [0, 1) is an error", function()
      clock.auto()
      for _, v in ipairs { 1, -0.1, 0 / 0, "0.5" } do
        local p = retry.backoff { random = const(v) }
        assert.matches("bad result from option 'random'", raised(p.delay, p, 0))
      end
    end)
  end)

  describe("backoff{}", function()
    it("lists the delays before each retry, without waiting", function()
      clock.auto()
      local t0, before = clock.now(), core.stats().timers
      local p = retry.backoff { jitter = "none" }
      local got = {}
      for n = 0, 6 do got[#got + 1] = p:delay(n) end
      assert.same({ 1000, 2000, 4000, 8000, 16000, 30000, 30000 }, got)
      assert_elapsed(t0, 0)
      assert.equal(before, core.stats().timers)
    end)

    it("decorrelated keeps prev between delays; reset() starts again from base", function()
      clock.auto()
      local p = retry.backoff { base = 10, cap = 1000, jitter = "decorrelated", random = const(0.5) }
      assert.equal(10, p.prev)
      assert.same({ 20, 35, 57.5 }, { p:delay(0), p:delay(1), p:delay(2) })
      assert.equal(57.5, p.prev)
      p:reset()
      assert.equal(10, p.prev)
      assert.equal(20, p:delay(0))
    end)
  end)

  describe("the signal during an attempt", function()
    it("reaches fn whatever it waits on, and is listened to meanwhile", function()
      clock.auto()
      local ctl = abort.controller()
      local t0 = clock.now()
      task.delay(10, function()
        assert.is_true(require("ebb.abort.core").watched(ctl.signal))
        ctl:abort(errors.Error("stop"))
      end)
      local e = raised(retry, function() task.sleep(10000) return "slept" end, { signal = ctl.signal })
      assert.equal("stop", e.message)
      assert.equal(t0 + 10, clock.now())
    end)
  end)

  describe("outside a task", function()
    it("raises the host's error before fn runs", function()
      clock.auto()
      local ctl = abort.controller()
      local called, ok, err = false
      ctl.signal:on_abort(function()
        ok, err = pcall(retry, function() called = true end)
      end)
      ctl:abort()
      assert.is_false(ok)
      -- the host's own error, placed at the line that called retry
      assert.matches("^spec/retry_spec%.lua:%d+: cannot wait outside a task: abort listeners run synchronously", err)
      assert.is_false(called)
    end)
  end)

  describe("bad input", function()
    local fn = function() end
    it("fn and opts", function()
      clock.auto()
      assert_bad(function() retry() end, "bad argument #1 to 'retry' %(function expected, got nil%)")
      assert_bad(function() retry("f") end, "bad argument #1 to 'retry' %(function expected, got string%)")
      assert_bad(function() retry(fn, 5) end, "bad argument #2 to 'retry' %(table of options expected, got number%)")
      assert_bad(function() retry(fn, { retires = 3 }) end, "bad argument #2 to 'retry' %(unknown option 'retires'; valid options: base, budget, cap, delay, jitter, "
        .. "max_elapsed, on_retry, random, retries, should_retry, signal%)")
      -- a callable table is a function
      assert.equal("t", retry(setmetatable({}, { __call = function() return "t" end })))
    end)

    local MS = " must be a non%-negative number of milliseconds, at most 1e12, got [^)]+"
    local cases = {
      { "retries", { -1, 1.5, 0 / 0, -math.huge }, " must be a whole number from 0, or math%.huge, got [^)]+" },
      { "retries", { "3", true }, ": number expected, got [^)]+" },
      { "base", { -1, math.huge, 0 / 0, 1e13 }, MS },
      { "base", { "1" }, ": number of milliseconds expected, got string" },
      { "cap", { -1, math.huge, 1e13 }, MS },
      { "cap", { "1" }, ": number of milliseconds expected, got string" },
      { "jitter", { "bogus", 1, true }, ' must be "full", "equal", "decorrelated" or "none", got [^)]+' },
      { "signal", { {}, "s", 1 }, " must be an abort signal, got [^)]+" },
      { "should_retry", { 1, "f", {} }, " must be a function, got [^)]+" },
      { "on_retry", { 1, true }, " must be a function, got [^)]+" },
      { "max_elapsed", { -1, "1", 0 / 0 }, " must be a non%-negative number of milliseconds, got [^)]+" },
      { "delay", { 100, "f" }, " must be a function, got [^)]+" },
      { "budget", { {}, 5, retry.backoff() }, " must be a budget made by retry%.budget, got [^)]+" },
      { "random", { 0.5, {} }, " must be a function, got [^)]+" },
    }
    for i, case in ipairs(cases) do
      local name, values, msg = case[1], case[2], case[3]
      it("retry option " .. name .. " (" .. i .. ")", function()
        clock.auto()
        for _, v in ipairs(values) do
          local called = false
          assert_bad(function() retry(function() called = true end, { [name] = v }) end,
            "bad argument #2 to 'retry' %(option '" .. name .. "'" .. msg .. "%)$")
          assert.is_false(called)
        end
      end)
    end

    it("retry accepts retries = math.huge and max_elapsed = math.huge", function()
      clock.auto()
      local fn = flaky(3)
      assert.equal("ok", retry(fn, { retries = math.huge, max_elapsed = math.huge, base = 1 }))
    end)

    it("backoff options", function()
      clock.auto()
      assert_bad(function() retry.backoff(1) end, "bad argument #1 to 'backoff' %(table of options expected")
      assert_bad(function() retry.backoff { retries = 1 } end, "bad argument #1 to 'backoff' %(unknown option 'retries'; valid options: base, cap, jitter, random%)")
      assert_bad(function() retry.backoff { base = -1 } end, "bad argument #1 to 'backoff' %(option 'base' must be")
      assert_bad(function() retry.backoff { cap = "x" } end, "bad argument #1 to 'backoff' %(option 'cap': number of milliseconds expected")
      assert_bad(function() retry.backoff { jitter = "x" } end, "bad argument #1 to 'backoff' %(option 'jitter' must be")
      assert_bad(function() retry.backoff { random = 1 } end, "bad argument #1 to 'backoff' %(option 'random' must be")
      local p = retry.backoff()
      assert_bad(function() p:delay(-1) end,
        "bad argument #1 to 'delay' %(n must be a whole number from 0, got %-1%)")
      assert_bad(function() p:delay(1.5) end, "bad argument #1 to 'delay' %(n must be a whole number from 0, got 1%.5%)")
      assert_bad(function() p:delay(math.huge) end, "bad argument #1 to 'delay'")
      assert_bad(function() p:delay("1") end, "bad argument #1 to 'delay' %(n: number expected, got string%)")
      assert_bad(function() p.delay({}, 1) end, "bad argument #1 to 'delay' %(backoff policy expected")
      assert_bad(function() p.reset({}) end, "bad argument #1 to 'reset' %(backoff policy expected")
    end)

    it("budget options", function()
      clock.auto()
      assert_bad(function() retry.budget("x") end, "bad argument #1 to 'budget' %(table of options expected")
      assert_bad(function() retry.budget { size = 1 } end, "bad argument #1 to 'budget' %(unknown option 'size'; valid options: capacity, refund, retry_cost, timeout_cost%)")
      for _, k in ipairs { "capacity", "retry_cost", "timeout_cost", "refund" } do
        for _, v in ipairs { -1, "1", math.huge, 0 / 0 } do
          assert_bad(function() retry.budget { [k] = v } end,
            "bad argument #1 to 'budget' %(option '" .. k .. "' must be a non%-negative number, got [^)]+%)$")
        end
      end
    end)

    it("seed", function()
      clock.auto()
      assert_bad(function() retry.seed() end, "bad argument #1 to 'seed' %(finite number expected, got nil%)")
      assert_bad(function() retry.seed("1") end, "bad argument #1 to 'seed' %(finite number expected, got string%)")
      assert_bad(function() retry.seed(0 / 0) end, "bad argument #1 to 'seed' %(finite number expected")
      assert_bad(function() retry.seed(math.huge) end, "bad argument #1 to 'seed' %(finite number expected")
    end)
  end)
end)
