-- What a task costs: the arguments it is given, exactly, and the memory of
-- one that waits.
local task = require "ebb.task"
local clock = require "ebb.clock"

local function count(...) return select("#", ...) end

describe("task.spawn's arguments", function()
  it("passes exactly what it was given, trailing nils counted", function()
    assert.equal(0, task.spawn(count):await())
    assert.equal(1, task.spawn(count, nil):await())
    assert.equal(2, task.spawn(count, 1, nil):await())
    assert.equal(3, task.spawn(count, nil, nil, nil):await())
  end)

  it("returns exactly what the function returned", function()
    assert.equal(0, count(task.spawn(function() end):await()))
    assert.equal(1, count(task.spawn(function() return nil end):await()))
    assert.equal(3, count(task.spawn(function() return 1, nil, nil end):await()))
  end)
end)

describe("a task that waits", function()
  after_each(function() clock.real() end)

  -- A suspended coroutine is about 0.5 KB (its state and a stack of 47
  -- slots); a closure that sleeps should cost little more: its task table,
  -- its closure and the scheduler's refs. A stack that had doubled (the
  -- runner's frames plus the 20 slots a C function is given) made it 1.3 KB.
  it("costs little more than its coroutine when it is a closure that sleeps", function()
    clock.freeze()
    local N = 2000
    collectgarbage()
    collectgarbage()
    local before = collectgarbage("count")
    local list = {}
    for i = 1, N do
      list[i] = task.spawn(function() task.sleep(1000 + i) end)
    end
    clock.advance(0) -- every task starts and sleeps
    collectgarbage()
    collectgarbage()
    local per_task = (collectgarbage("count") - before) * 1024 / N
    for i = 1, N do list[i]:cancel() end
    assert.is_true(per_task < 1000, ("%.0f bytes per sleeping task"):format(per_task))
  end)
end)
