-- Specs for ebb.abort: controllers, signals, listeners, abort.aborted, abort.timeout and
-- abort.any, as the API contract ("ebb.abort" and "Rules every module follows") describes.
-- Everything timed runs on virtual time (clock.freeze + clock.advance).
package.path = "spec/support/?.lua;" .. package.path
local abort = require "ebb.abort"
local core = require "ebb.abort.core"
local errors = require "ebb.errors"
local clock = require "ebb.clock"
local task = require "ebb.task"

-- Asserts fn raises an error matching `pattern`, positioned at this spec file.
local assert_bad = require("asserts").bad_at("abort_spec%.lua")

-- Returns a listener that appends `name` (and the reason it got) to `log`.
local function recorder(log, name)
  return function(...)
    log[#log + 1] = name
    log[name .. ".reason"] = (...)
    log[name .. ".nargs"] = select("#", ...)
  end
end

-- A signal is what abort.any accepts as an input.
local function is_signal(v)
  return type(v) == "userdata" and (pcall(abort.any, { v }))
end

local function full_gc()
  collectgarbage("collect")
  collectgarbage("collect")
end

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

  describe("abort.any", function()
    it("aborts with the reason of the first input to abort", function()
      local a, b, c = abort.controller(), abort.controller(), abort.controller()
      local s = abort.any({ a.signal, b.signal, c.signal })
      assert.is_true(is_signal(s))
      assert.is_false(s.aborted)
      b:abort("from b")
      assert.is_true(s.aborted)
      assert.equal("from b", s.reason)
      a:abort("from a")
      assert.equal("from b", s.reason)
    end)

    it("passes the reason object through unchanged", function()
      local a = abort.controller()
      local s = abort.any({ a.signal })
      local reason = errors.new("x")
      local got
      s:on_abort(function(r) got = r end)
      a:abort(reason)
      assert.equal(reason, s.reason)
      assert.equal(reason, got)
    end)

    it("is already aborted, with the first aborted input's reason, when inputs are", function()
      local live = abort.controller()
      local s = abort.any({ live.signal, abort.aborted("first"), abort.aborted("second") })
      assert.is_true(s.aborted)
      assert.equal("first", s.reason)
      live:abort("late")
      assert.equal("first", s.reason)
    end)

    it("uses the list order, not the order the inputs aborted, for already-aborted inputs", function()
      local a, b = abort.controller(), abort.controller()
      b:abort("b aborted first")
      a:abort("a aborted second")
      assert.equal("a aborted second", abort.any({ a.signal, b.signal }).reason)
    end)

    it("never aborts with an empty list", function()
      clock.freeze()
      local s = abort.any({})
      local called = false
      s:on_abort(function() called = true end)
      clock.advance(1e9)
      assert.is_false(s.aborted)
      assert.is_false(called)
    end)

    it("aborts on a timeout input at its deadline", function()
      clock.freeze()
      local ctl = abort.controller()
      local s = abort.any({ ctl.signal, abort.timeout(20) })
      clock.advance(19)
      assert.is_false(s.aborted)
      clock.advance(1)
      assert.is_true(errors.is(s.reason, errors.TimeoutError))
    end)

    it("marks every dependent aborted before any listener runs", function()
      local src = abort.controller()
      local seen = {}
      local d1, d2, d3
      src.signal:on_abort(function(r)
        seen.src = { d1.aborted, d2.aborted, d3.aborted, d1.reason == r, d3.reason == r }
      end)
      d1 = abort.any({ src.signal })
      d2 = abort.any({ abort.controller().signal, src.signal })
      d3 = abort.any({ d1 }) -- through another dependent
      d1:on_abort(function() seen.d1 = { d2.aborted, d3.aborted } end)
      src:abort({})
      assert.same({ true, true, true, true, true }, seen.src)
      assert.same({ true, true }, seen.d1)
    end)

    it("runs the source's listeners first, then the dependents' in creation order", function()
      local src, log = abort.controller(), {}
      src.signal:on_abort(recorder(log, "src1"))
      local d1 = abort.any({ src.signal })
      local d2 = abort.any({ abort.controller().signal, src.signal })
      local d3 = abort.any({ src.signal })
      src.signal:on_abort(recorder(log, "src2"))
      -- listeners registered in another order than the dependents were created
      d3:on_abort(recorder(log, "d3"))
      d2:on_abort(recorder(log, "d2"))
      d1:on_abort(recorder(log, "d1a"))
      d1:on_abort(recorder(log, "d1b"))
      src:abort("r")
      assert.same({ "src1", "src2", "d1a", "d1b", "d2", "d3" }, { unpack(log, 1, #log) })
      for _, k in ipairs({ "src1", "src2", "d1a", "d1b", "d2", "d3" }) do
        assert.equal("r", log[k .. ".reason"])
      end
    end)

    it("flattens: an any of an any aborts with its inputs' inputs", function()
      local a, b, c = abort.controller(), abort.controller(), abort.controller()
      local inner = abort.any({ a.signal, b.signal })
      local outer = abort.any({ inner, c.signal })
      local got
      outer:on_abort(function(r) got = r end)
      b:abort("from b")
      assert.is_true(inner.aborted)
      assert.is_true(outer.aborted)
      assert.equal("from b", outer.reason)
      assert.equal("from b", got)

      local a2, c2 = abort.controller(), abort.controller()
      local inner2 = abort.any({ a2.signal })
      local outer2 = abort.any({ inner2, c2.signal })
      c2:abort("from c")
      assert.is_true(outer2.aborted)
      assert.is_false(inner2.aborted)
      a2:abort("from a")
      assert.equal("from c", outer2.reason)
    end)

    it("works with an any of an any whose inner signal is no longer referenced", function()
      local a = abort.controller()
      local outer
      do
        outer = (function() return abort.any({ abort.any({ a.signal }) }) end)()
      end
      full_gc()
      a:abort("r")
      assert.is_true(outer.aborted)
      assert.equal("r", outer.reason)
    end)

    it("lists the same input twice without aborting twice", function()
      local a, calls = abort.controller(), 0
      local s = abort.any({ a.signal, a.signal })
      s:on_abort(function() calls = calls + 1 end)
      a:abort("r")
      assert.equal(1, calls)
      assert.equal("r", s.reason)
    end)

    it("rejects a list that is not a table of signals, naming the argument", function()
      local ctl = abort.controller()
      assert_bad(function() abort.any(5) end, "bad argument #1 to 'any' %(table expected, got number%)")
      assert_bad(function() abort.any() end, "bad argument #1 to 'any' %(table expected, got no value%)")
      assert_bad(function() abort.any({ 5 }) end, "bad argument #1 to 'any' %(item 1 is not an abort signal%)")
      assert_bad(function() abort.any({ ctl.signal, {} }) end, "bad argument #1 to 'any' %(item 2 is not an abort signal%)")
      assert.equal(0, core.dependents(ctl.signal))
    end)

    it("rejects a bad item even after an already-aborted one", function()
      assert_bad(function() abort.any({ abort.aborted("r"), "x" }) end,
        "bad argument #1 to 'any' %(item 2 is not an abort signal%)")
    end)
  end)

  describe("memory", function()
    it("holds no growing state in a parent used by 100,000 dropped abort.any signals", function()
      local parent = abort.controller()
      local function noop() end
      full_gc()
      local before = collectgarbage("count")
      for i = 1, 100000 do
        local d = abort.any({ parent.signal })
        if i % 2 == 0 then
          local off = d:on_abort(noop)
          off()
        end
      end
      full_gc()
      assert.is_true(core.dependents(parent.signal) <= 10,
        "parent still has " .. core.dependents(parent.signal) .. " dependents")
      local grown_kb = collectgarbage("count") - before
      assert.is_true(grown_kb < 4096, ("the heap grew by %.0f KB"):format(grown_kb))
      -- and the parent still works
      local d = abort.any({ parent.signal })
      parent:abort("r")
      assert.equal("r", d.reason)
    end)

    it("holds no growing state when the dependents are any of any", function()
      local parent = abort.controller()
      for _ = 1, 20000 do
        local other = abort.controller()
        abort.any({ abort.any({ parent.signal, other.signal }), other.signal })
      end
      full_gc()
      assert.is_true(core.dependents(parent.signal) <= 10,
        "parent still has " .. core.dependents(parent.signal) .. " dependents")
    end)

    it("keeps a dependent with a listener alive, unreferenced, until the parent aborts", function()
      local parent = abort.controller()
      local got = {}
      local function make(with_listener, name)
        local d = abort.any({ parent.signal })
        if with_listener then d:on_abort(function(r) got[#got + 1] = name .. ":" .. r end) end
      end
      -- control: a dependent without a listener made the same way is collected
      make(false, "plain")
      full_gc()
      assert.equal(0, core.dependents(parent.signal))

      make(true, "a")
      make(true, "b")
      full_gc()
      assert.equal(2, core.dependents(parent.signal))
      parent:abort("r")
      assert.same({ "a:r", "b:r" }, got)
      assert.equal(0, core.dependents(parent.signal))
    end)

    it("releases a dependent and its listener once all its sources are collected", function()
      -- DOM: a dependent is kept alive by its listeners only while it has source signals.
      local weak = setmetatable({}, { __mode = "v" })
      local function make()
        local ctl = abort.controller()
        local fn = function() end
        abort.any({ ctl.signal }):on_abort(fn)
        weak.source, weak.listener = ctl, fn
      end
      make()
      full_gc()
      full_gc()
      assert.is_nil(weak.source) -- the controller is gone, so nothing can abort the dependent
      assert.is_nil(weak.listener, "the listener of an unreachable dependent is still held")
    end)

    it("releases a dependent whose listener was removed", function()
      local parent = abort.controller()
      local function make()
        local d = abort.any({ parent.signal })
        return d:on_abort(function() end)
      end
      local off = make()
      full_gc()
      assert.equal(1, core.dependents(parent.signal))
      off()
      full_gc()
      assert.equal(0, core.dependents(parent.signal))
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
