-- Specs for ebb.task (the task itself: spawn, await, status, current, cancel, sleep), one
-- rule of the API contract ("rules every module follows", "ebb.task") at a time. Every
-- `it` body runs in a task of its own; anything timed runs on the virtual clock (the
-- runner puts the clock back to real after each spec).
package.path = "spec/support/?.lua;" .. package.path
local task = require "ebb.task"
local clock = require "ebb.clock"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local core = require "ebb.core"
local raised = require("asserts").raised -- calls fn(...), which must raise; returns what it raised
local await_error = require("task_support").await_error
local sleeper = require("task_support").sleeper -- waits (almost) forever; logs "cleanup" when cancelled
local count = require("values").count
local assert_elapsed = require("asserts").elapsed -- the clock reads t0 + ms, to within rounding

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

  describe("unhandled errors", function()
    it("have a hook in ebb.host", function()
      assert.is_function(require("ebb.host").set_unhandled_hook)
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
