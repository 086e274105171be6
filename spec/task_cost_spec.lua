-- What a task costs: the arguments it is given, exactly, and the memory of
-- one that waits.
package.path = "spec/support/?.lua;" .. package.path
local task = require "ebb.task"
local clock = require "ebb.clock"
local run = require "run_ebb"

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
  -- slots); a closure that sleeps should cost little more: its task table
  -- (no hash part, its record at [0]), its closure and the scheduler's
  -- refs: about 790 bytes of Lua heap here, where each task also has an
  -- owner, its one hash field (820 when the table had a hash part of two
  -- nodes besides, 915 with four). A stack that had doubled (the runner's frames plus the 20 slots
  -- a C function is given) made it 1.3 KB.
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
    assert.is_true(per_task < 840, ("%.0f bytes per sleeping task"):format(per_task))
  end)
end)

describe("a task that sleeps with no record of its own", function()
  after_each(function() clock.real() end)

  it("is cancelled at once while it sleeps", function()
    clock.freeze()
    local woke = false
    local t = task.spawn(function() task.sleep(1000) woke = true end)
    clock.advance(0)
    t:cancel("enough")
    local ok, err = pcall(t.await, t)
    assert.is_false(ok)
    assert.matches("enough", tostring(err))
    assert.is_false(woke)
    clock.advance(2000)
    assert.is_false(woke)
  end)

  it("is cancelled when its sleep is over but it has not run yet", function()
    local woke = false
    local victim
    -- both are due when the clock is next read, after the batch they slept
    -- in: first runs, and victim is woken but has not run
    local first = task.spawn(function() task.sleep(0) victim:cancel("too late") end)
    victim = task.spawn(function() task.sleep(0) woke = true end)
    local ok, err = pcall(victim.await, victim)
    first:await()
    assert.is_false(ok)
    assert.matches("too late", tostring(err))
    assert.is_false(woke)
  end)

  it("sleeps again, and waits on other things, once it has run", function()
    clock.freeze()
    local steps = {}
    local t = task.spawn(function()
      task.sleep(5)
      steps[#steps + 1] = "one"
      task.sleep(5)
      steps[#steps + 1] = "two"
      task.yield()
      task.sleep(5, require("ebb.abort").controller().signal)
      steps[#steps + 1] = "three"
      return "done"
    end)
    clock.advance(20)
    assert.equal("done", t:await())
    assert.same({ "one", "two", "three" }, steps)
  end)
end)

describe("tasks that waited", function()
  -- 30,000 closures that sleep, in a child ebb: its peak memory is about
  -- what they cost while they all wait (under 1 KB each). Ending such a task, with
  -- the code compiled, once doubled its coroutine's stack just before the
  -- coroutine was done with: the peak was then half as high again.
  it("end without growing their stacks", function()
    local code = [[
local task = require "ebb.task"
local list = {}
for i = 1, 30000 do list[i] = task.spawn(function() task.sleep(i % 20) end) end
task.all(list)
for line in io.lines("/proc/self/status") do
  local kb = line:match("^VmHWM:%s*(%d+) kB")
  if kb then print(kb) end
end
]]
    local out, err, status = run.ebb("-e " .. run.quote(code))
    assert.equal("", err)
    assert.equal(0, status)
    local peak_mb = tonumber(out:match("^(%d+)")) / 1024
    -- 26.9 MB here: each task's stack kept small, its table with no hash
    -- part, a sleeper of 32 bytes from a slab until it runs again and no
    -- list of the tasks that ended in task.all (27.8 MB with a C record of
    -- 64 bytes from a slab from its sleep to its end, 30.3 MB with two hash
    -- nodes and a record of 80, 34.4 MB with four and a record of 184, 37 MB
    -- with one of 304 malloc'd on its own).
    -- Under the sanitizers ASan's allocator costs more.
    local bound = os.getenv("EBB_BIN") and 55 or 28.5
    assert.is_true(peak_mb < bound, ("peak %.1f MB"):format(peak_mb))
  end)
end)
