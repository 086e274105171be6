-- Specs for retry.budget.redis: one retry budget for many clients, through a real redis-server.
package.path = "spec/support/?.lua;" .. package.path
local retry = require "ebb.retry"
local redis = require "ebb.redis"
local task = require "ebb.task"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local asserts = require "asserts"
local server_support = require "redis_server"
local raised = asserts.raised

local function failing(calls)
  return function()
    calls.n = calls.n + 1
    error("down", 0)
  end
end

describe("retry.budget.redis", function()
  it("is one budget for two clients: the retries of both draw on it", function()
    server_support.with(function(s)
      local a, b = redis.connect(s.url), redis.connect(s.url)
      local ba = retry.budget.redis { client = a, key = "budget", capacity = 10, retry_cost = 5 }
      local bb = retry.budget.redis { client = b, key = "budget", capacity = 10, retry_cost = 5 }
      local calls = { n = 0 }
      local e = raised(retry, failing(calls), { budget = ba, retries = 5, base = 0 })
      assert.equal("down", e)
      assert.equal(3, calls.n) -- two retries paid, the third refused
      assert.equal(0, bb:tokens())
      calls.n = 0
      raised(retry, failing(calls), { budget = bb, retries = 5, base = 0 })
      assert.equal(1, calls.n) -- the other client's retries find it empty
      a:close()
      b:close()
    end)
  end)

  it("gives back a deposit on each success, up to the capacity", function()
    server_support.with_client(function(c)
      local budget = retry.budget.redis { client = c, key = "b", capacity = 10, retry_cost = 4, refund = 3 }
      local calls = { n = 0 }
      raised(retry, failing(calls), { budget = budget, retries = 1, base = 0 })
      assert.equal(6, budget:tokens())
      assert.equal("ok", retry(function() return "ok" end, { budget = budget }))
      assert.equal(9, budget:tokens())
      local tasks = {}
      for i = 1, 5 do tasks[i] = task.spawn(retry, function() return i end, { budget = budget }) end
      task.all(tasks)
      assert.equal(10, budget:tokens())
      assert.equal(0, c:command("EXISTS", "b")) -- full: the key is gone
    end)
  end)

  it("lets retries go (or not) when the server is out of reach, as `unreachable` says", function()
    server_support.with(function(s)
      local c = redis.connect(s.url, { reconnect = false })
      local open = retry.budget.redis { client = c, key = "b", capacity = 5, retry_cost = 5, timeout_cost = 5, timeout = 200 }
      local closed = retry.budget.redis { client = c, key = "b", capacity = 5, retry_cost = 5, timeout_cost = 5, timeout = 200,
        unreachable = "deny" }
      s:stop()
      local calls = { n = 0 }
      raised(retry, failing(calls), { budget = open, retries = 3, base = 0 })
      assert.equal(4, calls.n)
      assert.equal(3, open.failures)
      calls.n = 0
      raised(retry, failing(calls), { budget = closed, retries = 3, base = 0 })
      assert.equal(1, calls.n)
      open:deposit() -- kept for later, not raised
      assert.equal(1, open._owed)
      c:close()
    end)
  end)

  it("raises a reply error, and the caller's abort while it waits", function()
    server_support.with_client(function(c)
      c:command("HSET", "h", "a", "1")
      local budget = retry.budget.redis { client = c, key = "h" }
      local e = raised(budget.withdraw, budget, "x")
      assert.is_true(errors.is(e, redis.ReplyError))
      local ok_budget = retry.budget.redis { client = c, key = "b" }
      e = raised(ok_budget.withdraw, ok_budget, "x", abort.aborted())
      assert.is_true(errors.is(e, errors.AbortError))
      assert.equal("RedisBudget (b, 500 tokens at most, retries when unreachable)", tostring(ok_budget))
    end)
  end)

  it("raises the closed error of a closed client (or pool): the caller's mistake, not an outage", function()
    server_support.with(function(s)
      for _, c in ipairs { redis.connect(s.url), redis.pool { url = s.url, size = 1 } } do
        local budget = retry.budget.redis { client = c, key = "b", unreachable = "allow" }
        c:close()
        assert.is_true(errors.is(raised(budget.withdraw, budget, "x"), redis.ClosedError))
        assert.is_true(errors.is(raised(budget.deposit, budget), redis.ClosedError))
        local calls = { n = 0 }
        assert.is_true(errors.is(raised(retry, failing(calls), { budget = budget, base = 0 }), redis.ClosedError))
        assert.equal(1, calls.n)
        assert.equal(0, budget.failures)
      end
    end)
  end)

  it("refuses a retry or a timeout retry that costs more than the capacity, as retry.budget does", function()
    local bad = asserts.bad_at("retry_budget_redis_spec%.lua")
    local c = { command = print }
    bad(function() retry.budget.redis { client = c, key = "k", capacity = 1, retry_cost = 5 } end,
      "bad argument #1 to 'redis' %(option 'retry_cost' %(5%) must not exceed option 'capacity' %(1%)")
    bad(function() retry.budget.redis { client = c, key = "k", capacity = 6 } end,
      "bad argument #1 to 'redis' %(option 'timeout_cost' %(10%) must not exceed option 'capacity' %(6%)")
    assert.equal(0, retry.budget.redis { client = c, key = "k", capacity = 0, retry_cost = 0, timeout_cost = 0 }.capacity)
  end)

  it("refuses bad options naming them", function()
    local bad = asserts.bad_at("retry_budget_redis_spec%.lua")
    bad(function() retry.budget.redis { key = "k" } end, "bad argument #1 to 'redis' %(option 'client' is required%)")
    bad(function() retry.budget.redis { client = { command = print } } end, "option 'key' is required")
    bad(function() retry.budget.redis { client = { command = print }, key = "k", unreachable = "maybe" } end,
      "option 'unreachable' must be \"allow\" or \"deny\", got maybe")
    bad(function() retry.budget.redis { client = { command = print }, key = "k", capacty = 1 } end, "unknown option 'capacty'")
    bad(function() retry(print, { budget = {} }) end, "option 'budget' must be a budget")
  end)
end)
