-- The main chunk runs on a coroutine of its own (as luajit calls it from C),
-- which the scheduler resumes as the root task's: its waits cost what they
-- cost in any task, and chunks run one after another.
package.path = "spec/support/?.lua;" .. package.path
local run = require "run_ebb"
local quote = run.quote

describe("a wait in the main chunk", function()
  it("costs no more CPU than the same wait in a task", function()
    -- a busy machine can slow one side for a while: the best of three runs
    local ratios = {}
    for _ = 1, 3 do
      local out, err, status = run.ebb("spec/fixtures/perf/main_chunk_wait.lua")
      assert.are.equal(0, status, err)
      local ratio = tonumber(out:match("^(%S+)\n$"))
      assert.is_truthy(ratio, out)
      if ratio < 1.15 then return end
      ratios[#ratios + 1] = out:sub(1, -2)
    end
    error("main chunk / task, CPU per wait: " .. table.concat(ratios, ", "))
  end)

  it("resumes the chunk where it waited, each chunk after the one before", function()
    local e = [[local task = require "ebb.task" task.sleep(1) io.write("e ", tostring(coroutine.running()), " ")]]
    local script = [[local task = require "ebb.task"
      local co = coroutine.create(function() task.yield() return "in a coroutine" end)
      local _, v = coroutine.resume(co)
      io.write("script ", v, " ", tostring(coroutine.running()), "\n")]]
    local out, err, status = run.ebb("-e " .. quote(e) .. " -e " .. quote(script))
    assert.are.equal(0, status, err)
    assert.are.equal("e nil script in a coroutine nil\n", out)
  end)

  it("reports an error raised after a wait at the script's line, and fails the run", function()
    local out, err, status = run.ebb("-e " .. quote([[require("ebb.task").yield()
error("late")]]))
    assert.are.equal("", out)
    assert.are.equal(1, status)
    assert.is_truthy(err:find("late", 1, true), err)
    assert.is_falsy(err:find("ebb/", 1, true), err)
  end)
end)
