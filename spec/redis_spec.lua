-- Specs for ebb.redis against a real redis-server: replies, pipelining, cancellation.
package.path = "spec/support/?.lua;" .. package.path
local redis = require "ebb.redis"
local task = require "ebb.task"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local asserts = require "asserts"
local server_support = require "redis_server"
local raised = asserts.raised

local with_client = server_support.with_client

describe("ebb.redis", function()
  it("maps every reply type to Lua", function()
    with_client(function(c)
      assert.equal("PONG", c:command("PING"))
      assert.equal("OK", c:command("SET", "s", "v"))
      assert.equal("v", c:command("GET", "s"))
      assert.is_nil(c:command("GET", "missing"))
      assert.equal(1, c:command("INCR", "n"))
      assert.equal(3, c:command("RPUSH", "l", "a", 2, 3.5))
      local list = c:command("LRANGE", "l", 0, -1)
      assert.same({ n = 3, "a", "2", "3.5" }, list)
      assert.same({ n = 0 }, c:command("LRANGE", "missing", 0, -1))
      local nested = c:command("EVAL", "return {1, {'x', false}, 'y'}", 0)
      assert.same({ n = 3, 1, { n = 2, "x" }, "y" }, nested)
      -- integers past 2^53 come as their digits, exact
      assert.equal("OK", c:command("SET", "big", "9007199254740993"))
      assert.equal("9007199254740994", c:command("INCR", "big"))
      assert.equal(-5, c:command("DECRBY", "neg", 5))
    end)
  end)

  it("keeps binary values whole, NUL bytes and CRLF included", function()
    with_client(function(c)
      local bytes = {}
      for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
      local v = table.concat(bytes) .. "\r\n\0tail"
      c:command("SET", "bin\0key", v)
      assert.equal(v, c:command("GET", "bin\0key"))
      local big = string.rep("x\0\r\n", 300000) -- 1.2 MB: many reads
      c:command("SET", "big", big)
      assert.equal(big, c:command("GET", "big"))
    end)
  end)

  it("raises a RESP error as a ReplyError with the server's message and code", function()
    with_client(function(c)
      c:command("SET", "s", "v")
      local e = raised(c.command, c, "LPUSH", "s", "x")
      assert.is_true(errors.is(e, redis.ReplyError))
      assert.equal("WRONGTYPE", e.code)
      assert.matches("^WRONGTYPE Operation against a key", e.message)
      e = raised(c.command, c, "EVALSHA", string.rep("0", 40), 0)
      assert.equal("NOSCRIPT", e.code)
      e = raised(c.command, c, "NOSUCHCOMMAND")
      assert.equal("ERR", e.code)
      assert.equal("v", c:command("GET", "s")) -- the connection goes on
    end)
  end)

  it("runs a pipeline, with an error per entry rather than for the whole", function()
    with_client(function(c)
      local r = c:pipeline({ { "SET", "a", 1 }, { "GET", "a" }, { "LPUSH", "a", "x" }, { "GET", "none" },
        { "INCR", "a" } })
      assert.equal(5, r.n)
      assert.equal("OK", r[1])
      assert.equal("1", r[2])
      assert.is_true(errors.is(r[3], redis.ReplyError))
      assert.is_nil(r[4])
      assert.equal(2, r[5])
      local r2 = c:pipeline(function(p)
        p:command("MULTI")
        for i = 1, 3 do p:command("INCR", "t") end
        p:command("EXEC")
      end)
      assert.same({ n = 3, 1, 2, 3 }, r2[5])
      assert.same({ n = 0 }, c:pipeline({}))
    end)
  end)

  it("pipelines commands from many tasks on one connection, each getting its own reply", function()
    with_client(function(c)
      local tasks = {}
      for i = 1, 500 do
        tasks[i] = task.spawn(function()
          if i % 7 == 0 then return c:pipeline({ { "ECHO", i }, { "ECHO", -i } })[2] end
          return c:command("ECHO", i)
        end)
      end
      for i = 1, 500 do
        assert.equal(tostring(i % 7 == 0 and -i or i), tasks[i]:await())
      end
      local clients = c:command("CLIENT", "LIST")
      local _, count = clients:gsub("\n", "")
      assert.equal(1, count) -- all of them on the one connection
    end)
  end)

  it("ends a command in flight on a signal or a cancel; its reply is dropped and the connection goes on", function()
    with_client(function(c, server)
      local ctl = abort.controller()
      local t = task.spawn(function() return c:command("BLPOP", "q", 0, ctl.signal) end)
      task.yield()
      ctl:abort("stop")
      assert.equal("stop", raised(t.await, t))
      -- an already aborted signal sends nothing
      local e = raised(c.command, c, "SET", "x", 1, abort.aborted("early"))
      assert.equal("early", e)
      -- a cancelled task
      local t2 = task.spawn(function() return c:command("BLPOP", "q2", 0) end)
      task.yield()
      t2:cancel()
      assert.is_true(errors.is(raised(t2.await, t2), errors.AbortError))
      -- the two BLPOPs still block the connection: their replies come first, and are dropped
      local other = redis.connect(server.url)
      other:command("RPUSH", "q", "for-the-dropped")
      other:command("RPUSH", "q2", "also-dropped")
      other:close()
      assert.equal("PONG", c:command("PING"))
      assert.is_nil(c:command("GET", "x"))
      assert.equal(0, c:command("LLEN", "q"))
    end)
  end)

  it("keeps every reply with its command when tasks are cancelled at random points", function()
    with_client(function(c)
      math.randomseed(7)
      for _ = 1, 5 do
        local tasks, cancelled = {}, {}
        for i = 1, 200 do
          tasks[i] = task.spawn(function()
            if i % 3 == 0 then return c:pipeline({ { "ECHO", i }, { "ECHO", i + 1 } })[2] - 1 end
            return tonumber(c:command("ECHO", i))
          end)
        end
        for _ = 1, 3 do
          for i = 1, 200 do
            if not cancelled[i] and math.random() < 0.1 then
              tasks[i]:cancel()
              cancelled[i] = true
            end
          end
          task.yield()
        end
        for i = 1, 200 do
          local ok, v = pcall(tasks[i].await, tasks[i])
          if ok then assert.equal(i, v) else assert.is_true(cancelled[i] and errors.is(v, errors.AbortError)) end
        end
      end
      assert.equal("last", c:command("ECHO", "last"))
    end)
  end)

  it("ends a command on its timeout when the server stops answering; the connection stays usable", function()
    with_client(function(c, server)
      local pauser = redis.connect(server.url)
      pauser:command("CLIENT", "PAUSE", 1000, "ALL")
      local e = raised(c.command, c, "GET", "k")
      assert.is_true(errors.is(e, errors.TimeoutError))
      assert.matches("redis GET timed out after 50 ms %(127%.0%.0%.1:%d+%)", e.message)
      pauser:close()
      -- the late reply is dropped; the next command gets its own
      c._opts.timeout = nil
      assert.equal("PONG", c:command("PING"))
      e = raised(c.command, c, "PING", abort.timeout(0))
      assert.is_true(errors.is(e, errors.TimeoutError))
      assert.equal("PONG", c:command("PING"))
    end, { timeout = 50 })
  end)

  it("prints its address and state", function()
    with_client(function(c, server)
      assert.equal("RedisClient (127.0.0.1:" .. server.port .. ", connected, 0 pending)", tostring(c))
      c:close()
      assert.equal("RedisClient (127.0.0.1:" .. server.port .. ", closed)", tostring(c))
      assert.is_true(errors.is(raised(c.command, c, "PING"), redis.ClosedError))
      c:close() -- twice does nothing
    end)
  end)
end)

