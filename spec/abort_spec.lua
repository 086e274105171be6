-- Specs for ebb.abort: controllers, signals, listeners, abort.aborted and waiting with a
-- signal, as the API contract ("ebb.abort" and "Rules every module follows") describes.
-- Everything timed runs on virtual time (clock.freeze + clock.advance).
package.path = "spec/support/?.lua;" .. package.path
local abort = require "ebb.abort"
local core = require "ebb.abort.core"
local errors = require "ebb.errors"
local clock = require "ebb.clock"
local task = require "ebb.task"

-- Asserts fn raises an error matching `pattern`, positioned at this spec file.
local assert_bad = require("asserts").bad_at("abort_spec%.lua")
local abort_support = require "abort_support"
local recorder, is_signal = abort_support.recorder, abort_support.is_signal

describe("ebb.abort", function()
  describe("controller", function()
    it("has a signal that is not aborted and has no reason", function()
      local ctl = abort.controller()
      local s = ctl.signal
      assert.is_true(is_signal(s))
      assert.is_false(s.aborted)
      assert.is_nil(s.reason)
      assert.equal(s, ctl.signal) -- the same signal every time
      assert.equal("function", type(ctl.abort))
      assert.is_not_equal(s, abort.controller().signal)
    end)

    it("aborts its signal with the reason given, unchanged", function()
      local ctl = abort.controller()
      local reason = { "any value" }
      ctl:abort(reason)
      assert.is_true(ctl.signal.aborted)
      assert.equal(reason, ctl.signal.reason)
    end)

    it("turns a nil reason into a new AbortError", function()
      local a, b = abort.controller(), abort.controller()
      a:abort()
      b:abort(nil)
      assert.is_true(a.signal.aborted)
      assert.is_true(errors.is(a.signal.reason, errors.AbortError))
      assert.is_true(errors.is(b.signal.reason, errors.AbortError))
      assert.equal("This operation was aborted", a.signal.reason.message)
      assert.are_not.equal(a.signal.reason, b.signal.reason) -- a new one each time
    end)

    it("keeps a false reason as false (only nil becomes an AbortError)", function()
      local ctl = abort.controller()
      ctl:abort(false)
      assert.is_true(ctl.signal.aborted)
      assert.equal(false, ctl.signal.reason)
    end)

    it("does nothing on a second abort: reason kept, listeners not called again", function()
      local ctl, calls = abort.controller(), 0
      ctl.signal:on_abort(function() calls = calls + 1 end)
      ctl:abort("first")
      ctl:abort("second")
      ctl:abort()
      assert.equal("first", ctl.signal.reason)
      assert.equal(1, calls)
    end)

    it("rejects abort called on something that is not a controller", function()
      local ctl = abort.controller()
      assert_bad(function() ctl.abort(5) end, "bad argument #1 to 'abort' %(controller expected")
      assert.is_false(ctl.signal.aborted)
    end)
  end)

  describe("signal:throw_if_aborted", function()
    it("returns quietly while not aborted", function()
      local ctl = abort.controller()
      assert.has_no.errors(function() ctl.signal:throw_if_aborted() end)
    end)

    it("raises the reason itself, the same object", function()
      local ctl = abort.controller()
      local reason = errors.new("stop")
      ctl:abort(reason)
      local ok, err = pcall(ctl.signal.throw_if_aborted, ctl.signal)
      assert.is_false(ok)
      assert.equal(reason, err)
      ok, err = pcall(function() ctl.signal:throw_if_aborted() end)
      assert.is_false(ok)
      assert.equal(reason, err)
    end)

    it("raises a string reason unchanged, without a position added", function()
      local ctl = abort.controller()
      ctl:abort("plain")
      local ok, err = pcall(function() ctl.signal:throw_if_aborted() end)
      assert.is_false(ok)
      assert.equal("plain", err)
    end)
  end)

  describe("signal:on_abort", function()
    it("returns an off function", function()
      local ctl = abort.controller()
      local off = ctl.signal:on_abort(function() end)
      assert.equal("function", type(off))
    end)

    it("runs the listener once, synchronously inside abort, with the reason", function()
      local ctl, log = abort.controller(), {}
      local reason = errors.new("why")
      ctl.signal:on_abort(recorder(log, "a"))
      assert.same({}, log)
      ctl:abort(reason)
      assert.same({ "a" }, { log[1] }) -- already ran when abort returned
      assert.equal(1, #log)
      assert.equal(reason, log["a.reason"])
      assert.equal(1, log["a.nargs"])
      ctl:abort(reason)
      assert.equal(1, #log)
    end)

    it("sees the signal already aborted inside the listener", function()
      local ctl = abort.controller()
      local seen_aborted, seen_reason
      ctl.signal:on_abort(function()
        seen_aborted, seen_reason = ctl.signal.aborted, ctl.signal.reason
      end)
      ctl:abort("r")
      assert.is_true(seen_aborted)
      assert.equal("r", seen_reason)
    end)

    it("runs listeners in registration order", function()
      local ctl, log = abort.controller(), {}
      for i = 1, 10 do ctl.signal:on_abort(recorder(log, "l" .. i)) end
      ctl:abort("r")
      assert.same({ "l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8", "l9", "l10" }, { unpack(log, 1, #log) })
      for i = 1, 10 do assert.equal("r", log["l" .. i .. ".reason"]) end
    end)

    it("never calls a listener registered after the abort", function()
      local ctl, called = abort.controller(), false
      ctl:abort("r")
      local off = ctl.signal:on_abort(function() called = true end)
      assert.equal("function", type(off))
      assert.has_no.errors(off)
      ctl:abort("again")
      assert.is_false(called)
    end)

    it("never calls a listener registered on an abort.aborted signal", function()
      local called = false
      abort.aborted("r"):on_abort(function() called = true end)
      assert.is_false(called)
    end)

    it("removes the listener when off() is called", function()
      local ctl, log = abort.controller(), {}
      ctl.signal:on_abort(recorder(log, "a"))
      local off = ctl.signal:on_abort(recorder(log, "b"))
      ctl.signal:on_abort(recorder(log, "c"))
      off()
      off() -- twice is harmless
      ctl:abort("r")
      assert.same({ "a", "c" }, { unpack(log, 1, #log) })
      assert.has_no.errors(off) -- and after the abort too
    end)

    it("does not call a later listener removed by an earlier one during the abort", function()
      local ctl, log = abort.controller(), {}
      local off_c
      ctl.signal:on_abort(function() log[#log + 1] = "a"; off_c() end)
      ctl.signal:on_abort(recorder(log, "b"))
      off_c = ctl.signal:on_abort(recorder(log, "c"))
      ctl:abort("r")
      assert.same({ "a", "b" }, { unpack(log, 1, #log) })
    end)

    it("keeps the same function registered twice as two listeners, each removable", function()
      local ctl, calls = abort.controller(), 0
      local function fn() calls = calls + 1 end
      local off1 = ctl.signal:on_abort(fn)
      ctl.signal:on_abort(fn)
      off1()
      ctl:abort()
      assert.equal(1, calls)
    end)

    it("runs the other listeners when one raises an error", function()
      -- The error is reported as an unhandled error (here to our hook; on its
      -- own, on stderr with exit status 1).
      local core = require "ebb.core"
      local reported = {}
      local previous = require("ebb.host").set_unhandled_hook(function(_, e) reported[#reported + 1] = e; return true end)
      local ctl, log = abort.controller(), {}
      ctl.signal:on_abort(recorder(log, "a"))
      ctl.signal:on_abort(function() error("listener failure (expected by abort_spec)") end)
      ctl.signal:on_abort(recorder(log, "c"))
      assert.has_no.errors(function() ctl:abort("r") end)
      assert.same({ "a", "c" }, { unpack(log, 1, #log) })
      require("ebb.host").set_unhandled_hook(previous)
      assert.equal("r", log["c.reason"])
      assert.is_true(ctl.signal.aborted)
      assert.equal(1, #reported)
      assert.matches("listener failure", reported[1])
    end)

    it("lets a listener abort another controller, whose listeners run inside it", function()
      local a, b, log = abort.controller(), abort.controller(), {}
      a.signal:on_abort(function(r)
        log[#log + 1] = "a1"
        b:abort("from a: " .. r)
        log[#log + 1] = "a1 end"
      end)
      a.signal:on_abort(recorder(log, "a2"))
      b.signal:on_abort(recorder(log, "b"))
      a:abort("r")
      assert.same({ "a1", "b", "a1 end", "a2" }, { unpack(log, 1, #log) })
      assert.equal("from a: r", b.signal.reason)
    end)

    it("rejects a listener that is not a function, naming the argument", function()
      local ctl = abort.controller()
      assert_bad(function() ctl.signal:on_abort(5) end,
        "bad argument #1 to 'on_abort' %(function expected, got number%)")
      assert_bad(function() ctl.signal:on_abort() end,
        "bad argument #1 to 'on_abort' %(function expected, got no value%)")
    end)
  end)

  describe("abort.aborted", function()
    it("gives an already-aborted signal with the reason given", function()
      local reason = { "r" }
      local s = abort.aborted(reason)
      assert.is_true(is_signal(s))
      assert.is_true(s.aborted)
      assert.equal(reason, s.reason)
      local ok, err = pcall(function() s:throw_if_aborted() end)
      assert.is_false(ok)
      assert.equal(reason, err)
    end)

    it("defaults the reason to a new AbortError", function()
      local s1, s2 = abort.aborted(), abort.aborted()
      assert.is_true(s1.aborted)
      assert.is_true(errors.is(s1.reason, errors.AbortError))
      assert.are_not.equal(s1.reason, s2.reason)
    end)
  end)

  describe("waiting with signals", function()
    it("raises the reason at once when given an already-aborted signal", function()
      clock.freeze()
      local t0 = clock.now()
      local reason = errors.new("already")
      local ok, err = pcall(task.sleep, 0, abort.aborted(reason))
      assert.is_false(ok)
      assert.equal(reason, err)
      assert.equal(t0, clock.now())
    end)

    it("raises the reason when the signal aborts during the wait", function()
      clock.freeze()
      local ctl = abort.controller()
      local reason = errors.new("stop")
      local t = task.spawn(function() return pcall(task.sleep, 1000, ctl.signal) end)
      clock.advance(10)
      assert.equal("running", t.status)
      ctl:abort(reason)
      clock.advance(0)
      assert.equal("done", t.status)
      local ok, err = t:await()
      assert.is_false(ok)
      assert.equal(reason, err)
    end)

    it("leaves nothing on the signal after the wait ends", function()
      clock.freeze()
      local ctl = abort.controller()
      local t = task.spawn(function() task.sleep(5, ctl.signal) end)
      clock.advance(5)
      assert.equal("done", t.status)
      assert.is_false(core.watched(ctl.signal))
    end)

    it("rejects a signal argument that is not a signal, naming the argument", function()
      assert_bad(function() task.sleep(1, 5) end, "bad argument #2 to 'sleep' %(abort signal expected, got number%)")
      assert_bad(function() task.sleep(1, {}) end, "bad argument #2 to 'sleep' %(abort signal expected, got table%)")
    end)
  end)
end)
