-- Specs for redis.stream_queue: a work queue on a stream of a real redis-server.
package.path = "spec/support/?.lua;" .. package.path
local redis = require "ebb.redis"
local task = require "ebb.task"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local asserts = require "asserts"
local server_support = require "redis_server"
local raised = asserts.raised

-- Runs q:process(fn) in a task until stop() (a graceful stop on its signal).
local function processing(q, fn, opts)
  local ctl = abort.controller()
  opts = opts or {}
  opts.signal = ctl.signal
  local t = task.spawn(q.process, q, fn, opts)
  return function()
    ctl:abort()
    t:await()
  end, t
end

-- A function to call, and a future settled at its n-th call.
local function nth_call(n)
  local f, calls = task.future(), 0
  return function()
    calls = calls + 1
    if calls == n then f:resolve() end
  end, f
end

describe("redis.stream_queue", function()
  it("hands every entry added to a handler once, with its fields, and acknowledges it", function()
    server_support.with_client(function(c)
      local q = redis.stream_queue { client = c, stream = "jobs", group = "workers" }
      local ids = {}
      for i = 1, 5 do ids[i] = q:add { n = i, kind = "thumb" } end
      local seen = {}
      local five, fifth = nth_call(5)
      local six, sixth = nth_call(6)
      local stop = processing(q, function(e)
        assert.equal("thumb", e.fields.kind)
        assert.equal(1, e.deliveries)
        seen[#seen + 1] = e.id
        five()
        six()
      end)
      fifth:await()
      q:add { n = 6, kind = "thumb" }
      sixth:await()
      stop()
      for i = 1, 5 do assert.equal(ids[i], seen[i]) end
      assert.equal(0, c:command("XPENDING", "jobs", "workers")[1]) -- all acknowledged
      assert.equal(6, q.handled)
    end)
  end)

  it("delivers again an entry whose handler raised (at least once), after claim_after", function()
    server_support.with_client(function(c)
      local q = redis.stream_queue { client = c, stream = "s", group = "g", claim_after = 50 }
      local id = q:add { job = "flaky" }
      local deliveries, errs = {}, {}
      local third, handled = nth_call(1)
      local stop = processing(q, function(e)
        deliveries[#deliveries + 1] = e.deliveries
        if e.deliveries < 3 then error("try again", 0) end
        third()
      end, { on_error = function(err, e) errs[#errs + 1] = err .. " " .. e.id end })
      handled:await()
      stop()
      assert.same({ 1, 2, 3 }, deliveries)
      assert.same({ "try again " .. id, "try again " .. id }, errs)
      assert.equal(2, q.failed)
      assert.equal(0, c:command("XPENDING", "s", "g")[1])
    end)
  end)

  it("takes over the entries of a consumer that died, after claim_after", function()
    server_support.with(function(s)
      local c1, c2 = redis.connect(s.url), redis.connect(s.url)
      local q1 = redis.stream_queue { client = c1, stream = "s", group = "g", consumer = "one", claim_after = 100 }
      local q2 = redis.stream_queue { client = c2, stream = "s", group = "g", consumer = "two", claim_after = 100 }
      q1:add { job = "a" }
      local started = task.future()
      local _, t1 = processing(q1, function() started:resolve() task.sleep(1e9) end)
      started:await()
      t1:cancel() -- the process dies mid-job: no acknowledgement
      pcall(t1.await, t1)
      c1:close()
      local pending = c2:command("XPENDING", "s", "g")
      assert.equal(1, pending[1])
      assert.equal("one", pending[4][1][1])
      local taken = task.future()
      local stop = processing(q2, function(e) taken:resolve(e) end)
      local got = taken:await()
      stop()
      assert.equal("a", got.fields.job)
      assert.equal(2, got.deliveries)
      assert.equal(0, c2:command("XPENDING", "s", "g")[1])
      c2:close()
    end)
  end)

  it("runs at most `concurrency` handlers at once in a process", function()
    server_support.with_client(function(c)
      local q = redis.stream_queue { client = c, stream = "s", group = "g", concurrency = 3 }
      for i = 1, 12 do q:add { i = i } end
      local running, peak = 0, 0
      local twelve, all_done = nth_call(12)
      local stop = processing(q, function()
        running = running + 1
        if running > peak then peak = running end
        task.sleep(10)
        running = running - 1
        twelve()
      end)
      all_done:await()
      stop()
      assert.equal(3, peak)
    end)
  end)

  it("dead-letters an entry after max_deliveries, with its id and last error", function()
    server_support.with_client(function(c, s)
      local q = redis.stream_queue { client = c, stream = "s", group = "g", claim_after = 20, max_deliveries = 2,
        dead_letter = "s:dead" }
      local id = q:add { job = "poison" }
      local calls = 0
      local stop = processing(q, function()
        calls = calls + 1
        error("bad input", 0)
      end)
      local watcher = redis.connect(s.url) -- a blocking read: on a connection of its own
      assert.is_table(watcher:command("XREAD", "BLOCK", 10000, "STREAMS", "s:dead", "0"))
      watcher:close()
      stop()
      assert.equal(2, calls)
      local dead = c:command("XRANGE", "s:dead", "-", "+")[1][2]
      assert.same({ "job", "poison", "dead_id", id, "dead_error", "bad input", n = 6 }, dead)
      assert.equal(0, c:command("XPENDING", "s", "g")[1])
    end)
  end)

  it("stops on its signal: the handlers running finish, no entry is read after", function()
    server_support.with_client(function(c)
      local q = redis.stream_queue { client = c, stream = "s", group = "g", concurrency = 2 }
      q:add { i = 1 }
      local started, finished = task.future(), false
      local ctl = abort.controller()
      local t = task.spawn(q.process, q, function()
        started:resolve()
        task.sleep(50)
        finished = true
      end, { signal = ctl.signal })
      started:await()
      ctl:abort()
      t:await()
      assert.is_true(finished)
      assert.equal(0, c:command("XPENDING", "s", "g")[1])
      q:add { i = 2 }
      assert.equal(2, c:command("XLEN", "s"))
      assert.equal(0, c:command("XPENDING", "s", "g")[1]) -- nobody read it
      -- a signal already aborted reads nothing
      local e = raised(q.process, q, print, { signal = abort.aborted() })
      assert.is_true(errors.is(e, errors.AbortError))
    end)
  end)

  it("trims the stream to about maxlen on add", function()
    server_support.with_client(function(c)
      local q = redis.stream_queue { client = c, stream = "s", group = "g", maxlen = 10 }
      for i = 1, 500 do q:add { i = i } end
      assert.is_true(c:command("XLEN", "s") < 500)
    end)
  end)

  it("reads with any claim_after, an odd one too (the read blocks for whole ms)", function()
    server_support.with_client(function(c)
      local q = redis.stream_queue { client = c, stream = "odd", group = "g", claim_after = 15 }
      q:add { n = 1 }
      local handled = task.future()
      local stop, t = processing(q, function(e) handled:resolve(e.fields.n) end)
      task.spawn(function() -- process failing fails the spec rather than leaving it waiting
        local ok, e = pcall(t.await, t)
        if not ok then handled:reject(e) end
      end)
      assert.equal("1", handled:await())
      stop()
    end)
  end)

  it("refuses bad input naming it", function()
    local bad = asserts.bad_at("redis_stream_queue_spec%.lua")
    local fake = { command = print, _opts = {} }
    local q = redis.stream_queue { client = fake, stream = "s", group = "g", consumer = "c" }
    bad(function() redis.stream_queue { stream = "s", group = "g" } end, "bad argument #1 to 'stream_queue' %(option 'client' is required%)")
    bad(function() redis.stream_queue { client = fake, group = "g" } end, "option 'stream' is required")
    bad(function() redis.stream_queue { client = fake, stream = "s", group = "g", max_deliveries = 3 } end,
      "option 'max_deliveries' needs option 'dead_letter'")
    bad(function() redis.stream_queue { client = fake, stream = "s", group = "g", concurency = 3 } end, "unknown option 'concurency'")
    bad(function() q:add("x") end, "bad argument #1 to 'add' %(table of fields expected, got string%)")
    bad(function() q:add({}) end, "bad argument #1 to 'add' %(at least one field expected%)")
    bad(function() q:add({ a = true }) end, "field 'a' must be a string or a number, got boolean")
    bad(function() q:add({ 5 }) end, "field names must be strings, got number")
    bad(function() q:add({ a = 0 / 0 }) end, "bad argument #1 to 'add' %(field 'a' must be a finite number, got nan%)")
    bad(function() q:add({ a = -1 / 0 }) end, "bad argument #1 to 'add' %(field 'a' must be a finite number, got %-inf%)")
    bad(function() redis.stream_queue { client = fake, stream = "s", group = "g", dead_letter = "s:dead" } end,
      "option 'dead_letter' needs option 'max_deliveries'")
    bad(function() q:process(5) end, "bad argument #1 to 'process' %(function expected, got number%)")
    bad(function() q:process(print, { sginal = 1 }) end, "unknown option 'sginal'")
    assert.equal("StreamQueue (s, group g, consumer c, 0 running)", tostring(q))
  end)
end)
