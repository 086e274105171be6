-- Specs for ebb.task, one rule of the API contract ("rules every module follows",
-- "ebb.task") at a time. Every `it` body runs in a task of its own; anything timed
-- runs on the virtual clock (the runner puts the clock back to real after each spec).
package.path = "spec/support/?.lua;" .. package.path
local task = require "ebb.task"
local clock = require "ebb.clock"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local core = require "ebb.core"

local raised = require("asserts").raised -- calls fn(...), which must raise; returns what it raised

-- Awaits t, which must fail; returns its error.
local function await_error(t)
  return raised(t.await, t)
end

-- A task body that waits (almost) forever; when cancelled it records that its
-- cleanup ran in `log` and re-raises the reason. Returns "finished" if not cancelled.
local function sleeper(log, ms)
  return function()
    local ok, e = pcall(task.sleep, ms or 1e6)
    log[#log + 1] = "cleanup"
    if not ok then error(e, 0) end
    return "finished"
  end
end

local function count(...) return select("#", ...) end
local function pack(...) return { n = select("#", ...), ... } end

-- Virtual time readings are floats on a real-time base: compare to within rounding.
local function assert_elapsed(t0, ms, now)
  assert.near(t0 + ms, now or clock.now(), 1e-6)
end

describe("ebb.task", function()
  describe("spawn", function()
    it("starts fn on the next scheduler turn, not inside spawn", function()
      local log = {}
      local t = task.spawn(function(a, b) log[#log + 1] = "ran " .. a .. b end, "x", "y")
      log[#log + 1] = "spawn returned"
      assert.same({ "spawn returned" }, log)
      assert.equal("pending", t.status)
      t:await()
      assert.same({ "spawn returned", "ran xy" }, log)
    end)

    it("returns a Task whose await gives all of fn's results", function()
      local t = task.spawn(function(a, b) return a + b, nil, "three" end, 1, 2)
      local n = count(t:await())
      assert.equal(3, n)
      local a, b, c = t:await() -- a second await gives the same results
      assert.equal(3, a)
      assert.is_nil(b)
      assert.equal("three", c)
      assert.equal(false, (task.spawn(function() return false end):await()))
      assert.equal(0, count(task.spawn(function() end):await()))
    end)

    it("gives fn no name, as LuaJIT gives a coroutine's body none, not the name of ebb's variable", function()
      for _, args in ipairs { {}, { {} }, { {}, 2 } } do
        local e = await_error(task.spawn(string.rep, unpack(args)))
        assert.matches("bad argument #%d to '%?'", e)
      end
      local tb
      task.spawn(function() tb = debug.traceback() end):await()
      assert.matches("\tspec/task_spec.lua:%d+: in function <spec/task_spec.lua:%d+>\n", tb)
      assert.is_nil(tb:find("'fn'", 1, true))
    end)
  end)

  describe("await", function()
    it("raises the task's error object itself", function()
      local boom = errors.new("boom")
      local t = task.spawn(function() error(boom) end)
      assert.equal(boom, await_error(t))
      assert.equal(boom, await_error(t)) -- and again on a second await
      local plain = { code = 7 }
      assert.equal(plain, await_error(task.spawn(function() error(plain) end)))
      assert.equal("plain string", await_error(task.spawn(function() error("plain string", 0) end)))
    end)

    it("waits for a task that has not ended yet", function()
      clock.auto()
      local t0 = clock.now()
      local t = task.spawn(function() task.sleep(40); return "late" end)
      assert.equal("late", t:await())
      assert_elapsed(t0, 40)
    end)
  end)

  describe("status", function()
    it("is pending, then running (also while waiting), then done", function()
      clock.freeze()
      local inside
      local t = task.spawn(function()
        inside = task.current().status
        task.sleep(10)
      end)
      assert.equal("pending", t.status)
      clock.advance(0)
      assert.equal("running", inside)
      assert.equal("running", t.status) -- waiting in task.sleep
      clock.advance(9)
      assert.equal("running", t.status)
      clock.advance(1)
      assert.equal("done", t.status)
    end)

    it("is failed after fn raises", function()
      local t = task.spawn(function() error("nope", 0) end)
      await_error(t)
      assert.equal("failed", t.status)
    end)

    it("is cancelled after a cancelled task ends with the reason", function()
      local t = task.spawn(sleeper({}))
      task.yield()
      t:cancel()
      await_error(t)
      assert.equal("cancelled", t.status)
    end)
  end)

  describe("current", function()
    it("is the running task", function()
      local me = task.current()
      assert.is_not_nil(me)
      assert.equal("running", me.status)
      local inner
      local t = task.spawn(function() inner = task.current() end)
      t:await()
      assert.equal(t, inner)
      assert.not_equal(me, inner)
      assert.equal(me, task.current())
    end)
  end)

  describe("cancel", function()
    it("raises the reason at the task's current wait and runs its cleanup", function()
      clock.freeze()
      local log = {}
      local reason = errors.new("stop")
      local t = task.spawn(sleeper(log))
      clock.advance(0)
      assert.same({}, log)
      t:cancel(reason)
      assert.equal(reason, await_error(t))
      assert.same({ "cleanup" }, log)
      assert.equal("cancelled", t.status)
    end)

    it("makes every later wait of the task raise the reason too", function()
      local reason = errors.new("stop")
      local seen = {}
      local t = task.spawn(function()
        seen[1] = select(2, pcall(task.sleep, 1e6))
        seen[2] = select(2, pcall(task.sleep, 0))
        seen[3] = select(2, pcall(task.yield))
        seen[4] = select(2, pcall(task.sleep, 1, abort.controller().signal))
        return "caught them all"
      end)
      task.yield()
      t:cancel(reason)
      assert.equal("caught them all", t:await())
      assert.equal(4, #seen)
      for i = 1, 4 do assert.equal(reason, seen[i]) end
    end)

    it("uses an AbortError when no reason is given", function()
      local t = task.spawn(sleeper({}))
      task.yield()
      t:cancel()
      local e = await_error(t)
      assert.is_true(errors.is(e, errors.AbortError))
      assert.equal(e, t.signal.reason)
    end)

    it("aborts t.signal with the reason", function()
      local t = task.spawn(sleeper({}))
      local reason = errors.new("why")
      assert.is_false(t.signal.aborted)
      task.yield()
      t:cancel(reason)
      assert.is_true(t.signal.aborted)
      assert.equal(reason, t.signal.reason)
      await_error(t)
    end)

    it("before the task starts: fn never runs and the task is cancelled", function()
      local ran = false
      local reason = errors.new("too early")
      local t = task.spawn(function() ran = true end)
      t:cancel(reason)
      task.yield()
      task.yield()
      assert.is_false(ran)
      assert.equal("cancelled", t.status)
      assert.equal(reason, await_error(t))
    end)

    it("of a delayed task before it starts: fn never runs and its timer is gone", function()
      clock.freeze()
      local before = core.stats().timers
      local ran = false
      local t = task.delay(10, function() ran = true end)
      t:cancel()
      assert.equal(before, core.stats().timers)
      clock.advance(20)
      assert.is_false(ran)
      assert.equal("cancelled", t.status)
      assert.is_true(errors.is(await_error(t), errors.AbortError))
    end)

    it("of a finished task does nothing", function()
      local done = task.spawn(function() return "v" end)
      done:await()
      done:cancel(errors.new("late"))
      assert.equal("done", done.status)
      assert.equal("v", done:await())

      local boom = errors.new("boom")
      local failed = task.spawn(function() error(boom) end)
      await_error(failed)
      failed:cancel(errors.new("late"))
      assert.equal("failed", failed.status)
      assert.equal(boom, await_error(failed))
    end)

    it("a second time does nothing: the first reason stands", function()
      local first, second = errors.new("first"), errors.new("second")
      local t = task.spawn(sleeper({}))
      task.yield()
      t:cancel(first)
      t:cancel(second)
      assert.equal(first, await_error(t))
    end)

    it("ends a task that nobody awaits as cancelled, never as an unhandled error", function()
      -- (an unhandled error would be reported against this spec)
      local log = {}
      local t = task.spawn(sleeper(log))
      task.yield()
      t:cancel()
      for _ = 1, 5 do task.yield() end
      assert.equal("cancelled", t.status)
      assert.same({ "cleanup" }, log)
    end)
  end)

  describe("sleep", function()
    it("where it cannot wait, says so at the line that called it, not inside ebb", function()
      local said = {}
      local ctl = abort.controller()
      ctl.signal:on_abort(function()
        said[1] = select(2, pcall(task.sleep, 1))
        said[2] = select(2, pcall(function() require("ebb.channel").new(0):recv() end))
      end)
      ctl:abort()
      for i = 1, 2 do assert.matches("^spec/task_spec.lua:%d+: cannot wait outside a task: abort listeners", said[i]) end
    end)

    it("waits ms of virtual time, fractional ones too", function()
      clock.freeze()
      local t0 = clock.now()
      local woke = {}
      local function nap(ms) task.sleep(ms); woke[ms] = clock.now() end
      local a, b = task.spawn(nap, 2.5), task.spawn(nap, 2.75)
      clock.advance(2.25)
      assert.equal("running", a.status)
      clock.advance(0.375)
      assert.equal("done", a.status)
      assert.equal("running", b.status)
      clock.advance(1)
      assert.equal("done", b.status)
      assert_elapsed(t0, 2.5, woke[2.5])
      assert_elapsed(t0, 2.75, woke[2.75])
    end)

    it("with an already-aborted signal raises the reason at once", function()
      clock.freeze()
      local before = core.stats().timers
      local reason = errors.new("already")
      local t0 = clock.now()
      assert.equal(reason, raised(task.sleep, 50, abort.aborted(reason)))
      assert.equal(reason, raised(task.sleep, 0, abort.aborted(reason)))
      assert.equal(t0, clock.now())
      assert.equal(before, core.stats().timers)
    end)

    it("aborted mid-way by a controller raises the reason and leaves no timer", function()
      clock.freeze()
      local before = core.stats().timers
      local ctl = abort.controller()
      local reason = errors.new("enough")
      local t = task.spawn(function() return pcall(task.sleep, 1000, ctl.signal) end)
      clock.advance(10)
      assert.equal("running", t.status)
      assert.equal(before + 1, core.stats().timers)
      ctl:abort(reason)
      local ok, e = t:await()
      assert.is_false(ok)
      assert.equal(reason, e)
      assert.equal(before, core.stats().timers)
    end)

    it("aborted by a controller without a reason raises an AbortError", function()
      local ctl = abort.controller()
      local t = task.spawn(function() return pcall(task.sleep, 1e6, ctl.signal) end)
      task.yield()
      ctl:abort()
      local ok, e = t:await()
      assert.is_false(ok)
      assert.is_true(errors.is(e, errors.AbortError))
    end)
  end)

  describe("every wait watches the task's own signal", function()
    -- Each body waits on something that never comes: `blocker` never ends, `never`
    -- is never settled. Cancelling the task must end the wait with the reason.
    local waits = {
      { "task.sleep", function() task.sleep(1e6) end },
      { "task.sleep with another signal", function() task.sleep(1e6, abort.controller().signal) end },
      { "t:await()", function(blocker) blocker:await() end },
      { "future:await()", function(_, never) never:await() end },
      { "future:await{timeout=}", function(_, never) never:await({ timeout = 1e6 }) end },
      { "future:await{signal=}", function(_, never) never:await({ signal = abort.controller().signal }) end },
      { "task.all", function(blocker) task.all({ blocker }) end },
      { "task.race", function(blocker) task.race({ blocker }) end },
      { "task.any", function(blocker) task.any({ blocker }) end },
      { "task.all_settled", function(blocker) task.all_settled({ blocker }) end },
      { "task.timeout", function(_, never) task.timeout(1e6, function() never:await() end) end },
      { "task.group", function(_, never) task.group(function(g) g:spawn(function() never:await() end) end) end },
    }
    for _, case in ipairs(waits) do
      local name, wait = case[1], case[2]
      it(name, function()
        clock.freeze()
        local before = core.stats().timers
        local never = task.future()
        local blocker = task.spawn(function() never:await() end)
        local reason = errors.new("cancelled while waiting")
        local t = task.spawn(wait, blocker, never)
        clock.advance(0)
        assert.equal("running", t.status)
        t:cancel(reason)
        assert.equal(reason, await_error(t))
        assert.equal("cancelled", t.status)
        blocker:cancel()
        await_error(blocker)
        assert.equal(before, core.stats().timers)
      end)
    end
  end)

  describe("in a task whose own signal is aborted, an awaiting function raises at once", function()
    -- "without taking or starting anything (even when ... a value is free)"
    local cases = {
      { "task.sleep(0)", function() task.sleep(0) end },
      { "task.yield()", function() task.yield() end },
      { "t:await() of a finished task", function(done) return done:await() end },
      { "future:await() of a resolved future", function(_, f) return f:await() end },
      { "task.all of a finished task", function(done) return task.all({ done }) end },
      { "task.race of a finished task", function(done) return task.race({ done }) end },
      { "task.any of a finished task", function(done) return task.any({ done }) end },
      { "task.all_settled of a finished task", function(done) return task.all_settled({ done }) end },
      { "task.timeout", function() return task.timeout(10, function() return "v" end) end },
    }
    for _, case in ipairs(cases) do
      local name, call = case[1], case[2]
      it(name, function()
        local done = task.spawn(function() return "v" end)
        done:await()
        local f = task.future()
        f:resolve("v")
        local reason = errors.new("own signal aborted")
        local t = task.spawn(function()
          task.current():cancel(reason)
          return pcall(call, done, f)
        end)
        local ok, e = t:await()
        assert.is_false(ok, name .. " did not raise")
        assert.equal(reason, e)
      end)
    end

    it("future:await{signal=} with an already-aborted signal, though the future is resolved", function()
      local f = task.future()
      f:resolve("v")
      local reason = errors.new("already")
      assert.equal(reason, raised(f.await, f, { signal = abort.aborted(reason) }))
    end)
  end)

  describe("yield", function()
    it("lets other ready tasks run, in turn", function()
      local log = {}
      local function worker(name)
        for i = 1, 3 do
          log[#log + 1] = name .. i
          task.yield()
        end
      end
      local a, b = task.spawn(worker, "a"), task.spawn(worker, "b")
      a:await()
      b:await()
      assert.same({ "a1", "b1", "a2", "b2", "a3", "b3" }, log)
    end)

    it("returns after tasks spawned before it have run", function()
      local ran = false
      local t = task.spawn(function() ran = true end)
      task.yield()
      assert.is_true(ran)
      assert.equal("done", t.status)
    end)
  end)

  describe("delay", function()
    it("runs fn with its arguments after ms of virtual time and returns a Task", function()
      clock.freeze()
      local t0 = clock.now()
      local t = task.delay(100, function(a, b) return a + b, clock.now() end, 2, 3)
      assert.equal("pending", t.status)
      clock.advance(99)
      assert.equal("pending", t.status)
      clock.advance(1)
      assert.equal("done", t.status)
      local sum, at = t:await()
      assert.equal(5, sum)
      assert_elapsed(t0, 100, at)
    end)

    it("can be awaited before it fires, and raises fn's error", function()
      clock.auto()
      local boom = errors.new("boom")
      assert.equal(boom, await_error(task.delay(5, function() error(boom) end)))
    end)
  end)

  describe("all", function()
    it("gives each one's first result in list order, from tasks and functions", function()
      clock.auto()
      local t0 = clock.now()
      local slow = task.spawn(function() task.sleep(30); return "slow", "ignored" end)
      local r = task.all({
        slow,
        function() task.sleep(10); return "fast" end,
        function() return 3 end,
      })
      assert.same({ "slow", "fast", 3 }, r)
      assert_elapsed(t0, 30) -- they ran side by side
    end)

    it("of an empty list is an empty list", function()
      assert.same({}, task.all({}))
    end)

    it("raises the first failure in time and cancels the others", function()
      clock.auto()
      local t0 = clock.now()
      local first, later = errors.new("first"), errors.new("later")
      local log = {}
      local other = task.spawn(sleeper(log, 1000))
      local e = raised(task.all, {
        function() task.sleep(20); error(later) end,
        function() task.sleep(10); error(first) end,
        other,
      })
      assert.equal(first, e)
      assert_elapsed(t0, 10)
      pcall(other.await, other)
      assert.equal("cancelled", other.status)
      assert.same({ "cleanup" }, log)
    end)
  end)

  describe("race", function()
    it("gives the winner's results and cancels the losers", function()
      clock.auto()
      local log = {}
      local loser = task.spawn(sleeper(log, 100))
      local r = pack(task.race({
        loser,
        function() task.sleep(10); return "win", 2 end,
      }))
      assert.same({ n = 2, "win", 2 }, r)
      pcall(loser.await, loser)
      assert.equal("cancelled", loser.status)
      assert.same({ "cleanup" }, log)
    end)

    it("raises the error of the first one to end when it failed", function()
      clock.auto()
      local boom = errors.new("boom")
      local log = {}
      local loser = task.spawn(sleeper(log, 100))
      assert.equal(boom, raised(task.race, { loser, function() task.sleep(5); error(boom) end }))
      pcall(loser.await, loser)
      assert.equal("cancelled", loser.status)
    end)
  end)

  describe("any", function()
    it("gives the first success, skipping failures, and cancels the losers", function()
      clock.auto()
      local log = {}
      local loser = task.spawn(sleeper(log, 100))
      local a, b = task.any({
        function() task.sleep(5); error("early failure", 0) end,
        loser,
        function() task.sleep(10); return "ok", "two" end,
      })
      assert.equal("ok", a)
      assert.equal("two", b)
      pcall(loser.await, loser)
      assert.equal("cancelled", loser.status)
      assert.same({ "cleanup" }, log)
    end)

    it("raises an AggregateError with the errors in list order when all fail", function()
      clock.auto()
      local e1, e2, e3 = errors.new("one"), errors.new("two"), "three"
      local e = raised(task.any, {
        function() task.sleep(20); error(e1) end,
        function() task.sleep(10); error(e2) end,
        function() error(e3, 0) end,
      })
      assert.is_true(errors.is(e, errors.AggregateError))
      assert.equal(3, #e.errors)
      assert.equal(e1, e.errors[1])
      assert.equal(e2, e.errors[2])
      assert.equal(e3, e.errors[3])
    end)
  end)

  describe("all_settled", function()
    it("gives {ok=true, value=} or {ok=false, error=} for each, in list order", function()
      clock.auto()
      local boom = errors.new("boom")
      local r = task.all_settled({
        function() task.sleep(10); return "a", "ignored" end,
        function() error(boom) end,
        task.spawn(function() return 7 end),
      })
      assert.equal(3, #r)
      assert.same({ ok = true, value = "a" }, r[1])
      assert.is_false(r[2].ok)
      assert.equal(boom, r[2].error)
      assert.same({ ok = true, value = 7 }, r[3])
    end)
  end)

  describe("group", function()
    it("returns when all children have ended", function()
      clock.auto()
      local t0 = clock.now()
      local log, children = {}, {}
      task.group(function(g)
        children[1] = g:spawn(function() task.sleep(20); log[#log + 1] = "b" end)
        children[2] = g:spawn(function(x) task.sleep(10); log[#log + 1] = x end, "a")
      end)
      assert.same({ "a", "b" }, log)
      assert_elapsed(t0, 20)
      assert.equal("done", children[1].status)
      assert.equal("done", children[2].status)
    end)

    it("raises the first failure after cancelling the rest and waiting for their cleanup", function()
      clock.auto()
      local t0 = clock.now()
      local boom = errors.new("boom")
      local log, sibling = {}, nil
      local e = raised(task.group, function(g)
        sibling = g:spawn(sleeper(log, 1000))
        g:spawn(function() task.sleep(10); error(boom) end)
      end)
      assert.equal(boom, e)
      assert_elapsed(t0, 10)
      assert.equal("cancelled", sibling.status)
      assert.same({ "cleanup" }, log)
    end)

    it("when fn itself fails, cancels the children and raises fn's error", function()
      clock.auto()
      local boom = errors.new("boom")
      local log, child = {}, nil
      local e = raised(task.group, function(g)
        child = g:spawn(sleeper(log, 1000))
        task.sleep(5)
        error(boom)
      end)
      assert.equal(boom, e)
      assert.equal("cancelled", child.status)
      assert.same({ "cleanup" }, log)
    end)
  end)

  describe("timeout", function()
    it("gives fn's results when it ends in time", function()
      clock.auto()
      local a, b = task.timeout(50, function(x) task.sleep(10); return x, "y" end, "x")
      assert.equal("x", a)
      assert.equal("y", b)
    end)

    it("raises fn's error unchanged", function()
      local boom = errors.new("boom")
      assert.equal(boom, raised(task.timeout, 50, function() error(boom) end))
    end)

    it("raises a TimeoutError and cancels fn's task, whose cleanup runs", function()
      clock.auto()
      local t0 = clock.now()
      local log, inner = {}, nil
      local body = sleeper(log, 1000)
      local e = raised(task.timeout, 50, function()
        inner = task.current()
        return body()
      end)
      assert.is_true(errors.is(e, errors.TimeoutError))
      assert_elapsed(t0, 50)
      assert.equal("cancelled", inner.status)
      assert.same({ "cleanup" }, log)
    end)
  end)

  describe("future", function()
    it("resolve: settled, await gives every value, a second resolve returns false", function()
      local f = task.future()
      assert.is_false(f.settled)
      assert.is_true(f:resolve(1, nil, "three"))
      assert.is_true(f.settled)
      assert.is_false(f:resolve("again"))
      assert.is_false(f:reject(errors.new("too late")))
      assert.equal(3, count(f:await()))
      local a, b, c = f:await()
      assert.equal(1, a)
      assert.is_nil(b)
      assert.equal("three", c)
    end)

    it("wakes every task awaiting it", function()
      clock.auto()
      local f = task.future()
      local w1 = task.spawn(function() return f:await() end)
      local w2 = task.spawn(function() return f:await() end)
      task.yield()
      assert.equal("running", w1.status)
      task.delay(10, function() f:resolve("v", 2) end):await()
      local a, b = w1:await()
      assert.equal("v", a)
      assert.equal(2, b)
      assert.equal("v", w2:await())
    end)

    it("reject: await raises the error object itself", function()
      local f = task.future()
      local boom = errors.new("boom")
      assert.is_true(f:reject(boom))
      assert.is_true(f.settled)
      assert.is_false(f:resolve("late"))
      assert.equal(boom, raised(f.await, f))
    end)

    it("await{timeout=} raises a TimeoutError and leaves nothing behind", function()
      clock.auto()
      local before = core.stats().timers
      local t0 = clock.now()
      local f = task.future()
      local e = raised(f.await, f, { timeout = 25 })
      assert.is_true(errors.is(e, errors.TimeoutError))
      assert_elapsed(t0, 25)
      assert.equal(before, core.stats().timers)
      assert.is_false(f.settled)
      f:resolve("later") -- no stale waiter to trip over
      assert.equal("later", f:await())
    end)

    it("await{timeout=} gives the values when settled in time", function()
      clock.auto()
      local before = core.stats().timers
      local f = task.future()
      local d = task.delay(10, function() f:resolve("in time") end)
      assert.equal("in time", f:await({ timeout = 25 }))
      d:await()
      assert.equal(before, core.stats().timers)
    end)

    it("await{signal=} aborted while waiting raises the reason and leaves nothing behind", function()
      clock.freeze()
      local before = core.stats().timers
      local f = task.future()
      local ctl = abort.controller()
      local reason = errors.new("gave up")
      local w = task.spawn(function() return pcall(f.await, f, { signal = ctl.signal, timeout = 1e6 }) end)
      clock.advance(0)
      assert.equal("running", w.status)
      ctl:abort(reason)
      local ok, e = w:await()
      assert.is_false(ok)
      assert.equal(reason, e)
      assert.equal(before, core.stats().timers)
      f:resolve("after")
      assert.equal("after", f:await())
    end)
  end)

  describe("unhandled errors", function()
    it("have a hook in ebb.host", function()
      assert.is_function(require("ebb.host").set_unhandled_hook)
    end)
  end)

  describe("coroutines of the script's own", function()
    it("coroutine.wrap: a generator may sleep and yields its own values", function()
      clock.auto()
      local t0 = clock.now()
      local gen = coroutine.wrap(function(tag)
        for i = 1, 3 do
          task.sleep(10)
          tag = coroutine.yield(i, tag) or tag
        end
        return "end"
      end)
      local out = {}
      for i = 1, 3 do
        local n, tag = gen(i == 1 and "A" or "B")
        out[i] = n .. tag
      end
      assert.same({ "1A", "2B", "3B" }, out)
      assert.equal("end", gen())
      assert_elapsed(t0, 30)
    end)

    it("coroutine.create/resume: values in and out, status, errors", function()
      clock.auto()
      local boom = errors.new("boom")
      local co = coroutine.create(function(a)
        task.sleep(5)
        local b = coroutine.yield(a * 2)
        task.yield()
        local c = coroutine.yield(b .. "!")
        task.sleep(5)
        if c == "fail" then error(boom) end
      end)
      assert.same({ true, 2 }, { coroutine.resume(co, 1) })
      assert.equal("suspended", coroutine.status(co))
      assert.same({ true, "hi!" }, { coroutine.resume(co, "hi") })
      local ok, e = coroutine.resume(co, "fail")
      assert.is_false(ok)
      assert.equal(boom, e)
      assert.equal("dead", coroutine.status(co))
    end)

    it("other tasks run while a coroutine of the script's own sleeps", function()
      clock.auto()
      local log = {}
      local other = task.spawn(function() task.sleep(5); log[#log + 1] = "other" end)
      local gen = coroutine.wrap(function()
        task.sleep(10)
        log[#log + 1] = "gen"
        coroutine.yield("value")
      end)
      assert.equal("value", gen())
      assert.same({ "other", "gen" }, log)
      other:await()
    end)

    it("cancelling a task parked inside its own coroutine raises the reason there", function()
      clock.freeze()
      local reason = errors.new("stop")
      local log = {}
      local t = task.spawn(function()
        local gen = coroutine.wrap(function()
          local ok, e = pcall(task.sleep, 1e6)
          log[#log + 1] = "cleanup"
          if not ok then error(e, 0) end
          coroutine.yield("never")
        end)
        return gen()
      end)
      clock.advance(0)
      t:cancel(reason)
      assert.equal(reason, await_error(t))
      assert.equal("cancelled", t.status)
      assert.same({ "cleanup" }, log)
    end)
  end)

  describe("require", function()
    it("loads a module whose top level waits", function()
      clock.auto()
      local base = os.tmpname() -- creates the file; the module sits next to it
      local dir, name = base:match("^(.*)/([^/]+)$")
      name = name:gsub("[^%w_]", "_") .. "_waits"
      local file = dir .. "/" .. name .. ".lua"
      local fh = assert(io.open(file, "w"))
      fh:write([[
        local task = require "ebb.task"
        local clock = require "ebb.clock"
        local t0 = clock.now()
        task.sleep(25)
        return { waited = clock.now() - t0, name = ... }
      ]])
      fh:close()
      local old_path = package.path
      package.path = dir .. "/?.lua;" .. old_path
      local ok, err = pcall(function()
        local m = require(name)
        assert.near(25, m.waited, 1e-6)
        assert.equal(name, m.name)
        assert.equal(m, require(name)) -- loaded once
      end)
      package.path = old_path
      package.loaded[name] = nil
      os.remove(file)
      os.remove(base)
      assert(ok, err)
    end)
  end)

  describe("outside a task", function()
    it("an awaiting function raises a clear error (abort listener on a timer)", function()
      clock.auto()
      local msg
      local s = abort.timeout(5)
      s:on_abort(function()
        local ok, e = pcall(task.sleep, 1)
        msg = ok and "no error" or tostring(e)
      end)
      task.sleep(10)
      assert.is_string(msg)
      assert.matches("outside a task", msg)
    end)

    it("an awaiting function raises a clear error (in a fresh ebb process)", function()
      local code = [[local task, abort = require "ebb.task", require "ebb.abort" ]] ..
        [[abort.timeout(1):on_abort(function() local ok, e = pcall(task.sleep, 1) ]] ..
        [[io.stdout:write(ok and "no error" or tostring(e)) end) task.sleep(5)]]
      local p = assert(io.popen("./build/ebb -e '" .. code .. "' 2>&1"))
      local out = p:read("*a")
      p:close()
      assert.matches("outside a task", out)
    end)
  end)

  describe("bad arguments", function()
    -- Each raises an error naming the function and the argument, positioned at the caller.
    local cases = {
      { "task.spawn(42)", "spawn", function() task.spawn(42) end },
      { "task.sleep('x')", "sleep", function() task.sleep("x") end },
      { "task.sleep(-1)", "sleep", function() task.sleep(-1) end },
      { "task.sleep(0/0)", "sleep", function() task.sleep(0 / 0) end },
      { "task.delay(nil, f)", "delay", function() task.delay(nil, function() end) end },
      { "task.delay(1, 42)", "delay", function() task.delay(1, 42) end, "#2" },
      { "task.all(5)", "all", function() task.all(5) end },
      { "task.all({5})", "all", function() task.all({ 5 }) end },
      { "task.race(5)", "race", function() task.race(5) end },
      { "task.race({})", "race", function() task.race({}) end },
      { "task.any({5})", "any", function() task.any({ 5 }) end },
      { "task.all_settled(5)", "all_settled", function() task.all_settled(5) end },
      { "task.timeout('x', f)", "timeout", function() task.timeout("x", function() end) end },
      { "task.timeout(1, 42)", "timeout", function() task.timeout(1, 42) end, "#2" },
      { "task.group(nil)", "group", function() task.group(nil) end },
    }
    for _, case in ipairs(cases) do
      local label, fname, call, argn = case[1], case[2], case[3], case[4] or "#1"
      it(label, function()
        local e = raised(call)
        assert.is_string(e)
        assert.matches("bad argument " .. argn .. " to '" .. fname .. "'", e, 1, true)
        assert.matches("task_spec%.lua:%d+: ", e)
      end)
    end

    it("t.await(5): await on a non-task", function()
      local t = task.spawn(function() end)
      local e = raised(t.await, 5)
      assert.matches("bad argument #1 to 'await'", e, 1, true)
      t:await()
    end)
  end)
end)
