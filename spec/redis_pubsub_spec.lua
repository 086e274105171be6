-- Specs for ebb.redis's pub/sub (a bounded buffer with backpressure) and its pool.
package.path = "spec/support/?.lua;" .. package.path
local redis = require "ebb.redis"
local task = require "ebb.task"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local asserts = require "asserts"
local server_support = require "redis_server"
local raised = asserts.raised

local with_client = server_support.with_client

describe("ebb.redis pub/sub", function()
  it("delivers messages in order, from channels and patterns", function()
    with_client(function(c)
      local sub = c:subscribe({ "a", "b" })
      local psub = c:psubscribe("news.*")
      assert.equal(1, c:command("PUBLISH", "a", "1"))
      c:command("PUBLISH", "b", "2\0bin")
      c:command("PUBLISH", "news.x", "3")
      assert.same({ channel = "a", message = "1" }, sub:recv())
      assert.same({ channel = "b", message = "2\0bin" }, sub:recv())
      assert.same({ pattern = "news.*", channel = "news.x", message = "3" }, psub:recv())
      assert.equal("Subscription (2 channels, open)", tostring(sub))
      sub:close()
      psub:close()
      assert.is_nil(sub:recv())
    end)
  end)

  it("stops reading the socket while its buffer is full, and loses nothing", function()
    with_client(function(c)
      local sub = c:subscribe("flood", { buffer = 4 })
      local payload = string.rep("p", 1000)
      for i = 1, 2000 do c:command("PUBLISH", "flood", i .. ":" .. payload) end
      -- unread: at most the buffer is held by the client, the rest waits in the socket
      assert.is_true(sub._conn.stream:buffered() <= 65536 + 4 * 1010 and sub._ch.closed == false)
      for i = 1, 2000 do
        local msg = sub:recv()
        assert.equal(i .. ":" .. payload, msg.message)
      end
      sub:close()
    end)
  end)

  it("ends on its signal, and a receiver on its own", function()
    with_client(function(c)
      local ctl = abort.controller()
      local sub = c:subscribe("x", { signal = ctl.signal })
      local e = raised(sub.recv, sub, abort.timeout(10))
      assert.is_true(errors.is(e, errors.TimeoutError))
      local t = task.spawn(function() return sub:recv() end)
      task.yield()
      ctl:abort()
      assert.is_nil(t:await())
      assert.is_true(sub.closed)
    end)
  end)

  it("subscribes again on a new connection when the server drops it", function()
    with_client(function(c)
      local sub = c:subscribe("x")
      c:command("PUBLISH", "x", "before")
      c:command("CLIENT", "KILL", "TYPE", "pubsub")
      assert.equal("before", sub:recv().message)
      -- published until the new subscription hears it (nothing is kept in between)
      local limit = abort.timeout(5000)
      while c:command("PUBLISH", "x", "after") == 0 do task.sleep(5, limit) end
      assert.equal("after", sub:recv().message)
      sub:close()
    end, { reconnect = { base = 5, cap = 20 } })
  end)

  it("ends with a ConnectionError after the messages before it when the server drops it (reconnect = false)", function()
    with_client(function(c)
      local sub = c:subscribe("x")
      c:command("PUBLISH", "x", "before")
      c:command("CLIENT", "KILL", "TYPE", "pubsub")
      local got = {}
      local ok, e = pcall(function()
        for msg in sub:iter() do got[#got + 1] = msg.message end
      end)
      assert.is_false(ok)
      assert.same({ "before" }, got)
      assert.is_true(errors.is(e, redis.ConnectionError))
      sub:close()
    end, { reconnect = false })
  end)
end)

describe("ebb.redis pool", function()
  it("subscribes on a connection of its own, not one it lends", function()
    server_support.with(function(s)
      local pool = redis.pool { url = s.url, size = 1 }
      local sub = pool:subscribe("a")
      local psub = pool:psubscribe({ "n.*" })
      pool:with(function(c)
        c:command("PUBLISH", "a", "1")
        c:command("PUBLISH", "n.x", "2")
      end)
      assert.same({ channel = "a", message = "1" }, sub:recv())
      assert.same({ pattern = "n.*", channel = "n.x", message = "2" }, psub:recv())
      sub:close()
      psub:close()
      asserts.bad_at("redis_pubsub_spec%.lua")(function() pool:subscribe(5) end,
        "bad argument #1 to 'subscribe' %(a channel name or a non%-empty list of them expected, got number%)")
      pool:close()
      local e = raised(pool.subscribe, pool, "a")
      assert.is_true(errors.is(e, redis.ClosedError))
    end)
  end)

  it("lends each client to one task at a time, for transactions and blocking commands", function()
    server_support.with(function(s)
      local pool = redis.pool { url = s.url, size = 2 }
      local popped = task.spawn(function()
        return pool:with(function(c) return c:command("BLPOP", "jobs", 0) end)
      end)
      task.yield()
      -- a WATCH/MULTI/EXEC on the other client, not disturbed by the blocked one
      local r = pool:with(function(c)
        c:command("WATCH", "n")
        c:command("MULTI")
        c:command("INCR", "n")
        return c:command("EXEC")
      end)
      assert.same({ n = 1, 1 }, r)
      assert.equal("RedisPool (127.0.0.1:" .. s.port .. ", 1 of 2 lent)", tostring(pool))
      assert.equal(1, pool:command("RPUSH", "jobs", "j1"))
      assert.same({ n = 2, "jobs", "j1" }, popped:await())
      local e = raised(pool.command, pool, "LPUSH", "n", "x")
      assert.equal("WRONGTYPE", e.code)
      -- a third task waits for a client; a signal ends its wait
      local hold = task.future()
      local holders = {}
      for i = 1, 2 do holders[i] = task.spawn(function() pool:with(function() hold:await() end) end) end
      task.yield()
      e = raised(pool.command, pool, "PING", abort.timeout(10))
      assert.is_true(errors.is(e, errors.TimeoutError))
      hold:resolve()
      for i = 1, 2 do holders[i]:await() end
      assert.equal("PONG", pool:command("PING"))
      pool:close()
      assert.is_true(errors.is(raised(pool.command, pool, "PING"), redis.ClosedError))
    end)
  end)
end)
