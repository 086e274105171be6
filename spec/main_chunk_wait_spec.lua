-- The main chunk runs on a coroutine of its own (as luajit calls it from C),
-- which the scheduler resumes as the root task's, and chunks run one after
-- another. What a wait there costs against one in a task is measured by
-- bench/main_chunk_wait.lua, not here.
package.path = "spec/support/?.lua;" .. package.path
local run = require "run_ebb"
local quote = run.quote

describe("a wait in the main chunk", function()
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
