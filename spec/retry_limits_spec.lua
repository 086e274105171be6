-- Specs for what ends ebb.retry's retries (max_elapsed, budget, the signal), one rule of
-- the API contract ("rules every module follows", "ebb.retry") at a time. Every body
-- starts with clock.auto(): sleeps take no real time (the runner puts the clock back to
-- real after each spec).
package.path = "spec/support/?.lua;" .. package.path
local retry = require "ebb.retry"
local task = require "ebb.task"
local clock = require "ebb.clock"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local core = require "ebb.core"
local raised = require("asserts").raised -- calls fn(...), which must raise; returns what it raised
local assert_elapsed = require("asserts").elapsed -- the clock reads t0 + ms, to within rounding
local flaky = require("retry_support").flaky -- fails `failures` times, then returns "ok"

describe("ebb.retry", function()
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
end)
