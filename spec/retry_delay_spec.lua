-- Specs for ebb.retry's delays (jitter, delay, random and seed, backoff{}), one rule of
-- the API contract ("rules every module follows", "ebb.retry") at a time. Every body
-- starts with clock.auto(): sleeps take no real time (the runner puts the clock back to
-- real after each spec).
package.path = "spec/support/?.lua;" .. package.path
local retry = require "ebb.retry"
local clock = require "ebb.clock"
local errors = require "ebb.errors"
local core = require "ebb.core"
local raised = require("asserts").raised -- calls fn(...), which must raise; returns what it raised
local const = require("retry_support").const -- a random source that always returns r
local assert_elapsed = require("asserts").elapsed -- the clock reads t0 + ms, to within rounding
local flaky = require("retry_support").flaky -- fails `failures` times, then returns "ok"
local assert_delays = require("retry_support").assert_delays

-- A random source that returns each of list in turn.
local function seq(list)
  local i = 0
  return function()
    i = i + 1
    return list[i]
  end
end

-- The delays on_retry was given, for a function that always fails.
local function delays_of(opts)
  local got = {}
  opts.on_retry = function(_, _, ms) got[#got + 1] = ms end
  raised(retry, function() error("fails", 0) end, opts)
  return got
end

describe("ebb.retry", function()
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
end)
