-- Specs for ebb.queue (run, push, idle, pause and resume, clear, context, bad input), one
-- rule of the API contract ("rules every module follows", "ebb.queue") at a time. Timed
-- bodies start with clock.auto(): sleeps take no real time (the runner puts the clock
-- back to real after each spec).
package.path = "spec/support/?.lua;" .. package.path
local queue = require "ebb.queue"
local task = require "ebb.task"
local clock = require "ebb.clock"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local context = require "ebb.context"

-- Asserts fn raises an error matching `pattern`, positioned at this spec file.
local assert_bad = require("asserts").bad_at("queue_spec%.lua")
local raised = require("asserts").raised -- calls fn(...), which must raise; returns what it raised
local gate = require("queue_support").gate -- a future a gated job waits on

describe("ebb.queue", function()
  describe("run", function()
    it("returns every result of fn, nils included", function()
      local q = queue.new(2)
      local n, a, b, c = (function(...) return select("#", ...), ... end)(
        q:run(function() return 1, nil, "x" end))
      assert.equal(3, n)
      assert.equal(1, a)
      assert.is_nil(b)
      assert.equal("x", c)
      assert.equal(0, select("#", q:run(function() end)))
    end)

    it("raises fn's error unchanged: the same table, the same string", function()
      local q = queue.new(1)
      local boom = errors.new("boom")
      assert.equal(boom, raised(q.run, q, function() error(boom) end))
      assert.equal("plain", raised(q.run, q, function() error("plain", 0) end))
      local obj = {}
      assert.equal(obj, raised(q.run, q, function() error(obj) end))
      assert.equal(0, q.active)
      assert.equal("after", q:run(function() return "after" end)) -- the slot came back
    end)

    it("waits for a slot, then runs the job", function()
      clock.auto()
      local q = queue.new(1)
      local t0 = clock.now()
      q:push(function() task.sleep(30) end)
      assert.equal("second", q:run(function() return "second" end))
      assert.near(30, clock.now() - t0, 1e-6)
    end)

    it("in a task already cancelled, raises the reason at once and queues nothing", function()
      local q = queue.new(1)
      local ran = false
      local t = task.spawn(function()
        task.current():cancel("stop")
        local e = raised(q.run, q, function() ran = true end)
        assert.equal(0, q.pending)
        assert.equal(0, q.active)
        return e
      end)
      assert.equal("stop", t:await())
      task.yield()
      task.yield()
      assert.is_false(ran)
      assert.equal(0, q.pending)
      assert.equal(0, q.active)
    end)
  end)

  describe("push", function()
    it("returns a Task at once and counts the job before it returns", function()
      local q = queue.new(1)
      local g = gate()
      local ran = {}
      local a = q:push(function() ran[#ran + 1] = "a"; g:await() end)
      assert.is_true(task.is_task(a))
      assert.equal(1, q.active) -- the slot is taken at push...
      assert.equal(0, q.pending)
      assert.same({}, ran) -- ...but the job starts on the next turn, not inside push
      local b = q:push(function() ran[#ran + 1] = "b"; return "b" end)
      assert.is_true(task.is_task(b))
      assert.equal(1, q.pending)
      assert.equal("pending", b.status)
      task.yield()
      assert.same({ "a" }, ran)
      g:resolve()
      assert.equal("b", b:await())
      assert.same({ "a", "b" }, ran)
      assert.equal(0, q.pending)
      assert.equal(0, q.active)
    end)

    it("gives the job's results and error through the Task", function()
      local q = queue.new(3)
      local e = errors.new("bad")
      local ok = q:push(function() return 1, 2 end)
      local bad = q:push(function() error(e) end)
      local a, b = ok:await()
      assert.equal(1, a)
      assert.equal(2, b)
      assert.equal(e, raised(bad.await, bad))
      assert.equal("failed", bad.status)
    end)
  end)

  describe("idle", function()
    it("returns at once when nothing is pending or active, without yielding", function()
      local q = queue.new(2)
      local other = false
      task.spawn(function() other = true end)
      q:idle()
      assert.is_false(other)
      task.yield()
      assert.is_true(other)
    end)

    it("waits until nothing is pending or active", function()
      clock.auto()
      local q = queue.new(2)
      local t0 = clock.now()
      local done = 0
      for _, ms in ipairs { 10, 30, 20, 5 } do
        q:push(function() task.sleep(ms); done = done + 1 end)
      end
      q:idle()
      -- slots: 10 then 20 (ends at 30); 30 then 5 (ends at 35)
      assert.near(35, clock.now() - t0, 1e-6)
      assert.equal(4, done)
      assert.equal(0, q.pending)
      assert.equal(0, q.active)
    end)

    it("wakes every waiter, and again for a later batch", function()
      clock.auto()
      local q = queue.new(1)
      q:push(function() task.sleep(10) end)
      local woke = 0
      local waiters = {}
      for i = 1, 3 do waiters[i] = task.spawn(function() q:idle(); woke = woke + 1 end) end
      task.all(waiters)
      assert.equal(3, woke)
      q:push(function() task.sleep(10) end)
      local t0 = clock.now()
      q:idle()
      assert.near(10, clock.now() - t0, 1e-6)
    end)

    it("raises the reason at once with an aborted signal, even when idle", function()
      local q = queue.new(1)
      assert.equal("why", raised(q.idle, q, abort.aborted("why")))
    end)

    it("stops waiting when its signal aborts", function()
      clock.auto()
      local q = queue.new(1)
      local g = gate()
      q:push(function() g:await() end)
      local e = raised(q.idle, q, abort.timeout(20))
      assert.is_true(errors.is(e, errors.TimeoutError))
      g:resolve()
      q:idle()
    end)
  end)

  describe("pause and resume", function()
    it("pause starts nothing new, lets running jobs go on; resume starts at once", function()
      clock.auto()
      local q = queue.new(2)
      local order = {}
      q:push(function() task.sleep(10); order[#order + 1] = "running" end)
      q:pause()
      q:push(function() order[#order + 1] = "a" end)
      q:push(function() order[#order + 1] = "b" end)
      assert.equal(1, q.active)
      assert.equal(2, q.pending)
      task.sleep(50)
      assert.same({ "running" }, order)
      assert.equal(0, q.active)
      assert.equal(2, q.pending)
      q:resume()
      assert.equal(2, q.active) -- within resume
      assert.equal(0, q.pending)
      q:idle()
      assert.same({ "running", "a", "b" }, order)
    end)

    it("idle keeps waiting while paused with jobs pending", function()
      clock.auto()
      local q = queue.new(1)
      q:pause()
      local ran = false
      q:push(function() ran = true end)
      local e = raised(task.timeout, 100, q.idle, q)
      assert.is_true(errors.is(e, errors.TimeoutError))
      assert.is_false(ran)
      q:resume()
      q:idle()
      assert.is_true(ran)
    end)
  end)

  describe("clear", function()
    it("fails pending jobs with an AbortError by default and leaves running ones alone", function()
      local q = queue.new(1)
      local g = gate()
      local ran = {}
      local running = q:push(function() g:await(); return "kept" end)
      local waiting = {}
      for i = 1, 3 do waiting[i] = q:push(function() ran[#ran + 1] = i end) end
      task.yield()
      assert.equal(3, q.pending)
      q:clear()
      assert.equal(0, q.pending)
      assert.equal(1, q.active)
      for i = 1, 3 do
        local e = raised(waiting[i].await, waiting[i])
        assert.is_true(errors.is(e, errors.AbortError))
      end
      assert.equal("running", running.status)
      g:resolve()
      assert.equal("kept", running:await())
      q:idle()
      assert.same({}, ran)
      -- the queue goes on working
      assert.equal(5, q:run(function() return 5 end))
    end)

    it("fails them with the reason given, unchanged", function()
      local q = queue.new(1)
      q:pause()
      local a = q:push(function() end)
      local reason = errors.new("shutting down")
      local b = q:push(function() end, { priority = 3 })
      q:clear(reason)
      assert.equal(reason, raised(a.await, a))
      assert.equal(reason, raised(b.await, b))
      local c = q:push(function() end)
      q:clear("gone")
      assert.equal("gone", raised(c.await, c))
      q:resume()
      q:idle()
    end)

    it("wakes idle waiters once nothing is left", function()
      local q = queue.new(1)
      q:pause()
      local t = q:push(function() end)
      local waiter = task.spawn(function() q:idle(); return "idle" end)
      task.yield()
      assert.equal("running", waiter.status)
      q:clear()
      assert.equal("idle", waiter:await())
      pcall(t.await, t)
    end)
  end)

  describe("context", function()
    it("a job keeps the context of the code that queued it, wherever it starts", function()
      local var = context.new({ name = "request" })
      local q = queue.new(1)
      local g = gate()
      -- the slot is held by a job queued under "blocker"; the next job starts
      -- when that one ends, in its turn, not in the pusher's
      var:run("blocker", function() q:push(function() g:await() end) end)
      local a, b
      var:run("A", function() a = q:push(function() task.yield(); return var:get() end) end)
      var:run("B", function()
        b = q:push(function() return var:get() end)
        assert.equal("B", var:get())
      end)
      local plain = q:push(function() return var:get() end)
      task.spawn(function() var:run("other", function() g:resolve() end) end)
      assert.equal("A", a:await())
      assert.equal("B", b:await())
      assert.is_nil(plain:await())
      assert.equal("A", var:run("A", function() return q:run(function() return var:get() end) end))
    end)
  end)

  describe("bad input", function()
    it("new names its argument", function()
      local words = "bad argument #1 to '%s' %%(concurrency must be a whole number from 1, or math.huge, got %s%%)"
      assert_bad(function() queue.new(1.5) end, words:format("new", "1%.5"))
      assert_bad(function() queue.new(-2) end, words:format("new", "%-2"))
      assert_bad(function() queue.new() end, "%(concurrency: number expected, got nil%)$")
      local q = queue.new(2)
      assert_bad(function() q:set_concurrency(0) end, words:format("set_concurrency", "0"))
      assert_bad(function() q:set_concurrency(true) end, "%(concurrency: number expected, got boolean%)$")
      assert.equal(2, q.concurrency)
      assert_bad(function() queue.new(0 / 0) end, "bad argument #1 to 'new'")
      -- worded as every range check: what it must be, then what it got
      assert_bad(function() queue.new(0) end, "%(concurrency must be a whole number from 1, or math.huge, got 0%)$")
      assert_bad(function() queue.new("x") end, "%(concurrency: number expected, got string%)$")
      assert_bad(function() queue.new(1):set_concurrency(nil) end,
        "bad argument #1 to 'set_concurrency' %(concurrency: number expected, got nil%)$")
    end)

    it("push and run name the function and each option", function()
      local q = queue.new(1)
      local fn = function() end
      for _, name in ipairs { "push", "run" } do
        local m = q[name]
        assert_bad(function() m(q, 5) end, "bad argument #1 to '" .. name .. "' %(function expected, got number%)")
        assert_bad(function() m(q) end, "bad argument #1 to '" .. name .. "' %(function expected, got nil%)")
        assert_bad(function() m(q, fn, 5) end, "bad argument #2 to '" .. name .. "' %(table of options expected")
        assert_bad(function() m(q, fn, { timeout = -1 }) end, "bad argument #2 to '" .. name .. "' %(option 'timeout'")
        assert_bad(function() m(q, fn, { timeout = "1" }) end, "option 'timeout'")
        assert_bad(function() m(q, fn, { timeout = 0 / 0 }) end, "option 'timeout'")
        assert_bad(function() m(q, fn, { priority = "x" }) end, "bad argument #2 to '" .. name .. "' %(option 'priority'")
        assert_bad(function() m(q, fn, { priority = 0 / 0 }) end, "option 'priority'")
        assert_bad(function() m(q, fn, { signal = 5 }) end, "bad argument #2 to '" .. name .. "' %(option 'signal'")
        assert_bad(function() m(q, fn, { signal = {} }) end, "option 'signal'")
      end
      assert.equal(0, q.pending)
      assert.equal(0, q.active)
    end)

    it("set_concurrency names its argument and keeps the old value", function()
      local q = queue.new(2)
      assert_bad(function() q:set_concurrency(0) end, "bad argument #1 to 'set_concurrency' %(concurrency")
      assert_bad(function() q:set_concurrency(1.5) end, "bad argument #1 to 'set_concurrency'")
      assert_bad(function() q:set_concurrency("3") end, "bad argument #1 to 'set_concurrency'")
      assert_bad(function() q:set_concurrency() end, "bad argument #1 to 'set_concurrency'")
      assert.equal(2, q.concurrency)
    end)

    it("every method called on a non-queue names it", function()
      local q = queue.new(1)
      local fn = function() end
      for _, name in ipairs { "push", "run", "set_concurrency", "idle", "pause", "resume", "clear" } do
        local m = q[name]
        assert_bad(function() m({}, fn) end, "bad argument #1 to '" .. name .. "' %(queue expected, got table%)")
        assert_bad(function() m(nil, fn) end, "bad argument #1 to '" .. name .. "' %(queue expected, got nil%)")
        assert_bad(function() m(5) end, "bad argument #1 to '" .. name .. "' %(queue expected, got number%)")
      end
      -- q.push(fn) forgets the colon: fn is not a queue
      assert_bad(function() q.push(fn) end, "bad argument #1 to 'push' %(queue expected, got function%)")
    end)
  end)
end)
