-- Specs for ebb.retry (its calls, on_retry, should_retry, the last error, bad input), one
-- rule of the API contract ("rules every module follows", "ebb.retry") at a time. Every
-- body starts with clock.auto(): sleeps take no real time (the runner puts the clock back
-- to real after each spec).
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
local const = require("retry_support").const -- a random source that always returns r
local assert_elapsed = require("asserts").elapsed -- the clock reads t0 + ms, to within rounding
local flaky = require("retry_support").flaky -- fails `failures` times, then returns "ok"
local assert_delays = require("retry_support").assert_delays

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

    it("returns every result of a later attempt, trailing nils counted", function()
      clock.auto()
      local n, a, b, c = (function(...) return select("#", ...), ... end)(retry(function(attempt)
        if attempt < 2 then error("x") end
        return attempt, nil, nil
      end, { base = 1 }))
      assert.equal(3, n)
      assert.same({ 2, nil, nil }, { a, b, c })
    end)

    it("reads its options once, at the call: changes to the table meanwhile do not count", function()
      clock.auto()
      local fn, calls = flaky(math.huge)
      local opts = { retries = 2, base = 100, jitter = "none" }
      opts.on_retry = function()
        opts.retries, opts.base, opts.on_retry = 10, 1, nil
      end
      local t0 = clock.now()
      raised(retry, fn, opts)
      assert.equal(3, #calls)
      assert_elapsed(t0, 300)
    end)

    it("runs the 1,000th attempt no deeper in the stack than the first", function()
      clock.auto()
      local depth = {}
      retry(function(attempt)
        local n = 1
        while debug.getinfo(n, "l") do n = n + 1 end
        depth[attempt] = n
        if attempt < 1000 then error("x") end
      end, { retries = 1000, base = 0 })
      assert.equal(depth[0], depth[1000])
    end)

    it("with retries = 0 exactly once", function()
      clock.auto()
      local fn, calls = flaky(1)
      raised(retry, fn, { retries = 0 })
      assert.equal(1, #calls)
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
      { "budget", { {}, 5, retry.backoff() }, " must be a budget %(retry%.budget, retry%.budget%.redis, or an object with withdraw and deposit methods%), got [^)]+" },
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
      assert_bad(function() retry.budget { capacity = 1, retry_cost = 5 } end,
        "bad argument #1 to 'budget' %(option 'retry_cost' %(5%) must not exceed option 'capacity' %(1%): no retry could be paid for%)$")
      assert_bad(function() retry.budget { capacity = 8 } end,
        "bad argument #1 to 'budget' %(option 'timeout_cost' %(10%) must not exceed option 'capacity' %(8%)")
      assert.equal(0, retry.budget { capacity = 0, retry_cost = 0, timeout_cost = 0 }.tokens)
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
