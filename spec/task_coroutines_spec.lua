-- Specs for ebb.task with the script's own coroutines, one rule of the API contract
-- ("rules every module follows", "ebb.task") at a time. Every `it` body runs in a task of
-- its own; anything timed runs on the virtual clock (the runner puts the clock back to
-- real after each spec).
package.path = "spec/support/?.lua;" .. package.path
local task = require "ebb.task"
local clock = require "ebb.clock"
local errors = require "ebb.errors"

local await_error = require("task_support").await_error
local assert_elapsed = require("asserts").elapsed -- the clock reads t0 + ms, to within rounding

describe("ebb.task", function()
  describe("coroutines of the script's own", function()
    it("coroutine.wrap: a generator may sleep and yields its own values", function()
      clock.auto()
      local t0 = clock.now()
      local gen = coroutine.wrap(function(tag)
        for i = 1, 3 do
          task.sleep(10)
          tag = coroutine.yield(i, tag) or tag
        end
        return "end"
      end)
      local out = {}
      for i = 1, 3 do
        local n, tag = gen(i == 1 and "A" or "B")
        out[i] = n .. tag
      end
      assert.same({ "1A", "2B", "3B" }, out)
      assert.equal("end", gen())
      assert_elapsed(t0, 30)
    end)

    it("coroutine.create/resume: values in and out, status, errors", function()
      clock.auto()
      local boom = errors.new("boom")
      local co = coroutine.create(function(a)
        task.sleep(5)
        local b = coroutine.yield(a * 2)
        task.yield()
        local c = coroutine.yield(b .. "!")
        task.sleep(5)
        if c == "fail" then error(boom) end
      end)
      assert.same({ true, 2 }, { coroutine.resume(co, 1) })
      assert.equal("suspended", coroutine.status(co))
      assert.same({ true, "hi!" }, { coroutine.resume(co, "hi") })
      local ok, e = coroutine.resume(co, "fail")
      assert.is_false(ok)
      assert.equal(boom, e)
      assert.equal("dead", coroutine.status(co))
    end)

    it("other tasks run while a coroutine of the script's own sleeps", function()
      clock.auto()
      local log = {}
      local other = task.spawn(function() task.sleep(5); log[#log + 1] = "other" end)
      local gen = coroutine.wrap(function()
        task.sleep(10)
        log[#log + 1] = "gen"
        coroutine.yield("value")
      end)
      assert.equal("value", gen())
      assert.same({ "other", "gen" }, log)
      other:await()
    end)

    it("cancelling a task parked inside its own coroutine raises the reason there", function()
      clock.freeze()
      local reason = errors.new("stop")
      local log = {}
      local t = task.spawn(function()
        local gen = coroutine.wrap(function()
          local ok, e = pcall(task.sleep, 1e6)
          log[#log + 1] = "cleanup"
          if not ok then error(e, 0) end
          coroutine.yield("never")
        end)
        return gen()
      end)
      clock.advance(0)
      t:cancel(reason)
      assert.equal(reason, await_error(t))
      assert.equal("cancelled", t.status)
      assert.same({ "cleanup" }, log)
    end)
  end)
end)
