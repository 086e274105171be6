local task = require "ebb.task"
local abort = require "ebb.abort"
local clock = require "ebb.clock"
local errors = require "ebb.errors"
local worker = require "ebb.worker"

local STUCK = "return function() require('ebb.task').sleep(1e9) end" -- ends when cancelled
local ECHO = "return function(...) return ... end"

-- The pool's queue follows ebb.queue's rules (docs/queue.md).
describe("ebb.worker's queue", function()
  local pool
  before_each(function() pool = worker.pool { size = 1 } end)
  after_each(function() pool:close() end)

  it("counts jobs in pool.active and pool.pending, as a queue does", function()
    assert.equal(0, pool.active)
    assert.equal(0, pool.pending)
    local first = task.spawn(pool.run, pool, STUCK)
    local rest = { task.spawn(pool.run, pool, ECHO, 1), task.spawn(pool.run, pool, ECHO, 2) }
    task.yield()
    assert.equal(1, pool.active)
    assert.equal(2, pool.pending)
    assert.equal("Pool (1 workers, 1 active, 2 pending)", tostring(pool))
    local s = pool:stats()
    assert.same({ 1, 2 }, { s.active, s.pending })
    first:cancel()
    for i, t in ipairs(rest) do assert.equal(i, t:await()) end
    pool:idle()
    assert.same({ 0, 0 }, { pool.active, pool.pending })
  end)

  it("counts a job's timeout from its start, not while it waits in the queue", function()
    clock.freeze()
    local first = task.spawn(pool.run, pool, STUCK)
    local second = task.spawn(pool.run, pool, { ECHO, timeout = 10 }, "ran")
    task.yield()
    clock.advance(100) -- past its timeout, had it been counted while queued
    assert.equal("pending", pool.pending == 1 and "pending" or "gone")
    first:cancel()
    assert.equal("ran", second:await())
    local started = task.spawn(pcall, pool.run, pool, { STUCK, timeout = 10 }) -- a free worker: it starts now
    task.yield()
    clock.advance(10)
    local ok, e = started:await()
    assert.is_false(ok)
    assert.is_true(errors.is(e, errors.TimeoutError))
  end)

  it("a queued job cancelled leaves the queue at once and never runs", function()
    local first = task.spawn(pool.run, pool, STUCK)
    local marker = os.tmpname()
    os.remove(marker)
    local queued = task.spawn(pool.run, pool, "return function(p) io.open(p, 'w'):close() end", marker)
    local by_signal = abort.controller()
    local signalled = task.spawn(pool.run, pool, { ECHO, signal = by_signal.signal })
    task.yield()
    assert.equal(2, pool.pending)
    queued:cancel()
    by_signal:abort("stop")
    assert.equal(0, pool.pending)
    assert.equal("stop", select(2, pcall(signalled.await, signalled)))
    first:cancel()
    pool:idle()
    assert.is_nil(io.open(marker))
  end)

  it("clear fails the queued jobs with its reason and leaves the running one alone", function()
    local first = task.spawn(pool.run, pool, "return function() require('ebb.task').sleep(20) return 'first' end")
    local second = task.spawn(pool.run, pool, ECHO, 2)
    local third = task.spawn(pool.run, pool, ECHO, 3)
    task.yield()
    pool:clear()
    assert.equal(0, pool.pending)
    assert.is_false((pcall(third.await, third)))
    local ok, e = pcall(second.await, second)
    assert.is_false(ok)
    assert.is_true(errors.is(e, errors.AbortError))
    assert.equal("the queue was cleared", e.message)
    local reason = { why = "shutting down" }
    local fourth = task.spawn(pool.run, pool, ECHO, 4)
    task.yield()
    pool:clear(reason)
    assert.equal(reason, select(2, pcall(fourth.await, fourth)))
    assert.equal("first", first:await())
    pool:idle()
    assert.equal("again", pool:run(ECHO, "again")) -- the pool goes on
    assert.has_error(function() pool.clear({}) end, "bad argument #1 to 'clear' (worker pool expected, got table)")
  end)

  it("reads its counts only from a pool: __index given another self names it", function()
    local index = getmetatable(pool).__index
    for _, k in ipairs { "active", "pending", "paused" } do
      assert.has_error(function() index({}, k) end, "bad argument #1 to '__index' (worker pool expected, got table)")
      assert.has_error(function() index(5, k) end, "bad argument #1 to '__index' (worker pool expected, got number)")
    end
    assert.is_nil(index({}, "other"))
  end)

  it("pause keeps queued jobs waiting, the running ones go on; resume hands them out", function()
    local running = task.spawn(pool.run, pool, "return function() require('ebb.task').sleep(5) return 'ran' end")
    task.yield()
    pool:pause()
    local queued = task.spawn(pool.run, pool, ECHO, "later")
    assert.equal("ran", running:await())
    assert.is_true(pool.paused)
    assert.same({ 0, 1 }, { pool.active, pool.pending })
    assert.equal("Pool (1 workers, 0 active, 1 pending, paused)", tostring(pool))
    pool:resume()
    assert.is_false(pool.paused)
    assert.equal("later", queued:await())
    pool:pause()
    local at_close = task.spawn(pool.run, pool, ECHO, "before the end")
    task.yield()
    pool:close() -- runs what is queued, paused or not
    assert.equal("before the end", at_close:await())
  end)

  it("idle wakes every task waiting in it, and again for a later batch", function()
    local first = task.spawn(pool.run, pool, "return function() require('ebb.task').sleep(5) end")
    task.yield()
    local woke = 0
    local waiters = {}
    for i = 1, 3 do waiters[i] = task.spawn(function() pool:idle() woke = woke + 1 end) end
    first:await()
    for _, w in ipairs(waiters) do w:await() end
    assert.equal(3, woke)
    task.spawn(pool.run, pool, "return function() require('ebb.task').sleep(5) end")
    task.yield()
    assert.equal(1, pool.active)
    pool:idle()
    assert.equal(0, pool.active)
  end)
end)
