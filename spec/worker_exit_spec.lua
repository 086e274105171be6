package.path = "spec/support/?.lua;" .. package.path
local run = require "run_ebb"

local function ebb(code)
  return run.ebb("-e " .. run.quote(code))
end

describe("ebb.worker and the end of the process", function()
  it("os.exit with jobs running cancels them and exits at once", function()
    local out, err, status = ebb([[
      local worker, task = require "ebb.worker", require "ebb.task"
      local p = worker.pool { size = 2 }
      task.spawn(function() p:run("return function() jit.off() while true do end end") end)
      task.spawn(function() p:run("return function() require('ebb.task').sleep(1e9) end") end)
      task.sleep(50)
      print("exiting")
      os.exit(3)
    ]])
    assert.equal("exiting\n", out)
    assert.equal("", err)
    assert.equal(3, status)
  end)

  it("a job stuck in a compiled loop holds the exit up for its pool's grace at most", function()
    local out, err, status = ebb([[
      local worker, task = require "ebb.worker", require "ebb.task"
      local p = worker.pool { size = 1, grace = 100 }
      task.spawn(function() p:run("return function() local x = 0 for i = 1, 1e15 do x = x + i end end") end)
      task.sleep(50)
      print("exiting")
      os.exit(0)
    ]])
    assert.equal("exiting\n", out)
    assert.equal("", err)
    assert.equal(0, status)
  end)

  it("a job queued in a paused pool does not keep the script running, as a paused queue's does not", function()
    local out, err, status = ebb([[
      local worker, task = require "ebb.worker", require "ebb.task"
      local p = worker.pool { size = 1 }
      p:pause()
      task.spawn(function() print(p:run("return function() return 'ran' end")) end)
      task.yield()
      print(p.pending, "main ends")
    ]])
    assert.equal("1\tmain ends\n", out)
    assert.equal("", err)
    assert.equal(0, status)
  end)

  it("a paused pool resumed, or closed, runs its queued jobs before the script ends", function()
    local out, err, status = ebb([[
      local worker, task = require "ebb.worker", require "ebb.task"
      local p = worker.pool { size = 1 }
      p:pause()
      local first = task.spawn(function() print(p:run("return function() return 'resumed' end")) end)
      task.yield()
      p:resume()
      first:await()
      local q = worker.pool { size = 1 }
      q:pause()
      task.spawn(function() print(q:run("return function() return 'closed' end")) end)
      task.yield()
      task.spawn(q.close, q)
    ]])
    assert.equal("resumed\nclosed\n", out)
    assert.equal("", err)
    assert.equal(0, status)
  end)

  it("the script waits for the jobs it awaits, and ends once they have", function()
    local out, err, status = ebb([[
      local worker, task = require "ebb.worker", require "ebb.task"
      task.spawn(function() print(worker.run("return function() require('ebb.task').sleep(30) return 'late' end")) end)
      print("main done")
    ]])
    assert.equal("main done\nlate\n", out)
    assert.equal("", err)
    assert.equal(0, status)
  end)

  it("reports an unhandled job failure with the worker's traceback", function()
    local _, err, status = ebb([[
      local worker, task = require "ebb.worker", require "ebb.task"
      task.spawn(function()
        worker.run("return function() local function deep() error('in the worker') end deep() end")
      end)
    ]])
    assert.equal(1, status)
    assert.matches("in the worker", err)
    assert.matches("in a worker thread", err)
    assert.matches("in function 'deep'", err)
  end)
end)
