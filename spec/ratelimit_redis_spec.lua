-- Specs for ratelimit.redis: one limit shared through a real redis-server, on its clock.
package.path = "spec/support/?.lua;" .. package.path
local ratelimit = require "ebb.ratelimit"
local redis = require "ebb.redis"
local task = require "ebb.task"
local abort = require "ebb.abort"
local clock = require "ebb.clock"
local errors = require "ebb.errors"
local asserts = require "asserts"
local server_support = require "redis_server"
local raised = asserts.raised

-- Two limiters on the same key, each over a client of its own; and what closes both.
local function two_limiters(s, key, rate)
  local a, b = redis.connect(s.url), redis.connect(s.url)
  local la = ratelimit.redis { client = a, key = key, rate = rate, burst = 3 }
  local lb = ratelimit.redis { client = b, key = key, rate = rate, burst = 3 }
  return la, lb, function()
    a:close()
    b:close()
  end
end

describe("ratelimit.redis", function()
  it("gives the burst at once, then holds the rate", function()
    server_support.with_client(function(c)
      local l = ratelimit.redis { client = c, key = "rl", rate = 20, burst = 5 }
      local t0 = clock.now()
      for _ = 1, 5 do assert.is_true(l:try_take()) end
      local ok, ms = l:try_take()
      assert.is_false(ok)
      assert.is_true(ms >= 1 and ms <= 50, "retry after " .. ms)
      for _ = 1, 4 do l:take() end -- 4 more at 20 per second: about 200 ms
      local took = clock.now() - t0
      assert.is_true(took >= 150 and took < 1500, "took " .. took)
    end)
  end)

  it("is one limit for two clients", function()
    server_support.with(function(s)
      local la, lb, close = two_limiters(s, "shared", 10)
      assert.is_true(la:try_take(2))
      assert.is_false((lb:try_take(2))) -- one token left, whoever asks
      assert.is_true(lb:try_take(1))
      assert.is_false((la:try_take(1)))
      local t0 = clock.now()
      local tasks = {}
      for i = 1, 4 do tasks[i] = task.spawn(function() (i % 2 == 0 and la or lb):take() end) end
      task.all(tasks)
      local took = clock.now() - t0 -- 4 tokens at 10 per second
      assert.is_true(took >= 350 and took < 2000, "took " .. took)
      close()
    end)
  end)

  it("serves takes in the order they reach the server: a big take is not passed by small ones", function()
    server_support.with(function(s)
      local la, lb, close = two_limiters(s, "k", 20)
      la:take(3)
      local order = {}
      local big = task.spawn(function() lb:take(3) order[#order + 1] = "big" end)
      repeat task.sleep(1) until lb.waiting == 1 -- booked
      local small = task.spawn(function() la:take(1) order[#order + 1] = "small" end)
      task.all { big, small }
      assert.same({ "big", "small" }, order)
      -- a timeout the server cannot meet fails at once, booking nothing
      local t0 = clock.now()
      local e = raised(la.take, la, 3, { timeout = 20 })
      assert.is_true(errors.is(e, errors.TimeoutError))
      assert.is_true(clock.now() - t0 < 150)
      close()
    end)
  end)

  it("ends a waiting take on its signal, task cancel or timeout, taking nothing", function()
    server_support.with_client(function(c)
      local l = ratelimit.redis { client = c, key = "rl", rate = 1, per = 60000 }
      l:take()
      local e = raised(l.take, l, abort.timeout(50))
      assert.is_true(errors.is(e, errors.TimeoutError))
      e = raised(l.take, l, { timeout = 30 })
      assert.equal("TimeoutError: no tokens within 30 ms", tostring(e))
      local t = task.spawn(function() l:take() end)
      repeat task.sleep(1) until l.waiting == 1 -- refused once by the server: in line
      t:cancel()
      assert.is_true(errors.is(raised(t.await, t), errors.AbortError))
      assert.equal(0, l.waiting)
      e = raised(l.take, l, abort.aborted())
      assert.is_true(errors.is(e, errors.AbortError))
      -- nothing more was taken: the bucket empties a minute after the first take
      local ttl = c:command("PTTL", "rl")
      assert.is_true(ttl > 55000 and ttl <= 60001, "ttl " .. ttl)
    end)
  end)

  it("ends a sleeping take at once when cancelled while the server does not answer", function()
    server_support.with_client(function(c, server)
      local l = ratelimit.redis { client = c, key = "rl", rate = 1, per = 60000 }
      l:take()
      local t = task.spawn(function() l:take() end)
      repeat task.sleep(1) until l.waiting == 1
      server.process:kill("SIGSTOP") -- its give-back will not be answered
      local ok, e = pcall(function() -- a cancel that waited for the server would hang here
        t:cancel()
        return raised(t.await, t)
      end)
      server.process:kill("SIGCONT")
      assert.is_true(ok, tostring(e))
      assert.is_true(errors.is(e, errors.AbortError), tostring(e))
      assert.equal(0, l.waiting)
    end)
  end)

  it("refuses n past the burst, and bad options, naming them", function()
    local bad = asserts.bad_at("ratelimit_redis_spec%.lua")
    local l = ratelimit.redis { client = { command = print }, key = "k", rate = 5, burst = 2 }
    bad(function() l:take(3) end, "bad argument #1 to 'take' %(n must be at most the burst %(2%), got 3%)")
    bad(function() l:try_take(3) end, "bad argument #1 to 'try_take' %(n must be at most the burst %(2%), got 3%)")
    bad(function() l:try_take(1, 5) end, "bad argument #2 to 'try_take' %(abort signal expected, got number%)")
    bad(function() ratelimit.redis { key = "k", rate = 1 } end, "bad argument #1 to 'redis' %(option 'client' is required%)")
    bad(function() ratelimit.redis { client = 5, key = "k", rate = 1 } end, "option 'client' must be a redis client or pool, got number")
    bad(function() ratelimit.redis { client = { command = print }, rate = 1 } end, "option 'key' is required")
    bad(function() ratelimit.redis { client = { command = print }, key = "k", rate = 1, burts = 2 } end, "unknown option 'burts'")
    assert.equal("RedisRateLimiter (k, 5 per 1000 ms, burst 2, 0 waiting)", tostring(l))
  end)

  it("refuses a rate whose times the server could not keep, and keeps the slowest it takes", function()
    local bad = asserts.bad_at("ratelimit_redis_spec%.lua")
    bad(function() ratelimit.redis { client = { command = print }, key = "k", rate = 1e-300 } end,
      "bad argument #1 to 'redis' %(a full burst must come back within 1e15 ms")
    server_support.with_client(function(c)
      local l = ratelimit.redis { client = c, key = "slow", rate = 1, per = 1e12, burst = 1000 }
      for _ = 1, 1000 do assert.is_true(l:try_take()) end
      local ok, ms = l:try_take()
      assert.is_false(ok)
      assert.is_true(ms > 0.99e12 and ms <= 1e12, "retry after " .. ms)
    end)
  end)
end)
