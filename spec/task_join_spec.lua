-- Specs for ebb.task's joins (all, race, any, all_settled, group, timeout), one rule of
-- the API contract ("rules every module follows", "ebb.task") at a time. Every `it` body
-- runs in a task of its own; anything timed runs on the virtual clock (the runner puts
-- the clock back to real after each spec).
package.path = "spec/support/?.lua;" .. package.path
local task = require "ebb.task"
local clock = require "ebb.clock"
local errors = require "ebb.errors"
local raised = require("asserts").raised -- calls fn(...), which must raise; returns what it raised
local sleeper = require("task_support").sleeper -- waits (almost) forever; logs "cleanup" when cancelled
local pack = require("values").pack
local assert_elapsed = require("asserts").elapsed -- the clock reads t0 + ms, to within rounding

describe("ebb.task", function()
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
end)
