package.path = "spec/support/?.lua;" .. package.path
local task = require "ebb.task"
local worker = require "ebb.worker"

-- Jobs of every shape, each ending by itself within a few ms when not cancelled.
local JOBS = {
  "return function(i) return i end",
  "return function(i) require('ebb.task').sleep(2) return i end",
  [[return function(i) jit.off() local t = os.clock() while os.clock() - t < 0.002 do end return i end]],
  [[return function(i)
    local t, x = os.clock(), 0
    while os.clock() - t < 0.002 do local f = function() return 1 end x = x + f() end
    return i
  end]],
  [[return function(i)
    local ok, e = pcall(require('ebb.task').sleep, 3)
    if not ok then error(e, 0) end
    return i
  end]],
}

describe("ebb.worker under cancellation", function()
  it("1,000 jobs cancelled at random points leave every worker reusable and nothing behind", function()
    local abandoned = worker.abandoned()
    local pool = worker.pool { size = 2, grace = 5000 }
    math.randomseed(15)
    local tasks, cancelled = {}, 0
    for i = 1, 1000 do
      local code = JOBS[math.random(#JOBS)]
      local t = task.spawn(function() return pool:run(code, i) end)
      tasks[i] = t
      if math.random() < 0.6 then
        cancelled = cancelled + 1
        local yields = math.random(0, 4)
        task.spawn(function()
          for _ = 1, yields do task.yield() end
          t:cancel()
        end)
      end
    end
    local ok_count = 0
    for i = 1, 1000 do
      local ok, v = pcall(tasks[i].await, tasks[i])
      if ok then
        assert.equal(i, v)
        ok_count = ok_count + 1
      end
    end
    assert.is_true(ok_count >= 1000 - cancelled)
    local r = task.all({
      function() return pool:run(JOBS[1], "a") end,
      function() return pool:run(JOBS[1], "b") end,
    })
    assert.same({ "a", "b" }, r)
    local s = pool:stats()
    assert.same({ 2, 0, 0, 0 }, { s.size, s.active, s.pending, s.replaced })
    pool:close()
    assert.equal(abandoned, worker.abandoned()) -- no thread let go
  end)
end)
