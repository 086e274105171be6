package.path = "spec/support/?.lua;" .. package.path
local task = require "ebb.task"
local worker = require "ebb.worker"
local core = require "ebb.core"
local fs = require "ebb.fs"

local BATCHES, BATCH = 5, 2000 -- 10,000 jobs, in specs short enough for a sanitizer build

-- The worker threads of this process, by the name they give themselves
-- (fs.readdir runs in-process: /proc/self is us): a set of thread ids.
local function worker_threads()
  local set = {}
  for _, tid in ipairs(fs.readdir("/proc/self/task")) do
    local f = io.open("/proc/self/task/" .. tid .. "/comm")
    if f then
      if f:read("*l") == "ebb-worker" then set[tid] = true end
      f:close()
    end
  end
  return set
end

-- How many worker threads there are that were not in `before` (threads of
-- earlier specs, let go and still running, may end meanwhile).
local function new_threads(before)
  local n = 0
  for tid in pairs(worker_threads()) do
    if not before[tid] then n = n + 1 end
  end
  return n
end

-- Jobs of every shape, each ending by itself within a millisecond or two when not cancelled.
local JOBS = {
  "return function(i) return i end",
  "return function(i) require('ebb.task').sleep(1) return i end",
  [[return function(i) jit.off() local t = os.clock() while os.clock() - t < 0.0005 do end return i end]],
  [[return function(i)
    local t, x = os.clock(), 0
    while os.clock() - t < 0.0005 do local f = function() return 1 end x = x + f() end
    return i
  end]],
  [[return function(i)
    local ok, e = pcall(require('ebb.task').sleep, 1)
    if not ok then error(e, 0) end
    return i
  end]],
}

-- Runs jobs first..last on pool, cancelling most at random points; checks
-- that every one not cancelled returned its own value.
local function run_batch(pool, first, last)
  local tasks, cancelled = {}, 0
  for i = first, last do
    local code = JOBS[math.random(#JOBS)]
    local t = task.spawn(function() return pool:run(code, i) end)
    tasks[i] = t
    if math.random() < 0.7 then
      cancelled = cancelled + 1
      local yields = math.random(0, 4)
      task.spawn(function()
        for _ = 1, yields do task.yield() end
        t:cancel()
      end)
    end
  end
  local ok_count = 0
  for i = first, last do
    local ok, v = pcall(tasks[i].await, tasks[i])
    if ok then
      assert.equal(i, v)
      ok_count = ok_count + 1
    end
  end
  assert.is_true(ok_count >= last - first + 1 - cancelled)
end

describe("ebb.worker under cancellation: 10,000 jobs cancelled at random points", function()
  local pool, abandoned, threads, handles
  lazy_setup(function()
    abandoned, threads, handles = worker.abandoned(), worker_threads(), core.stats().handles
    pool = worker.pool { size = 2, grace = 5000 }
    math.randomseed(15)
  end)

  for b = 1, BATCHES do
    local first = (b - 1) * BATCH + 1
    it(("jobs %d to %d leave both workers reusable"):format(first, first + BATCH - 1), function()
      run_batch(pool, first, first + BATCH - 1)
      local r = task.all({
        function() return pool:run(JOBS[1], "a") end,
        function() return pool:run(JOBS[1], "b") end,
      })
      assert.same({ "a", "b" }, r)
      local s = pool:stats()
      assert.same({ 2, 0, 0, 0 }, { s.size, s.active, s.pending, s.replaced })
      assert.equal(2, new_threads(threads)) -- its two workers, none replaced
    end)
  end

  it("and then close leaves no thread, state or handle behind", function()
    pool:close()
    assert.is_true(worker.abandoned() <= abandoned) -- none let go by this pool
    assert.equal(0, new_threads(threads)) -- every worker's thread (and its state) has ended
    assert.equal(handles, core.stats().handles)
  end)
end)
