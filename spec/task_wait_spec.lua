-- Specs for ebb.task's waits (yield, delay, a wait's abort, a waiting require), one rule
-- of the API contract ("rules every module follows", "ebb.task") at a time. Every `it`
-- body runs in a task of its own; anything timed runs on the virtual clock (the runner
-- puts the clock back to real after each spec).
package.path = "spec/support/?.lua;" .. package.path
local task = require "ebb.task"
local clock = require "ebb.clock"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local core = require "ebb.core"
local raised = require("asserts").raised -- calls fn(...), which must raise; returns what it raised
local await_error = require("task_support").await_error
local assert_elapsed = require("asserts").elapsed -- the clock reads t0 + ms, to within rounding

describe("ebb.task", function()
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

  describe("a wait that cannot yield (inside a C call such as table.sort's comparator)", function()
    it("raises, and leaves nothing armed: no timer, no listener on its signal", function()
      clock.freeze()
      local timers = core.stats().timers
      local t = task.spawn(function()
        local ctl = abort.controller()
        local ok, err = pcall(table.sort, { 3, 1, 2 }, function(a, b)
          task.sleep(5, ctl.signal)
          return a < b
        end)
        ctl = nil -- the signal it named is collected before the task ends
        collectgarbage()
        collectgarbage()
        return ok, tostring(err)
      end)
      local ok, err = t:await()
      assert.is_false(ok)
      assert.matches("yield", err)
      assert.equal(timers, core.stats().timers)
      local after = task.spawn(function() task.sleep(5) return "slept" end)
      clock.advance(5)
      assert.equal("slept", after:await())
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
end)
