-- Specs for ebb.queue, one rule of the API contract ("rules every module follows",
-- "ebb.queue") at a time. Timed bodies start with clock.auto(): sleeps take no real time
-- (the runner puts the clock back to real after each spec).
package.path = "spec/support/?.lua;" .. package.path
local queue = require "ebb.queue"
local task = require "ebb.task"
local clock = require "ebb.clock"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local context = require "ebb.context"
local core = require "ebb.core"

-- Asserts fn raises an error matching `pattern`, positioned at this spec file.
local assert_bad = require("asserts").bad_at("queue_spec%.lua")

local raised = require("asserts").raised -- calls fn(...), which must raise; returns what it raised

-- A job that waits until its gate is opened: gate(), then job = gated(gate).
local function gate()
  return task.future()
end

-- Counts the jobs running at once: wrap(fn) is a job that counts itself in and out.
local function meter()
  local m = { now = 0, max = 0 }
  function m.wrap(fn)
    return function(...)
      m.now = m.now + 1
      if m.now > m.max then m.max = m.now end
      local r = { pcall(fn, ...) }
      m.now = m.now - 1
      if not r[1] then error(r[2], 0) end
      return unpack(r, 2, table.maxn(r))
    end
  end
  return m
end

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

  describe("concurrency", function()
    it("never has more jobs active than the concurrency", function()
      clock.auto()
      local q = queue.new(3)
      local m = meter()
      local seen_active = 0
      local tasks = {}
      for i = 1, 20 do
        tasks[i] = q:push(m.wrap(function()
          if q.active > seen_active then seen_active = q.active end
          task.sleep(1 + (i * 7) % 5)
          task.yield()
          return i
        end))
        assert.is_true(q.active <= 3)
      end
      assert.equal(3, q.active)
      assert.equal(17, q.pending)
      q:idle()
      assert.equal(3, m.max)
      assert.equal(3, seen_active)
      for i = 1, 20 do assert.equal(i, tasks[i]:await()) end
    end)

    it("accepts math.huge: every job starts at once", function()
      local q = queue.new(math.huge)
      local g = gate()
      for _ = 1, 50 do q:push(function() g:await() end) end
      assert.equal(50, q.active)
      assert.equal(0, q.pending)
      g:resolve()
      q:idle()
      assert.equal(0, q.active)
    end)

    it("raising set_concurrency starts waiting jobs at once", function()
      local q = queue.new(1)
      local g = gate()
      local m = meter()
      for _ = 1, 5 do q:push(m.wrap(function() g:await() end)) end
      assert.equal(1, q.active)
      assert.equal(4, q.pending)
      q:set_concurrency(3)
      assert.equal(3, q.active) -- within the call, not on a later turn
      assert.equal(2, q.pending)
      task.yield()
      assert.equal(3, m.now)
      g:resolve()
      q:idle()
      assert.equal(3, m.max)
    end)

    it("lowering set_concurrency lets running jobs finish and starts none until below", function()
      local q = queue.new(3)
      local gates, started = {}, {}
      for i = 1, 6 do
        gates[i] = gate()
        q:push(function()
          started[#started + 1] = i
          gates[i]:await()
          return i
        end)
      end
      task.yield()
      assert.same({ 1, 2, 3 }, started)
      q:set_concurrency(1)
      assert.equal(3, q.active) -- nobody is cancelled
      assert.equal(3, q.pending)
      gates[1]:resolve()
      task.yield()
      task.yield()
      assert.equal(2, q.active)
      assert.same({ 1, 2, 3 }, started) -- 2 active, limit 1: no start
      gates[2]:resolve()
      task.yield()
      task.yield()
      assert.equal(1, q.active)
      assert.same({ 1, 2, 3 }, started) -- 1 active, limit 1: still none
      gates[3]:resolve()
      task.yield()
      task.yield()
      assert.same({ 1, 2, 3, 4 }, started) -- below the limit: one more
      assert.equal(1, q.active)
      assert.equal(2, q.pending)
      for i = 4, 6 do gates[i]:resolve() end
      q:idle()
      assert.same({ 1, 2, 3, 4, 5, 6 }, started)
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

  describe("priority", function()
    it("runs higher first, FIFO within a priority; negative and fractional work", function()
      local q = queue.new(1)
      local order = {}
      local function job(name) return function() order[#order + 1] = name end end
      q:pause()
      q:push(job("0a"))
      q:push(job("5a"), { priority = 5 })
      q:push(job("-1"), { priority = -1 })
      q:push(job("0b"), { priority = 0 })
      q:push(job("5b"), { priority = 5 })
      q:push(job("0.5"), { priority = 0.5 })
      q:push(job("-2.5"), { priority = -2.5 })
      q:push(job("0.25"), { priority = 0.25 })
      q:push(job("huge"), { priority = math.huge })
      q:push(job("-huge"), { priority = -math.huge })
      q:push(job("0c"))
      q:resume()
      q:idle()
      assert.same({ "huge", "5a", "5b", "0.5", "0.25", "0a", "0b", "0c", "-1", "-2.5", "-huge" }, order)
    end)

    it("lets a later high-priority job jump the waiting line, not the running jobs", function()
      clock.auto()
      local q = queue.new(1)
      local order = {}
      local function job(name) return function() order[#order + 1] = name; task.sleep(10) end end
      q:push(job("first"))
      q:push(job("low 1"))
      q:push(job("low 2"))
      task.sleep(5)
      q:push(job("urgent"), { priority = 10 })
      q:idle()
      assert.same({ "first", "urgent", "low 1", "low 2" }, order)
    end)

    it("keeps working when priorities are used once each (none pile up)", function()
      local q = queue.new(1)
      local order = {}
      for i = 1, 2000 do
        q:push(function() order[#order + 1] = i end, { priority = i / 7 })
        q:idle()
      end
      assert.equal(2000, #order)
      q:pause()
      for i = 1, 200 do q:push(function() order[#order + 1] = -i end, { priority = i % 3 + i / 1000 }) end
      q:resume()
      q:idle()
      assert.equal(2200, #order)
      local prev = math.huge
      for k = 2001, 2200 do
        local i = -order[k]
        local p = i % 3 + i / 1000
        assert.is_true(p < prev)
        prev = p
      end
    end)
  end)

  describe("timeout", function()
    it("cancels a job past its timeout with a TimeoutError; its cleanup runs and its slot is freed", function()
      clock.auto()
      local q = queue.new(1)
      local t0 = clock.now()
      local cleaned, next_started = nil, nil
      local slow = q:push(function()
        local ok, e = pcall(task.sleep, 100)
        cleaned = clock.now() - t0
        if not ok then error(e, 0) end
        return "finished"
      end, { timeout = 40 })
      local after = q:push(function() next_started = clock.now() - t0 end)
      local e = raised(slow.await, slow)
      assert.is_true(errors.is(e, errors.TimeoutError))
      assert.equal("cancelled", slow.status)
      assert.near(40, cleaned, 1e-6)
      after:await()
      assert.near(40, next_started, 1e-6)
      assert.equal(0, q.active)
    end)

    it("raises TimeoutError from run, and the timeout may be fractional", function()
      clock.auto()
      local q = queue.new(2)
      local t0 = clock.now()
      local e = raised(q.run, q, function() task.sleep(1000) end, { timeout = 12.5 })
      assert.is_true(errors.is(e, errors.TimeoutError))
      assert.near(12.5, clock.now() - t0, 1e-6)
    end)

    it("leaves no timer behind when the job finishes in time", function()
      clock.auto()
      local q = queue.new(2)
      local timers = core.stats().timers
      assert.equal("quick", q:run(function() task.sleep(5); return "quick" end, { timeout = 1000 }))
      local t = q:push(function() return "fast" end, { timeout = 50 })
      assert.equal("fast", t:await())
      local bad = q:push(function() error("x", 0) end, { timeout = 50 })
      pcall(bad.await, bad)
      assert.equal(timers, core.stats().timers)
      -- no late cancel either: time moves past the timeouts
      task.sleep(2000)
      assert.equal("done", t.status)
    end)

    it("leaves no timer behind for a job cancelled while it waits", function()
      clock.auto()
      local q = queue.new(1)
      local g = gate()
      q:push(function() g:await() end)
      local timers = core.stats().timers
      local t = q:push(function() end, { timeout = 30 })
      t:cancel()
      g:resolve()
      q:idle()
      assert.equal(timers, core.stats().timers)
    end)
  end)

  describe("signal", function()
    it("aborted while pending: the job never runs and fails with the reason", function()
      local q = queue.new(1)
      local g = gate()
      q:push(function() g:await() end)
      local ctl = abort.controller()
      local ran = false
      local t = q:push(function() ran = true end, { signal = ctl.signal })
      local behind = q:push(function() return "behind" end)
      assert.equal(2, q.pending)
      ctl:abort("no longer wanted")
      assert.equal(1, q.pending) -- at once
      assert.equal("no longer wanted", raised(t.await, t))
      g:resolve()
      assert.equal("behind", behind:await())
      assert.is_false(ran)
      assert.equal(0, q.pending)
      assert.equal(0, q.active)
    end)

    it("aborted while running: the job is cancelled with the reason, its cleanup runs, its slot is freed", function()
      clock.auto()
      local q = queue.new(1)
      local ctl = abort.controller()
      local cleaned = false
      local t = q:push(function()
        local ok, e = pcall(task.sleep, 1000)
        cleaned = true
        if not ok then error(e, 0) end
      end, { signal = ctl.signal })
      local next_job = q:push(function() return "next" end)
      task.sleep(10)
      assert.equal("running", t.status)
      local reason = errors.new("stop it")
      ctl:abort(reason)
      assert.equal(reason, raised(t.await, t))
      assert.equal("cancelled", t.status)
      assert.is_true(cleaned)
      assert.equal("next", next_job:await())
    end)

    it("already aborted at push or run: raises at once, queues and runs nothing", function()
      local q = queue.new(1)
      local ran = false
      local s = abort.aborted("early")
      assert.equal("early", raised(q.push, q, function() ran = true end, { signal = s }))
      assert.equal("early", raised(q.run, q, function() ran = true end, { signal = s }))
      assert.equal(0, q.pending)
      assert.equal(0, q.active)
      task.yield()
      assert.is_false(ran)
      local e = raised(q.push, q, function() end, { signal = abort.aborted() })
      assert.is_true(errors.is(e, errors.AbortError))
    end)

    it("aborting after the job is done changes nothing", function()
      local q = queue.new(1)
      local ctl = abort.controller()
      local t = q:push(function() return 7 end, { signal = ctl.signal })
      assert.equal(7, t:await())
      ctl:abort()
      assert.equal("done", t.status)
      assert.equal(7, t:await())
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

  describe("cancelling a job's task", function()
    it("while pending: lowers q.pending at once and the job never runs", function()
      local q = queue.new(1)
      local g = gate()
      q:push(function() g:await() end)
      local ran = {}
      local a = q:push(function() ran[#ran + 1] = "a" end)
      local b = q:push(function() ran[#ran + 1] = "b" end)
      assert.equal(2, q.pending)
      a:cancel()
      assert.equal(1, q.pending)
      assert.equal("cancelled", a.status)
      assert.is_true(errors.is(raised(a.await, a), errors.AbortError))
      g:resolve()
      b:await()
      q:idle()
      assert.same({ "b" }, ran)
      assert.equal(0, q.pending)
    end)

    it("while running: frees its slot once it ends", function()
      clock.auto()
      local q = queue.new(1)
      local t = q:push(function() task.sleep(1000) end)
      local after = q:push(function() return clock.now() end)
      task.sleep(10)
      local t0 = clock.now()
      t:cancel("enough")
      assert.equal("enough", raised(t.await, t))
      assert.equal(t0, after:await())
    end)

    it("cancelling every pending job lets idle return", function()
      local q = queue.new(1)
      q:pause()
      local list = {}
      for i = 1, 5 do list[i] = q:push(function() end) end
      for i = 1, 5 do list[i]:cancel() end
      assert.equal(0, q.pending)
      q:idle()
      q:resume()
      q:idle()
    end)
  end)

  describe("at scale", function()
    it("runs 10,000 jobs at concurrency 7 exactly once each, in order", function()
      clock.auto()
      local q = queue.new(7)
      local N = 10000
      local runs, order = {}, {}
      local m = meter()
      for i = 1, N do
        q:push(m.wrap(function()
          order[#order + 1] = i
          runs[i] = (runs[i] or 0) + 1
          if i % 3 == 0 then task.sleep(i % 5) else task.yield() end
        end))
      end
      assert.equal(N - 7, q.pending)
      q:idle()
      assert.equal(7, m.max)
      assert.equal(N, #order)
      for i = 1, N do
        assert.equal(1, runs[i])
        if order[i] ~= i then assert.equal(i, order[i]) end
      end
    end)
  end)

  describe("bad input", function()
    it("new names its argument", function()
      local words = "bad argument #1 to '%s' %%(concurrency must be a positive whole number, or math.huge, got %s%%)"
      assert_bad(function() queue.new(0) end, words:format("new", "0"))
      assert_bad(function() queue.new(1.5) end, words:format("new", "1%.5"))
      assert_bad(function() queue.new("x") end, words:format("new", "string"))
      assert_bad(function() queue.new(-2) end, words:format("new", "%-2"))
      assert_bad(function() queue.new() end, words:format("new", "nil"))
      assert_bad(function() queue.new(0 / 0) end, "bad argument #1 to 'new'")
      local q = queue.new(2)
      assert_bad(function() q:set_concurrency(0) end, words:format("set_concurrency", "0"))
      assert_bad(function() q:set_concurrency(true) end, words:format("set_concurrency", "boolean"))
      assert.equal(2, q.concurrency)
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

describe("ebb.queue run and its caller", function()
  it("cancels the job when the task waiting in run() is cancelled", function()
    local task = require "ebb.task"
    local queue = require "ebb.queue"
    require("ebb.clock").auto()
    local q = queue.new(1)
    local log = {}
    local c = task.spawn(function()
      q:run(function()
        local ok = pcall(task.sleep, 100)
        log[#log + 1] = ok and "slept" or "cancelled"
      end)
    end)
    task.sleep(10)
    c:cancel()
    q:idle()
    assert.same({ "cancelled" }, log)
    assert.equal("cancelled", c.status)
    assert.equal(0, q.active)
  end)
end)
