-- Specs for ebb.task's futures, one rule of the API contract ("rules every module
-- follows", "ebb.task") at a time. Every `it` body runs in a task of its own; anything
-- timed runs on the virtual clock (the runner puts the clock back to real after each
-- spec).
package.path = "spec/support/?.lua;" .. package.path
local task = require "ebb.task"
local clock = require "ebb.clock"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local core = require "ebb.core"
local raised = require("asserts").raised -- calls fn(...), which must raise; returns what it raised
local count = require("values").count
local assert_elapsed = require("asserts").elapsed -- the clock reads t0 + ms, to within rounding

describe("ebb.task", function()
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
end)
