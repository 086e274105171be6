-- Specs for ebb.abort: abort.any and what its signals hold in memory, as the API contract
-- ("ebb.abort" and "Rules every module follows") describes. Everything timed runs on
-- virtual time (clock.freeze + clock.advance).
package.path = "spec/support/?.lua;" .. package.path
local abort = require "ebb.abort"
local core = require "ebb.abort.core"
local errors = require "ebb.errors"
local clock = require "ebb.clock"

-- Asserts fn raises an error matching `pattern`, positioned at this spec file.
local assert_bad = require("asserts").bad_at("abort_any_spec%.lua")
local abort_support = require "abort_support"
local recorder, is_signal = abort_support.recorder, abort_support.is_signal
local full_gc = abort_support.full_gc

describe("ebb.abort", function()
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
end)
