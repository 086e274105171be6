-- task.interval: ticks on the planned times start + k*ms (virtual time, to
-- the tick), skips what was missed rather than bursting (real time, with the
-- loop kept busy), never overlaps a function that waits, and ends at once by
-- its signal, by cancel, or with the error its function raised.
package.path = "spec/support/?.lua;" .. package.path
local task = require "ebb.task"
local clock = require "ebb.clock"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local abort_core = require "ebb.abort.core"
local asserts = require "asserts"
local raised = asserts.raised

-- An interval whose ticks are logged: the tick numbers, and the times (from
-- the call) at which fn began.
local function logged(ms, body, opts)
  local log = { ticks = {}, at = {} }
  local start = clock.now()
  log.task = task.interval(ms, function(k)
    log.ticks[#log.ticks + 1] = k
    log.at[#log.at + 1] = clock.now() - start
    if body then body(k) end
  end, opts)
  return log
end

describe("task.interval", function()
  describe("on the virtual clock", function()
    before_each(function() clock.freeze() end)

    it("ticks exactly 1,000 times in 10 s of 10 ms, each on its planned time", function()
      local log = logged(10)
      clock.advance(10000)
      assert.equal(1000, #log.ticks)
      for k = 1, 1000 do
        assert.equal(k, log.ticks[k])
        assert.near(k * 10, log.at[k], 1e-6)
      end
      log.task:cancel()
    end)

    it("does not drift when the function takes time: the next tick is planned from the last plan", function()
      local log = logged(10, function() task.sleep(3) end)
      clock.advance(100)
      assert.same({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, log.ticks)
      assert.near(100, log.at[10], 1e-6)
      log.task:cancel()
    end)

    it("skips the ticks a function still running covers: no overlap, no catching up", function()
      local running, most = 0, 0
      local log = logged(10, function()
        running = running + 1
        most = math.max(most, running)
        task.sleep(25)
        running = running - 1
      end)
      clock.advance(100)
      assert.same({ 1, 4, 7, 10 }, log.ticks)
      for i, at in ipairs { 10, 40, 70, 100 } do assert.near(at, log.at[i], 1e-6) end
      assert.equal(1, most)
      log.task:cancel()
    end)

    it("runs a tick that falls due just as the function ends", function()
      local log = logged(10, function() task.sleep(10) end)
      clock.advance(60)
      assert.same({ 1, 2, 3, 4, 5, 6 }, log.ticks)
      log.task:cancel()
    end)

    it("calls fn with the tick's number and runs it in the interval's task", function()
      local inside
      local t
      t = task.interval(5, function(k)
        inside = task.current() == t and k
      end)
      clock.advance(5)
      assert.equal(1, inside)
      assert.equal("running", t.status)
      t:cancel()
    end)

    it("works under clock.auto: the interval's sleeps move time", function()
      clock.auto()
      local log = logged(250)
      task.sleep(1000)
      assert.same({ 1, 2, 3 }, log.ticks) -- the tick at 1000 comes after this sleep, set first
      log.task:cancel()
    end)
  end)

  describe("in real time with the loop kept busy 30 ms at a time", function()
    -- (each call's time is read in fn, a little after ebb read it to plan the
    -- next: 1 ms of slack for a preemption in between)
    it("skips missed ticks and never bursts: no two calls less than ms / 2 apart", function()
      local stamps, ticks = {}, {}
      local t = task.interval(10, function(k)
        stamps[#stamps + 1] = clock.now()
        ticks[#ticks + 1] = k
      end)
      local busy = task.spawn(function()
        local stop = clock.now() + 1000
        while clock.now() < stop do
          local until_ms = clock.now() + 30
          while clock.now() < until_ms do end -- blocks the loop
          task.yield()
        end
      end)
      busy:await()
      t:cancel()
      assert.is_true(#stamps >= 2, "ticks: " .. #stamps)
      assert.is_true(#stamps <= 100, "ticks: " .. #stamps)
      local skipped = false
      for i = 2, #stamps do
        assert.is_true(stamps[i] - stamps[i - 1] >= 4,
          ("ticks %d and %d only %.3f ms apart"):format(ticks[i - 1], ticks[i], stamps[i] - stamps[i - 1]))
        if ticks[i] > ticks[i - 1] + 1 then skipped = true end
      end
      assert.is_true(skipped, "no tick was skipped")
    end)
  end)

  describe("ends", function()
    before_each(function() clock.freeze() end)

    it("at once when its signal aborts, even inside fn's wait: await raises the reason", function()
      local ctl = abort.controller()
      local cleaned
      local log = logged(10, function()
        local ok, e = pcall(task.sleep, 1000)
        cleaned = not ok and e
        if not ok then error(e, 0) end
      end, { signal = ctl.signal })
      assert.equal(1, abort_core.listeners(ctl.signal))
      clock.advance(15)
      local reason = errors.AbortError("stop")
      ctl:abort(reason)
      assert.equal(reason, raised(log.task.await, log.task))
      assert.equal(reason, cleaned)
      assert.equal("cancelled", log.task.status)
      assert.equal(0, abort_core.listeners(ctl.signal))
      clock.advance(100)
      assert.same({ 1 }, log.ticks)
    end)

    it("when cancelled before its first tick: fn never runs", function()
      local log = logged(10)
      log.task:cancel()
      clock.advance(100)
      assert.same({}, log.ticks)
      assert.equal("cancelled", log.task.status)
    end)

    it("lets go of its signal when cancelled before it started", function()
      local ctl = abort.controller()
      local t = task.interval(10, function() end, { signal = ctl.signal })
      t:cancel()
      task.yield()
      assert.equal(0, abort_core.listeners(ctl.signal))
    end)

    it("raises at once, starting nothing, when the signal is already aborted", function()
      local reason = errors.AbortError("gone")
      local ran = false
      assert.equal(reason, raised(task.interval, 10, function() ran = true end,
        { signal = abort.aborted(reason) }))
      clock.advance(100)
      assert.is_false(ran)
    end)

    it("with fn's error: no more ticks, and await raises it", function()
      local boom = errors.new("boom")
      local log = logged(10, function(k) if k == 3 then error(boom) end end)
      log.task:result() -- awaited from here on: not an unhandled failure
      clock.advance(100)
      assert.same({ 1, 2, 3 }, log.ticks)
      assert.equal("failed", log.task.status)
      assert.equal(boom, raised(log.task.await, log.task))
    end)
  end)

  describe("bad input", function()
    it("takes the smallest positive period: it ticks at each turn of the loop", function()
      for _, ms in ipairs({ 5e-324, 1e-300 }) do
        local calls = 0
        local t = task.interval(ms, function()
          calls = calls + 1
          if calls == 5 then error("enough", 0) end
        end)
        local ok, e = pcall(t.await, t)
        assert.is_false(ok)
        assert.equal("enough", e)
        assert.equal(5, calls)
      end
    end)

    asserts.each_bad(it, {
      { "ms not a number", function() task.interval("10", print) end,
        "bad argument #1 to 'interval' %(ms: number of milliseconds expected, got string%)" },
      { "ms zero", function() task.interval(0, print) end,
        "bad argument #1 to 'interval' %(ms must be a positive number of milliseconds, at most 1e12, got 0%)" },
      { "ms negative", function() task.interval(-5, print) end, "got %-5%)" },
      { "ms NaN", function() task.interval(0 / 0, print) end, "ms must be a positive number.*got %-?nan%)" },
      { "ms infinite", function() task.interval(math.huge, print) end, "ms must be a positive number.*got inf%)" },
      { "fn not a function", function() task.interval(10, 3) end,
        "bad argument #2 to 'interval' %(function expected, got number%)" },
      { "options not a table", function() task.interval(10, print, 3) end,
        "bad argument #3 to 'interval' %(table of options expected, got number%)" },
      { "an unknown option", function() task.interval(10, print, { sigal = 1 }) end,
        "unknown option 'sigal'; valid options: signal" },
      { "a signal that is not one", function() task.interval(10, print, { signal = {} }) end,
        "option 'signal' must be an abort signal, got table" },
    })
  end)
end)