describe("ebb.redis scripts", function()
  it("runs by SHA1, loads once, loads again after NOSCRIPT, and raises a script's error", function()
    with_client(function(c, server)
      local s = redis.script("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}")
      assert.equal("RedisScript (not loaded)", tostring(s))
      assert.same({ n = 3, "k", "a\0b", 1 }, s:run(c, { "k" }, { "a\0b" }))
      assert.equal(40, #s.sha)
      assert.same({ n = 3, "k", "x", 2 }, s:run(c, { "k" }, { "x" }))
      c:command("SCRIPT", "FLUSH")
      assert.same({ n = 3, "k", "y", 3 }, s:run(c, { "k" }, { "y" }))
      local pool = redis.pool { url = server.url, size = 1 }
      assert.same({ n = 3, "k", "z", 4 }, s:run(pool, { "k" }, { "z" }))
      pool:close()
      local failing = redis.script("return redis.error_reply('LIMIT reached')")
      local e = raised(failing.run, failing, c)
      assert.equal("LIMIT", e.code)
      assert.is_true(errors.is(e, redis.ReplyError))
      local assert_bad = asserts.bad_at("redis_spec%.lua")
      assert_bad(function() redis.script(5) end, "bad argument #1 to 'script' %(string expected, got number%)")
      assert_bad(function() s:run(c, "k") end, "bad argument #2 to 'run' %(keys: table expected, got string%)")
      assert_bad(function() s:run(5) end, "bad argument #1 to 'run' %(redis client or pool expected, got number%)")
      assert_bad(function() s:run(c, { "k" }, { 1, 0 / 0 }) end,
        "bad argument #3 to 'run' %(args%[2%] must be a string or a finite number, got nan%)")
      assert_bad(function() s:run(c, { true }) end,
        "bad argument #2 to 'run' %(keys%[1%] must be a string or a finite number, got boolean%)")
    end)
  end)
end)
