-- Specs for ebb.queue's concurrency, priority and scale, one rule of the API contract
-- ("rules every module follows", "ebb.queue") at a time. Timed bodies start with
-- clock.auto(): sleeps take no real time (the runner puts the clock back to real after
-- each spec).
package.path = "spec/support/?.lua;" .. package.path
local queue = require "ebb.queue"
local task = require "ebb.task"
local clock = require "ebb.clock"
local gate = require("queue_support").gate -- a future a gated job waits on

-- Counts the jobs running at once: wrap(fn) is a job that counts itself in and out.
local function meter()
  local m = { now = 0, max = 0 }
  function m.wrap(fn)
    return function(...)
      m.now = m.now + 1
      if m.now > m.max then m.max = m.now end
      local r = { pcall(fn, ...) }
      m.now = m.now - 1
      if not r[1] then error(r[2], 0) end
      return unpack(r, 2, table.maxn(r))
    end
  end
  return m
end

describe("ebb.queue", function()
  describe("concurrency", function()
    it("never has more jobs active than the concurrency", function()
      clock.auto()
      local q = queue.new(3)
      local m = meter()
      local seen_active = 0
      local tasks = {}
      for i = 1, 20 do
        tasks[i] = q:push(m.wrap(function()
          if q.active > seen_active then seen_active = q.active end
          task.sleep(1 + (i * 7) % 5)
          task.yield()
          return i
        end))
        assert.is_true(q.active <= 3)
      end
      assert.equal(3, q.active)
      assert.equal(17, q.pending)
      q:idle()
      assert.equal(3, m.max)
      assert.equal(3, seen_active)
      for i = 1, 20 do assert.equal(i, tasks[i]:await()) end
    end)

    it("accepts math.huge: every job starts at once", function()
      local q = queue.new(math.huge)
      local g = gate()
      for _ = 1, 50 do q:push(function() g:await() end) end
      assert.equal(50, q.active)
      assert.equal(0, q.pending)
      g:resolve()
      q:idle()
      assert.equal(0, q.active)
    end)

    it("raising set_concurrency starts waiting jobs at once", function()
      local q = queue.new(1)
      local g = gate()
      local m = meter()
      for _ = 1, 5 do q:push(m.wrap(function() g:await() end)) end
      assert.equal(1, q.active)
      assert.equal(4, q.pending)
      q:set_concurrency(3)
      assert.equal(3, q.active) -- within the call, not on a later turn
      assert.equal(2, q.pending)
      task.yield()
      assert.equal(3, m.now)
      g:resolve()
      q:idle()
      assert.equal(3, m.max)
    end)

    it("lowering set_concurrency lets running jobs finish and starts none until below", function()
      local q = queue.new(3)
      local gates, started = {}, {}
      for i = 1, 6 do
        gates[i] = gate()
        q:push(function()
          started[#started + 1] = i
          gates[i]:await()
          return i
        end)
      end
      task.yield()
      assert.same({ 1, 2, 3 }, started)
      q:set_concurrency(1)
      assert.equal(3, q.active) -- nobody is cancelled
      assert.equal(3, q.pending)
      gates[1]:resolve()
      task.yield()
      task.yield()
      assert.equal(2, q.active)
      assert.same({ 1, 2, 3 }, started) -- 2 active, limit 1: no start
      gates[2]:resolve()
      task.yield()
      task.yield()
      assert.equal(1, q.active)
      assert.same({ 1, 2, 3 }, started) -- 1 active, limit 1: still none
      gates[3]:resolve()
      task.yield()
      task.yield()
      assert.same({ 1, 2, 3, 4 }, started) -- below the limit: one more
      assert.equal(1, q.active)
      assert.equal(2, q.pending)
      for i = 4, 6 do gates[i]:resolve() end
      q:idle()
      assert.same({ 1, 2, 3, 4, 5, 6 }, started)
    end)
  end)

  describe("priority", function()
    it("runs higher first, FIFO within a priority; negative and fractional work", function()
      local q = queue.new(1)
      local order = {}
      local function job(name) return function() order[#order + 1] = name end end
      q:pause()
      q:push(job("0a"))
      q:push(job("5a"), { priority = 5 })
      q:push(job("-1"), { priority = -1 })
      q:push(job("0b"), { priority = 0 })
      q:push(job("5b"), { priority = 5 })
      q:push(job("0.5"), { priority = 0.5 })
      q:push(job("-2.5"), { priority = -2.5 })
      q:push(job("0.25"), { priority = 0.25 })
      q:push(job("huge"), { priority = math.huge })
      q:push(job("-huge"), { priority = -math.huge })
      q:push(job("0c"))
      q:resume()
      q:idle()
      assert.same({ "huge", "5a", "5b", "0.5", "0.25", "0a", "0b", "0c", "-1", "-2.5", "-huge" }, order)
    end)

    it("lets a later high-priority job jump the waiting line, not the running jobs", function()
      clock.auto()
      local q = queue.new(1)
      local order = {}
      local function job(name) return function() order[#order + 1] = name; task.sleep(10) end end
      q:push(job("first"))
      q:push(job("low 1"))
      q:push(job("low 2"))
      task.sleep(5)
      q:push(job("urgent"), { priority = 10 })
      q:idle()
      assert.same({ "first", "urgent", "low 1", "low 2" }, order)
    end)

    it("keeps working when priorities are used once each (none pile up)", function()
      local q = queue.new(1)
      local order = {}
      for i = 1, 2000 do
        q:push(function() order[#order + 1] = i end, { priority = i / 7 })
        q:idle()
      end
      assert.equal(2000, #order)
      q:pause()
      for i = 1, 200 do q:push(function() order[#order + 1] = -i end, { priority = i % 3 + i / 1000 }) end
      q:resume()
      q:idle()
      assert.equal(2200, #order)
      local prev = math.huge
      for k = 2001, 2200 do
        local i = -order[k]
        local p = i % 3 + i / 1000
        assert.is_true(p < prev)
        prev = p
      end
    end)
  end)

  describe("at scale", function()
    it("runs 10,000 jobs at concurrency 7 exactly once each, in order", function()
      clock.auto()
      local q = queue.new(7)
      local N = 10000
      local runs, order = {}, {}
      local m = meter()
      for i = 1, N do
        q:push(m.wrap(function()
          order[#order + 1] = i
          runs[i] = (runs[i] or 0) + 1
          if i % 3 == 0 then task.sleep(i % 5) else task.yield() end
        end))
      end
      assert.equal(N - 7, q.pending)
      q:idle()
      assert.equal(7, m.max)
      assert.equal(N, #order)
      for i = 1, N do
        assert.equal(1, runs[i])
        if order[i] ~= i then assert.equal(i, order[i]) end
      end
    end)
  end)
end)
