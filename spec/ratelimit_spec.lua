-- Specs for ebb.ratelimit's local limiter, on virtual time: exact instants.
package.path = "spec/support/?.lua;" .. package.path
local ratelimit = require "ebb.ratelimit"
local clock = require "ebb.clock"
local task = require "ebb.task"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local asserts = require "asserts"
local raised, elapsed = asserts.raised, asserts.elapsed

describe("ratelimit.new", function()
  before_each(function() clock.auto() end)

  it("gives a burst at once, then one token every per/rate ms", function()
    local l = ratelimit.new { rate = 10, burst = 3 }
    local t0 = clock.now()
    local at = {}
    for i = 1, 6 do
      l:take()
      at[i] = clock.now() - t0
    end
    for i, ms in ipairs { 0, 0, 0, 100, 200, 300 } do assert.near(ms, at[i], 1e-6) end
  end)

  it("refills while idle, never past the burst", function()
    local l = ratelimit.new { rate = 2, per = 100, burst = 2 }
    local t0 = clock.now()
    l:take(2)
    task.sleep(1000)
    l:take(2)
    elapsed(t0, 1000)
    assert.is_false((l:try_take()))
    l:take()
    elapsed(t0, 1050)
  end)

  it("without a burst, spaces takes evenly", function()
    local l = ratelimit.new { rate = 4 }
    local t0 = clock.now()
    for _ = 1, 5 do l:take() end
    elapsed(t0, 1000)
  end)

  it("try_take takes when it can, else says how long to wait", function()
    local l = ratelimit.new { rate = 10, burst = 2 }
    assert.is_true(l:try_take(2))
    local ok, ms = l:try_take()
    assert.is_false(ok)
    assert.near(100, ms, 1e-9)
    ok, ms = l:try_take(2)
    assert.is_false(ok)
    assert.near(200, ms, 1e-9)
    task.sleep(100)
    assert.is_true(l:try_take())
  end)

  it("serves waiting takes in order: a big take is not starved by small ones", function()
    local l = ratelimit.new { rate = 10, burst = 3 }
    l:take(3)
    local t0, order = clock.now(), {}
    local tasks = { task.spawn(function() l:take(3) order[#order + 1] = { "big", clock.now() - t0 } end) }
    task.yield()
    for i = 1, 3 do
      tasks[#tasks + 1] = task.spawn(function() l:take(1) order[#order + 1] = { "small" .. i, clock.now() - t0 } end)
    end
    task.yield()
    assert.equal(4, l.waiting)
    -- try_take does not jump the line, and its estimate counts the takes ahead
    local ok, ms = l:try_take()
    assert.is_false(ok)
    assert.near(700, ms, 1e-9)
    task.all(tasks)
    for i, want in ipairs { { "big", 300 }, { "small1", 400 }, { "small2", 500 }, { "small3", 600 } } do
      assert.equal(want[1], order[i][1])
      assert.near(want[2], order[i][2], 1e-6)
    end
    assert.equal(0, l.waiting)
  end)

  it("a cancelled waiter leaves the line and the next one moves up", function()
    local l = ratelimit.new { rate = 10 }
    l:take()
    local t0 = clock.now()
    local first = task.spawn(function() l:take() end)
    local second = task.spawn(function() l:take() return clock.now() - t0 end)
    task.yield()
    first:cancel()
    assert.is_true(errors.is(raised(first.await, first), errors.AbortError))
    assert.near(100, second:await(), 1e-6) -- first's token is second's
    -- a waiter in the middle of the line
    local a = task.spawn(function() l:take() return clock.now() - t0 end)
    local b = task.spawn(function() l:take() end)
    local c = task.spawn(function() l:take() return clock.now() - t0 end)
    task.yield()
    b:cancel()
    assert.near(200, a:await(), 1e-6)
    assert.near(300, c:await(), 1e-6)
  end)

  it("ends a wait on its signal or timeout, and a signal already aborted takes nothing", function()
    local l = ratelimit.new { rate = 1, burst = 2 }
    local e = raised(l.take, l, abort.aborted())
    assert.is_true(errors.is(e, errors.AbortError))
    assert.is_true(l:try_take(2))
    local t0 = clock.now()
    e = raised(l.take, l, 1, abort.timeout(300))
    assert.is_true(errors.is(e, errors.TimeoutError))
    elapsed(t0, 300)
    e = raised(l.take, l, 1, { timeout = 200 })
    assert.is_true(errors.is(e, errors.TimeoutError))
    assert.equal("TimeoutError: no tokens within 200 ms", tostring(e))
    elapsed(t0, 500)
    l:take(1, { timeout = 500, signal = abort.controller().signal })
    elapsed(t0, 1000)
    assert.equal(0, l.waiting)
  end)

  it("gives back nothing lost: a cancelled head's turn goes to the next even when it was woken", function()
    local l = ratelimit.new { rate = 10 }
    l:take()
    local head = task.spawn(function() l:take() end)
    local next_ = task.spawn(function() l:take() end)
    task.yield()
    clock.freeze()
    clock.advance(100) -- head is woken...
    head:cancel()      -- ...and cancelled before it runs
    clock.auto()
    pcall(head.await, head)
    next_:await()
    assert.equal(0, l.waiting)
  end)

  it("prints its rate, burst and line", function()
    assert.equal("RateLimiter (5 per 1000 ms, burst 1, 0 waiting)", tostring(ratelimit.new { rate = 5 }))
  end)

  it("refuses bad input naming it", function()
    local bad = asserts.bad_at("ratelimit_spec%.lua")
    local l = ratelimit.new { rate = 1, burst = 2 }
    bad(function() ratelimit.new() end, "bad argument #1 to 'new' %(option 'rate' is required%)")
    bad(function() ratelimit.new { rate = 0 } end, "option 'rate' must be a positive number, at most 1e12, got 0")
    bad(function() ratelimit.new { rate = 1, burst = 0.5 } end, "option 'burst' must be a whole number from 1")
    bad(function() ratelimit.new { rate = 1, pre = 5 } end, "unknown option 'pre'; valid options: burst, per, rate")
    bad(function() l:take(3) end, "bad argument #1 to 'take' %(n must be at most the burst %(2%), got 3%)")
    bad(function() l:take(0) end, "bad argument #1 to 'take' %(n must be a whole number from 1")
    bad(function() l:take(1, 5) end, "bad argument #2 to 'take' %(abort signal or table of options expected, got number%)")
    bad(function() l:take(1, { timout = 5 }) end, "bad argument #2 to 'take' %(unknown option 'timout'")
    bad(function() l:take("x") end, "bad argument #1 to 'take' %(abort signal or table of options expected, got string%)")
    bad(function() l:try_take("x") end, "bad argument #1 to 'try_take' %(number expected, got string%)")
    bad(function() l.take({}) end, "bad argument #1 to 'take' %(rate limiter expected, got table%)")
    bad(function() getmetatable(l).__index(5, "waiting") end,
      "bad argument #1 to '__index' %(rate limiter expected, got number%)")
  end)

  it("refuses a rate so low that a full burst would never come back", function()
    local bad = asserts.bad_at("ratelimit_spec%.lua")
    bad(function() ratelimit.new { rate = 1e-300, burst = 2 ^ 31 } end,
      "bad argument #1 to 'new' %(a full burst must come back within 1e15 ms %(burst %* per / rate%), got inf%)")
    bad(function() ratelimit.new { rate = 1e-300 } end, "a full burst must come back within 1e15 ms")
    clock.freeze()
    for _ = 1, 2 do clock.advance(0.9e12 + 0.1) end -- where adding the burst's 1e15 ms to the clock rounds
    local slowest = ratelimit.new { rate = 1, per = 1e12, burst = 1000 }
    assert.is_true(slowest:try_take(1000))
    local ok, ms = slowest:try_take()
    assert.is_false(ok)
    assert.near(1e12, ms, 1)
  end)
end)
