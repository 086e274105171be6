package.path = "spec/support/?.lua;" .. package.path
local task = require "ebb.task"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local semaphore = require "ebb.semaphore"

describe("ebb.semaphore", function()
  it("hands out permits and takes them back", function()
    local sem = semaphore.new(3)
    sem:acquire()
    sem:acquire(2)
    assert.equal(0, sem.available)
    sem:release(2)
    assert.equal(2, sem.available)
    sem:release()
    assert.equal(3, sem.available)
  end)

  it("makes an acquire wait until a release, first come first served", function()
    local sem = semaphore.new(1)
    sem:acquire()
    local order = {}
    local a = task.spawn(function() sem:acquire(); order[#order + 1] = "a" end)
    local b = task.spawn(function() sem:acquire(); order[#order + 1] = "b" end)
    task.yield()
    assert.equal(2, sem.waiting)
    sem:release()
    a:await()
    assert.same({ "a" }, order)
    sem:release()
    b:await()
    assert.same({ "a", "b" }, order)
    sem:release()
  end)

  it("never lets a new or smaller request overtake a waiter", function()
    local sem = semaphore.new(3)
    sem:acquire(2)
    local big = task.spawn(function() sem:acquire(3) return "big" end)
    task.yield()
    assert.is_false(sem:try_acquire(1)) -- 1 is free, but big waits first
    local small = task.spawn(function() sem:acquire(1) return "small" end)
    task.yield()
    assert.equal("pending", small.status == "done" and "done" or "pending")
    sem:release(2)
    assert.equal("big", big:await())
    sem:release(3)
    assert.equal("small", small:await())
    sem:release(1)
    assert.equal(3, sem.available)
  end)

  it("lets the next waiters in when the first one is aborted", function()
    local sem = semaphore.new(2)
    sem:acquire(1)
    local ctl = abort.controller()
    local big = task.spawn(function() sem:acquire(2, ctl.signal) end)
    local small = task.spawn(function() sem:acquire(1) return "small" end)
    task.yield()
    assert.equal(2, sem.waiting)
    ctl:abort("stop")
    assert.equal("stop", select(2, pcall(big.await, big)))
    assert.equal("small", small:await())
    assert.equal(0, sem.waiting)
    assert.equal(0, sem.available)
    sem:release(2)
  end)

  it("gives back the permits of a waiter cancelled after they were handed to it", function()
    local sem = semaphore.new(1)
    sem:acquire()
    local t = task.spawn(function() sem:acquire() return "got it" end)
    task.yield()
    sem:release() -- handed to t, which has not run yet
    assert.equal(0, sem.available)
    t:cancel("too late")
    assert.equal(1, sem.available)
    assert.equal("too late", select(2, pcall(t.await, t)))
    assert.equal("cancelled", t.status)
  end)

  it("gives back the permits of a waiter whose signal aborts after they were handed to it", function()
    local sem = semaphore.new(1)
    sem:acquire()
    local ctl = abort.controller()
    local t = task.spawn(function() sem:acquire(ctl.signal) return "got it" end)
    local next_one = task.spawn(function() sem:acquire() sem:release() return "next" end)
    task.yield()
    sem:release() -- handed to t, which has not run yet
    assert.equal(0, sem.available)
    ctl:abort("too late")
    assert.equal("too late", select(2, pcall(t.await, t)))
    assert.equal("next", next_one:await())
    assert.equal(1, sem.available)
    assert.equal(0, sem.waiting)
  end)

  it("loses no permit when one is released by an abort listener, in either order", function()
    -- listener first: the permit is handed over, then the abort reaches the
    -- waiter before it ran, which gives it back; waiter first: it leaves.
    -- Either way the permit goes to the next one.
    for _, listener_first in ipairs({ true, false }) do
      local sem = semaphore.new(1)
      sem:acquire()
      local ctl = abort.controller()
      if listener_first then ctl.signal:on_abort(function() sem:release() end) end
      local aborted = task.spawn(function() sem:acquire(ctl.signal); sem:release() return "got it" end)
      local next_one = task.spawn(function() sem:acquire(); sem:release() return "next" end)
      task.yield()
      if not listener_first then ctl.signal:on_abort(function() sem:release() end) end
      ctl:abort("stop")
      local ok, v = pcall(aborted.await, aborted)
      assert.equal("stop", v)
      assert.is_false(ok)
      assert.equal("next", next_one:await())
      assert.equal(1, sem.available)
      assert.equal(0, sem.waiting)
    end
  end)

  it("raises an aborted signal's reason at once, even when permits are free", function()
    local sem = semaphore.new(5)
    local ok, e = pcall(sem.acquire, sem, abort.aborted("no"))
    assert.is_false(ok)
    assert.equal("no", e)
    assert.equal(5, sem.available)
  end)

  it("releases the permit of with() on return, error and cancellation", function()
    local sem = semaphore.new(1)
    assert.equal(7, sem:with(function(a, b) return a + b end, 3, 4))
    assert.equal(1, sem.available)
    local boom = errors.new("boom")
    local ok, e = pcall(sem.with, sem, function() error(boom) end)
    assert.is_false(ok)
    assert.equal(boom, e)
    assert.equal(1, sem.available)
    local t = task.spawn(function() return sem:with(function() task.sleep(1e6) end) end)
    task.yield()
    assert.equal(0, sem.available)
    t:cancel()
    pcall(t.await, t)
    assert.equal(1, sem.available)
  end)

  it("fails every waiter and every later acquire once closed", function()
    local sem = semaphore.new(1)
    sem:acquire()
    local t = task.spawn(function() sem:acquire() end)
    task.yield()
    local reason = errors.new("shutting down")
    sem:close(reason)
    assert.equal(reason, select(2, pcall(t.await, t)))
    assert.equal(reason, select(2, pcall(sem.acquire, sem)))
    assert.is_false(sem:try_acquire())
    assert.is_true(sem.closed)
  end)

  it("closes with a default error", function()
    local sem = semaphore.new(0)
    sem:close()
    local ok, e = pcall(sem.acquire, sem)
    assert.is_false(ok)
    assert.is_true(errors.is(e, errors.Error))
  end)

  it("serves a thousand waiters in order", function()
    local sem = semaphore.new(1)
    sem:acquire()
    local got, list = {}, {}
    for i = 1, 1000 do
      list[i] = task.spawn(function() sem:acquire(); got[#got + 1] = i; sem:release() end)
    end
    task.yield()
    sem:release()
    task.all(list)
    for i = 1, 1000 do assert.equal(i, got[i]) end
  end)

  describe("bad input", function()
    local sem = semaphore.new(2)
    local cases = {
      { "new('x')", function() semaphore.new("x") end, "permits" },
      { "new(-1)", function() semaphore.new(-1) end, "permits" },
      { "new(1.5)", function() semaphore.new(1.5) end, "permits" },
      { "acquire(0)", function() sem:acquire(0) end, "n must be a whole number from 1" },
      { "acquire(3) on 2 permits", function() sem:acquire(3) end,
        "bad argument #1 to 'acquire' %(n is more than the semaphore's permits%)" },
      { "acquire(1, 5)", function() sem:acquire(1, 5) end, "signal" },
      { "release(0)", function() sem:release(0) end, "n must be a whole number from 1" },
      { "release beyond size", function() sem:release(1) end, "more permits" },
      { "try_acquire('x')", function() sem:try_acquire("x") end, "n: number expected" },
      { "with(5)", function() sem:with(5) end, "function expected" },
      { "acquire on a non-semaphore", function() semaphore.new(1).acquire({}) end, "semaphore" },
    }
    require("asserts").each_bad(it, cases)

    it("places an acquire beyond the size, and a release, at the caller's line", function()
      local assert_bad = require("asserts").bad_at("semaphore_spec%.lua")
      assert_bad(function() semaphore.new(0):acquire() end, "bad argument #1 to 'acquire'")
      assert_bad(function() semaphore.new(0):with(print) end, "bad argument #1 to 'with' %(a semaphore of 0 permits has none to hold%)$")
      assert_bad(function() sem:release(1) end, "released more permits than were acquired %(2 of 2 free%)")
      assert_bad(function() sem:with(function() sem:release() end) end, "released more permits")
      assert.equal(2, sem.available)
    end)
  end)
end)
