-- Specs for ebb.clock: real and virtual time, freeze/advance/auto/real, as the API contract
-- ("ebb.clock" and "Rules every module follows") describes. No spec sleeps in real time; the
-- few that must see real time pass use short busy waits.
package.path = "spec/support/?.lua;" .. package.path
local clock = require "ebb.clock"
local task = require "ebb.task"
local abort = require "ebb.abort"
local errors = require "ebb.errors"

-- Asserts fn raises an error matching `pattern`, positioned at this spec file.
local assert_bad = require("asserts").bad_at("clock_spec%.lua")

-- Milliseconds since t0, rounded to a nanosecond: sums of float readings are not exact.
local function since(t0)
  return math.floor((clock.now() - t0) * 1e6 + 0.5) / 1e6
end

-- Spins on the CPU for about `seconds` of process time (never sleeps).
local function busy_wait(seconds)
  local stop = os.clock() + seconds
  while os.clock() < stop do end
end

-- Spins until clock.now() has moved by at least `ms`; gives up after `limit` s of CPU.
local function spin_until_now_moves(ms, limit)
  local start, cpu0 = clock.now(), os.clock()
  while clock.now() - start < ms do
    if os.clock() - cpu0 > limit then return false end
  end
  return true, os.clock() - cpu0
end

describe("ebb.clock", function()
  describe("now", function()
    it("gives a number that never goes backwards", function()
      local prev = clock.now()
      assert.equal("number", type(prev))
      for _ = 1, 10000 do
        local v = clock.now()
        assert.is_true(v >= prev, "clock.now() went back from " .. prev .. " to " .. v)
        prev = v
      end
    end)

    it("counts milliseconds in real time", function()
      local moved, cpu = spin_until_now_moves(5, 2)
      assert.is_true(moved, "clock.now() did not move by 5 in 2 s of busy waiting")
      -- 5 ms of busy waiting costs milliseconds of CPU, not microseconds or seconds
      assert.is_true(cpu > 0.0002 and cpu < 1, ("5 units of clock.now() took %g s of CPU"):format(cpu))
    end)

    it("reads fractional milliseconds as they are", function()
      clock.freeze()
      local t0 = clock.now()
      clock.advance(0.25)
      assert.equal(t0 + 0.25, clock.now())
      local t1 = clock.now()
      clock.advance(1.5)
      assert.equal(t1 + 1.5, clock.now())
      assert.equal(1.75, since(t0))
    end)
  end)

  describe("freeze", function()
    it("stops time", function()
      local before = clock.now()
      clock.freeze()
      local t0 = clock.now()
      assert.is_true(t0 >= before)
      busy_wait(0.01)
      assert.equal(t0, clock.now())
      task.yield()
      assert.equal(t0, clock.now())
      assert.equal("frozen", clock.mode())
    end)

    it("fires no timer, even a due one, until advance", function()
      clock.freeze()
      local t = task.spawn(function() task.sleep(0) end)
      for _ = 1, 5 do task.yield() end
      busy_wait(0.005)
      for _ = 1, 5 do task.yield() end
      assert.equal("running", t.status)
      clock.advance(0)
      assert.equal("done", t.status)
    end)
  end)

  describe("advance", function()
    it("ends with now() = start + ms, with or without timers", function()
      clock.freeze()
      local t0 = clock.now()
      clock.advance(0)
      assert.equal(t0, clock.now())
      clock.advance(123)
      assert.equal(t0 + 123, clock.now())
      local t1 = clock.now()
      local d = task.delay(50, function() end)
      clock.advance(77)
      assert.equal(t1 + 77, clock.now())
      assert.equal("done", d.status)
    end)

    it("fires timers in deadline order, with now() at each deadline", function()
      clock.freeze()
      local t0, log = clock.now(), {}
      for _, ms in ipairs({ 30, 10, 25, 20, 5 }) do
        task.delay(ms, function() log[#log + 1] = { ms, since(t0) } end)
      end
      clock.advance(30)
      assert.same({ { 5, 5 }, { 10, 10 }, { 20, 20 }, { 25, 25 }, { 30, 30 } }, log)
    end)

    it("fires equal deadlines in the order they were set", function()
      clock.freeze()
      local log = {}
      for i = 1, 8 do
        task.delay(10, function() log[#log + 1] = i end)
      end
      -- sleeps set by tasks, in the order the tasks run
      for i = 9, 12 do
        task.spawn(function()
          task.sleep(10)
          log[#log + 1] = i
        end)
      end
      clock.advance(10)
      assert.same({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }, log)
    end)

    it("fires a timer due exactly at the target, and none after it", function()
      clock.freeze()
      local log = {}
      task.delay(10, function() log[#log + 1] = "10" end)
      local late = task.delay(10.5, function() log[#log + 1] = "10.5" end)
      clock.advance(10)
      assert.same({ "10" }, log)
      assert.equal("pending", late.status)
      clock.advance(0.5)
      assert.same({ "10", "10.5" }, log)
    end)

    it("runs ready tasks between timers, with now() at the timer that woke them", function()
      clock.freeze()
      local t0, log = clock.now(), {}
      task.delay(10, function()
        log[#log + 1] = "timer 10"
        task.spawn(function()
          task.yield()
          log[#log + 1] = "spawned at " .. since(t0)
        end)
      end)
      task.delay(20, function() log[#log + 1] = "timer 20" end)
      clock.advance(20)
      assert.same({ "timer 10", "spawned at 10", "timer 20" }, log)
    end)

    it("fires, in the same advance, timers set by tasks it woke", function()
      clock.freeze()
      local t0, log = clock.now(), {}
      task.spawn(function()
        task.sleep(10)
        log[#log + 1] = since(t0)
        task.sleep(5)
        log[#log + 1] = since(t0)
        task.sleep(100)
        log[#log + 1] = since(t0)
      end)
      task.delay(20, function() log[#log + 1] = "d" .. since(t0) end)
      clock.advance(30)
      assert.same({ 10, 15, "d20" }, log)
      assert.equal(t0 + 30, clock.now())
      clock.advance(85)
      assert.same({ 10, 15, "d20", 115 }, log)
    end)

    it("runs every ready task first, even with advance(0)", function()
      clock.freeze()
      local log = {}
      task.spawn(function() log[#log + 1] = "a" end)
      task.spawn(function()
        for i = 1, 3 do
          task.yield()
          log[#log + 1] = "b" .. i
        end
      end)
      assert.same({}, log)
      clock.advance(0)
      assert.same({ "a", "b1", "b2", "b3" }, log)
    end)

    it("runs ready tasks before the first timer fires", function()
      clock.freeze()
      local log = {}
      task.delay(0, function() log[#log + 1] = "timer" end)
      task.spawn(function() log[#log + 1] = "ready" end)
      clock.advance(0)
      assert.same({ "ready", "timer" }, log)
    end)

    it("drives every kind of timer: sleep, delay, task.timeout, future timeout, abort.timeout", function()
      clock.freeze()
      local t0 = clock.now()
      local sleeper = task.spawn(function() task.sleep(100); return since(t0) end)
      local delayed = task.delay(100, function() return since(t0) end)
      local timed = task.spawn(function()
        return pcall(task.timeout, 100, function() task.sleep(1e9) end)
      end)
      local f = task.future()
      local waiter = task.spawn(function() return pcall(f.await, f, { timeout = 100 }) end)
      local signal = abort.timeout(100)
      clock.advance(99.5)
      for _, t in ipairs({ sleeper, delayed, timed, waiter }) do assert.is_not.equal("done", t.status) end
      assert.is_false(signal.aborted)
      clock.advance(0.5)
      assert.equal(100, sleeper:await())
      assert.equal(100, delayed:await())
      local ok, err = timed:await()
      assert.is_false(ok)
      assert.is_true(errors.is(err, errors.TimeoutError))
      ok, err = waiter:await()
      assert.is_false(ok)
      assert.is_true(errors.is(err, errors.TimeoutError))
      assert.is_true(signal.aborted)
    end)

    it("fixes a deadline at the moment of the call", function()
      clock.freeze()
      local t0, at = clock.now(), nil
      clock.advance(5)
      task.delay(10, function() at = since(t0) end)
      clock.advance(9)
      assert.is_nil(at)
      clock.advance(1)
      assert.equal(15, at)
    end)

    it("raises a clear error in real time", function()
      clock.real()
      local ok, err = pcall(clock.advance, 10)
      assert.is_false(ok)
      assert.matches("virtual clock", err)
      assert.matches("clock%.freeze%(%)", err)
    end)

    it("rejects a duration that is not a non-negative number, naming the argument", function()
      clock.freeze()
      local t0 = clock.now()
      assert_bad(function() clock.advance("x") end, "bad argument #1 to 'advance' %(ms: number of milliseconds expected, got string%)")
      assert_bad(function() clock.advance() end, "bad argument #1 to 'advance' %(.*got nil%)")
      assert_bad(function() clock.advance(-1) end, "bad argument #1 to 'advance' %(ms must be a non%-negative")
      assert_bad(function() clock.advance(0 / 0) end, "bad argument #1 to 'advance' %(ms must be a non%-negative")
      assert.equal(t0, clock.now())
    end)
  end)

  describe("auto", function()
    it("finishes a task sleeping 10 minutes at once, with now() exactly 600000 later", function()
      clock.auto()
      assert.equal("auto", clock.mode())
      local t0, wall0 = clock.now(), os.time()
      task.sleep(600000)
      assert.equal(t0 + 600000, clock.now())
      assert.is_true(os.time() - wall0 <= 1)
    end)

    it("jumps from timer to timer in order", function()
      clock.auto()
      local t0, log = clock.now(), {}
      local tasks = {}
      for _, ms in ipairs({ 3000, 1000, 2000 }) do
        tasks[#tasks + 1] = task.spawn(function()
          task.sleep(ms)
          log[#log + 1] = since(t0)
        end)
      end
      task.all(tasks)
      assert.same({ 1000, 2000, 3000 }, log)
    end)

    it("jumps while tasks wait on a future a delayed task resolves", function()
      clock.auto()
      local t0 = clock.now()
      local f = task.future()
      local d = task.delay(5000, function() f:resolve(42) end)
      local other = task.spawn(function() return f:await() end)
      assert.equal(42, f:await())
      assert.equal(42, other:await())
      d:await()
      assert.equal(t0 + 5000, clock.now())
    end)

    it("does not jump while a task is ready to run", function()
      clock.auto()
      local t0, readings = clock.now(), {}
      local yielder = task.spawn(function()
        for _ = 1, 50 do
          readings[#readings + 1] = clock.now()
          task.yield()
        end
      end)
      task.sleep(1)
      assert.equal(t0 + 1, clock.now())
      assert.equal("done", yielder.status)
      assert.equal(50, #readings)
      for i = 1, 50 do assert.equal(t0, readings[i]) end
    end)

    it("stays frozen while time is not needed", function()
      clock.auto()
      local t0 = clock.now()
      busy_wait(0.005)
      assert.equal(t0, clock.now())
    end)

    it("allows advance too", function()
      clock.auto()
      local t0, at = clock.now(), nil
      task.delay(10, function() at = since(t0) end)
      clock.advance(10)
      assert.equal(10, at)
      assert.equal(t0 + 10, clock.now())
    end)
  end)

  describe("real", function()
    it("returns to real time", function()
      clock.freeze()
      clock.real()
      assert.equal("real", clock.mode())
      assert.is_true((spin_until_now_moves(2, 2)), "clock.now() did not move after clock.real()")
    end)

    it("never goes backwards across freeze/advance/auto/real switches", function()
      local readings = {}
      local function read() readings[#readings + 1] = clock.now() end
      read()
      clock.freeze(); read()
      clock.advance(1000); read()
      clock.real(); read()
      busy_wait(0.002); read()
      clock.auto(); read()
      task.sleep(5000); read()
      clock.freeze(); read()
      clock.real(); read()
      clock.real(); read()
      clock.freeze(); read()
      clock.freeze(); read()
      for i = 2, #readings do
        assert.is_true(readings[i] >= readings[i - 1],
          ("reading %d (%s) is before reading %d (%s)"):format(i, readings[i], i - 1, readings[i - 1]))
      end
      -- virtual time spent is not taken back when real time resumes
      assert.is_true(readings[4] >= readings[2] + 1000)
      assert.is_true(readings[9] >= readings[6] + 5000)
    end)

    it("keeps a timer set in virtual time on its deadline in real time", function()
      clock.freeze()
      local t0, at = clock.now(), nil
      local d = task.delay(1, function() at = clock.now() end)
      clock.real()
      local cpu0 = os.clock()
      while d.status ~= "done" and os.clock() - cpu0 < 2 do task.yield() end
      assert.equal("done", d.status)
      assert.is_true(at >= t0 + 1)
    end)
  end)
end)
