-- Specs for ebb.abort: abort.timeout, as the API contract ("ebb.abort" and "Rules every
-- module follows") describes. Everything timed runs on virtual time (clock.freeze +
-- clock.advance).
package.path = "spec/support/?.lua;" .. package.path
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local clock = require "ebb.clock"
local task = require "ebb.task"

-- Asserts fn raises an error matching `pattern`, positioned at this spec file.
local assert_bad = require("asserts").bad_at("abort_timeout_spec%.lua")
local full_gc = require("abort_support").full_gc

describe("ebb.abort", function()
  describe("abort.timeout", function()
    it("aborts with a TimeoutError exactly after ms of virtual time, not before", function()
      clock.freeze()
      local t0 = clock.now()
      local s = abort.timeout(100)
      local log, at = {}, nil
      s:on_abort(function(r)
        log[#log + 1] = r
        at = clock.now()
      end)
      assert.is_false(s.aborted)
      clock.advance(99)
      assert.is_false(s.aborted)
      assert.equal(0, #log)
      clock.advance(1)
      assert.is_true(s.aborted)
      assert.is_true(errors.is(s.reason, errors.TimeoutError))
      assert.equal(1, #log)
      assert.equal(s.reason, log[1])
      assert.equal(t0 + 100, at)
    end)

    it("accepts fractional milliseconds", function()
      clock.freeze()
      local s = abort.timeout(2.5)
      clock.advance(2.25)
      assert.is_false(s.aborted)
      clock.advance(0.25)
      assert.is_true(s.aborted)
    end)

    it("fixes the deadline when it is called", function()
      clock.freeze()
      clock.advance(40)
      local s = abort.timeout(10) -- due at now + 10, whatever happened before
      clock.advance(9)
      assert.is_false(s.aborted)
      clock.advance(1)
      assert.is_true(s.aborted)
    end)

    it("aborts at once (on the next advance) with 0 ms", function()
      clock.freeze()
      local s = abort.timeout(0)
      clock.advance(0)
      assert.is_true(s.aborted)
      assert.is_true(errors.is(s.reason, errors.TimeoutError))
    end)

    it("fires even when nothing but a dependent refers to it", function()
      clock.freeze()
      local got
      local d = abort.any({ abort.timeout(50) })
      d:on_abort(function(r) got = r end)
      full_gc()
      clock.advance(50)
      assert.is_true(d.aborted)
      assert.is_true(errors.is(got, errors.TimeoutError))
    end)

    it("fires even when nothing but its listener refers to it", function()
      clock.freeze()
      local got
      local function arm() abort.timeout(50):on_abort(function(r) got = r end) end
      arm()
      full_gc()
      clock.advance(50)
      assert.is_true(errors.is(got, errors.TimeoutError))
    end)

    it("gives each signal its own TimeoutError", function()
      clock.freeze()
      local a, b = abort.timeout(1), abort.timeout(1)
      clock.advance(1)
      assert.is_true(errors.is(a.reason, errors.TimeoutError))
      assert.are_not.equal(a.reason, b.reason)
    end)

    it("wakes a task sleeping on it with the TimeoutError", function()
      clock.freeze()
      local s = abort.timeout(30)
      local t = task.spawn(function() return pcall(task.sleep, 1000, s) end)
      clock.advance(30)
      assert.equal("done", t.status)
      local ok, err = t:await()
      assert.is_false(ok)
      assert.equal(s.reason, err)
    end)

    it("rejects a duration that is not a non-negative number, naming the argument", function()
      assert_bad(function() abort.timeout("x") end, "bad argument #1 to 'timeout' %(ms: number of milliseconds expected, got string%)")
      assert_bad(function() abort.timeout() end, "bad argument #1 to 'timeout' %(ms: number of milliseconds expected, got no value%)")
      assert_bad(function() abort.timeout(-1) end, "bad argument #1 to 'timeout' %(ms must be a non%-negative")
      assert_bad(function() abort.timeout(0 / 0) end, "bad argument #1 to 'timeout' %(ms must be a non%-negative")
    end)
  end)
end)
