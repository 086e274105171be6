-- Specs for ebb.queue's timeouts, signals and cancelled jobs, one rule of the API
-- contract ("rules every module follows", "ebb.queue") at a time. Timed bodies start with
-- clock.auto(): sleeps take no real time (the runner puts the clock back to real after
-- each spec).
package.path = "spec/support/?.lua;" .. package.path
local queue = require "ebb.queue"
local task = require "ebb.task"
local clock = require "ebb.clock"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local core = require "ebb.core"
local raised = require("asserts").raised -- calls fn(...), which must raise; returns what it raised
local gate = require("queue_support").gate -- a future a gated job waits on

describe("ebb.queue", function()
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
