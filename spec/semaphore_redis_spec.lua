-- Specs for semaphore.redis: permits shared through a real redis-server.
package.path = "spec/support/?.lua;" .. package.path
local semaphore = require "ebb.semaphore"
local redis = require "ebb.redis"
local task = require "ebb.task"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local core = require "ebb.core"
local asserts = require "asserts"
local server_support = require "redis_server"
local raised = asserts.raised

-- Waits until the server counts n members in the key's set (the event itself, not a sleep).
local function until_count(c, key, n)
  while c:command("ZCARD", key) ~= n do task.yield() end
end

-- The reason a lease's signal aborts with, waited for (at most ms).
local function lost_reason(lease, ms)
  local f = task.future()
  if lease.signal.aborted then return lease.signal.reason end
  lease.signal:on_abort(function(reason) f:resolve(reason) end)
  return f:await { timeout = ms }
end

local function sems(s, n, opts)
  local clients, list = {}, {}
  for i = 1, n do
    clients[i] = redis.connect(s.url)
    local o = { client = clients[i], key = "k", permits = 1 }
    for k, v in pairs(opts or {}) do o[k] = v end
    list[i] = semaphore.redis(o)
  end
  return list, clients, function() for i = 1, n do clients[i]:close() end end
end

describe("semaphore.redis", function()
  it("never lets more than the permits hold at once, across clients", function()
    server_support.with(function(s)
      local list, clients, close = sems(s, 4, { permits = 3 })
      local holding, peak = 0, 0
      local tasks = {}
      for i = 1, 40 do
        tasks[i] = task.spawn(function()
          list[i % 4 + 1]:with(function()
            holding = holding + 1
            if holding > peak then peak = holding end
            task.sleep(2)
            holding = holding - 1
          end)
        end)
      end
      for i = 1, 40 do tasks[i]:await() end
      assert.equal(3, peak)
      assert.equal(0, clients[1]:command("ZCARD", "k:holders")) -- every permit back
      assert.equal(0, clients[1]:command("ZCARD", "k:queue"))
      close()
    end)
  end)

  it("serves the waiters of two clients in the order they asked", function()
    server_support.with(function(s)
      local list, clients, close = sems(s, 2)
      local first = list[1]:acquire()
      local order, tasks = {}, {}
      for i = 1, 6 do
        tasks[i] = task.spawn(function() list[i % 2 + 1]:with(function() order[#order + 1] = i end) end)
        until_count(clients[1], "k:queue", i) -- its ticket is taken before the next one asks
      end
      first:release()
      for i = 1, 6 do tasks[i]:await() end
      assert.same({ 1, 2, 3, 4, 5, 6 }, order)
      close()
    end)
  end)

  it("does not let a later try_acquire overtake a waiter", function()
    server_support.with(function(s)
      local list, clients, close = sems(s, 2, { permits = 2 })
      local a, b = list[1]:acquire(), list[1]:acquire()
      local waiter = task.spawn(function() return list[2]:acquire() end)
      until_count(clients[1], "k:queue", 1)
      a:release()
      assert.is_false(list[1]:try_acquire()) -- the freed permit went to the waiter
      waiter:await():release()
      b:release()
      assert.is_true(list[1]:try_acquire():release())
      close()
    end)
  end)

  it("gives back the permit of a holder that died when its lease ends; renews a live one", function()
    server_support.with(function(s)
      local list, clients, close = sems(s, 3, { permits = 2, lease = 150 })
      local live = list[1]:acquire()
      list[2]:acquire()
      clients[2]:close() -- its renewals fail from now on, as a killed process's would stop
      local t0 = require("ebb.clock").now()
      local other = list[3]:acquire(abort.timeout(5000)) -- served once the dead lease ends
      assert.is_true(require("ebb.clock").now() - t0 >= 100)
      task.sleep(400) -- over two leases: the live holder renewed, still one of the two
      assert.equal(2, clients[1]:command("ZCARD", "k:holders"))
      assert.equal(0, list[1].lost)
      assert.is_false(live.signal.aborted)
      assert.is_true(live:release())
      assert.is_true(other:release())
      assert.equal(0, clients[1]:command("ZCARD", "k:holders"))
      close()
    end)
  end)

  it("ends a wait at its timeout when the server stops answering", function()
    server_support.with(function(s)
      local list, clients, close = sems(s, 2, { lease = 1000 })
      local held = list[1]:acquire()
      clients[1]:command("CLIENT", "PAUSE", 600, "ALL")
      local clock = require("ebb.clock")
      local t0 = clock.now()
      local e = raised(list[2].acquire, list[2], { timeout = 100 })
      assert.is_true(errors.is(e, errors.TimeoutError))
      assert.is_true(clock.now() - t0 < 400)
      until_count(clients[1], "k:queue", 0) -- its ticket goes once the server answers again
      assert.is_true(held:release())
      close()
    end)
  end)

  it("aborts the lease's signal with a LeaseLostError when the permit was taken away", function()
    server_support.with(function(s)
      local list, clients, close = sems(s, 1, { lease = 90 })
      local e = raised(list[1].with, list[1], function()
        clients[1]:command("DEL", "k:holders") -- as a server that lost its data
        task.sleep(1000)
      end)
      assert.is_true(errors.is(e, semaphore.LeaseLostError))
      assert.matches("the lease of a permit of semaphore 'k' was lost", tostring(e))
      assert.equal(1, list[1].lost)
      assert.equal(0, list[1].held)
      close()
    end)
  end)

  it("removes the ticket of a waiter that gives up, by signal, timeout or cancel", function()
    server_support.with(function(s)
      local list, clients, close = sems(s, 2)
      local held = list[1]:acquire()
      local e = raised(list[2].acquire, list[2], abort.timeout(30))
      assert.is_true(errors.is(e, errors.TimeoutError))
      assert.equal(0, clients[2]:command("ZCARD", "k:queue")) -- sent after the ticket's removal
      e = raised(list[2].acquire, list[2], { timeout = 20 })
      assert.is_true(errors.is(e, errors.TimeoutError))
      local t = task.spawn(list[2].acquire, list[2])
      until_count(clients[1], "k:queue", 1)
      t:cancel()
      pcall(t.await, t)
      assert.equal("cancelled", t.status)
      assert.equal(0, clients[2]:command("ZCARD", "k:queue"))
      assert.equal(0, list[2].waiting)
      held:release()
      assert.equal(0, clients[1]:command("ZCARD", "k:holders"))
      close()
    end)
  end)

  it("leaves no timer armed by an acquire's timeout once it got its permit", function()
    server_support.with(function(s)
      local list, _, close = sems(s, 1)
      local before = core.stats().timers
      local ctl = abort.controller()
      list[1]:acquire({ signal = ctl.signal, timeout = 60000 }):release()
      list[1]:acquire({ timeout = 60000 }):release()
      assert.equal(before, core.stats().timers)
      close()
    end)
  end)

  it("hands permits to waiters by message over a pool as over a client", function()
    server_support.with(function(s)
      local pool = redis.pool { url = s.url, size = 2 }
      local a = semaphore.redis { client = pool, key = "k", permits = 1 }
      local b = semaphore.redis { client = pool, key = "k", permits = 1 }
      local held = a:acquire()
      local t = task.spawn(b.acquire, b)
      until_count(pool, "k:queue", 1)
      while not b._listening do task.yield() end
      assert.is_true(b._listening.ready:await()) -- the waiter hears its grant, it does not poll
      held:release()
      t:await():release()
      pool:close()
    end)
  end)

  it("gives back a permit granted to a task cancelled before it learned of it", function()
    server_support.with(function(s)
      local list, clients, close = sems(s, 1)
      local t = task.spawn(list[1].acquire, list[1])
      task.yield() -- its ask is sent: the server makes it a holder
      t:cancel()   -- before the answer is read
      pcall(t.await, t)
      assert.equal("cancelled", t.status)
      assert.equal(0, clients[1]:command("ZCARD", "k:holders"))
      assert.equal(0, list[1].held)
      assert.is_true(list[1]:try_acquire():release())
      close()
    end)
  end)

  it("loses no permit and gives none twice when waits are aborted at random", function()
    server_support.with(function(s)
      local list, clients, close = sems(s, 3, { permits = 2, lease = 2000 })
      local holding, peak = 0, 0
      local tasks = {}
      for i = 1, 60 do
        tasks[i] = task.spawn(function()
          pcall(task.timeout, math.random(1, 8), function()
            list[i % 3 + 1]:with(function()
              holding = holding + 1
              peak = math.max(peak, holding)
              task.sleep(math.random(0, 2))
              holding = holding - 1
            end)
          end)
        end)
      end
      for i = 1, 60 do tasks[i]:await() end
      -- A given-up wait's leave goes from a task of its own, which may still be on its
      -- way: the holders must be gone well before a lease (2 s) could have ended.
      local now = require("ebb.clock").now
      local t0 = now()
      while clients[1]:command("ZCARD", "k:holders") > 0 and now() - t0 < 1000 do
        task.sleep(5)
      end
      assert.is_true(peak <= 2)
      assert.equal(0, holding)
      assert.equal(0, clients[1]:command("ZCARD", "k:holders"))
      assert.equal(0, clients[1]:command("ZCARD", "k:queue"))
      for i = 1, 3 do assert.equal(0, list[i].held + list[i].waiting) end
      close()
    end)
  end)

  it("serves the next waiter after a dead waiter's ticket ends", function()
    server_support.with(function(s)
      local list, clients, close = sems(s, 3, { lease = 120 })
      local held = list[1]:acquire()
      local dead = task.spawn(list[2].acquire, list[2])
      until_count(clients[1], "k:queue", 1)
      clients[2]:close() -- the waiter's process gone: its ticket is left behind
      assert.is_true(errors.is(raised(dead.await, dead), redis.ClosedError))
      local next_ = task.spawn(list[3].acquire, list[3], abort.timeout(5000))
      until_count(clients[1], "k:queue", 2)
      held:release()
      next_:await():release()
      close()
    end)
  end)

  it("gets back the permit of a process killed with SIGKILL while it held it", function()
    server_support.with(function(s)
      local script = os.tmpname()
      local f = assert(io.open(script, "w"))
      f:write(([[
        local sem = require("ebb.semaphore").redis {
          client = require("ebb.redis").connect(%q), key = "k", permits = 1, lease = 200 }
        sem:acquire()
        print("held")
        io.stdout:flush()
        require("ebb.task").sleep(1e9)
      ]]):format(s.url))
      f:close()
      local child = require("ebb.process").spawn(require("run_ebb").BIN, { script })
      assert.equal("held\n", child.stdout:read())
      local c = redis.connect(s.url)
      local sem = semaphore.redis { client = c, key = "k", permits = 1, lease = 200 }
      -- the child renews its lease: the permit stays its own past one lease
      local e = raised(sem.acquire, sem, abort.timeout(400))
      assert.is_true(errors.is(e, errors.TimeoutError))
      child:kill("SIGKILL")
      child:wait()
      child:close()
      os.remove(script)
      sem:acquire(abort.timeout(5000)) -- back once the dead holder's lease ends
      sem:release()
      c:close()
    end)
  end)

  it("rides out a restart of the server: waiters reconnect, holders renew", function()
    server_support.with(function(s)
      local list, clients, close = sems(s, 2, { lease = 3000 })
      local held = list[1]:acquire()
      local waiter = task.spawn(list[2].acquire, list[2])
      until_count(clients[1], "k:queue", 1)
      s:restart() -- without persistence: the holder's permit is forgotten
      local lease = waiter:await() -- the waiter asks again and is served
      assert.is_false(lease.signal.aborted)
      -- the holder learns at its next renewal that its permit is gone
      assert.is_true(errors.is(lost_reason(held, 5000), semaphore.LeaseLostError))
      lease:release()
      close()
    end)
  end)

  it("raises the connection's error for a server that is gone", function()
    local s = server_support.start()
    local c = redis.connect(s.url, { reconnect = { retries = 1, base = 10 } })
    local sem = semaphore.redis { client = c, key = "k", permits = 1, lease = 100 }
    local lease = sem:acquire()
    s:stop()
    local e = raised(sem.acquire, sem)
    assert.is_true(errors.is(e, errors.SystemError) or errors.is(e, redis.ConnectionError))
    local reason = lost_reason(lease, 5000) -- its renewals fail: lost by its own clock
    assert.is_true(errors.is(reason, semaphore.LeaseLostError))
    assert.is_not_nil(reason.cause)
    assert.is_false(sem:release(lease))
    c:close()
  end)

  it("fails its waiters and gives back its permits when closed", function()
    server_support.with(function(s)
      local list, clients, close = sems(s, 1)
      list[1]:acquire()
      local t = task.spawn(list[1].acquire, list[1])
      until_count(clients[1], "k:queue", 1)
      list[1]:close()
      assert.equal("ClosedError", raised(t.await, t).name)
      until_count(clients[1], "k:holders", 0) -- given back by a task of its own
      assert.equal("ClosedError", raised(list[1].acquire, list[1]).name)
      assert.is_false(list[1]:try_acquire())
      assert.equal("RedisSemaphore (k, 1 permits, 0 held here, 0 waiting here)", tostring(list[1]))
      close()
    end)
  end)

  it("refuses bad options and arguments naming them", function()
    local bad = asserts.bad_at("semaphore_redis_spec%.lua")
    bad(function() semaphore.redis { key = "k", permits = 1 } end, "bad argument #1 to 'redis' %(option 'client' is required%)")
    bad(function() semaphore.redis { client = 5, key = "k", permits = 1 } end,
      "option 'client' must be a redis client or pool, got number")
    server_support.with_client(function(c)
      bad(function() semaphore.redis { client = c, key = "k", permits = 1, lase = 5 } end, "unknown option 'lase'")
      bad(function() semaphore.redis { client = c, key = "k", permits = 0 } end, "option 'permits' must be a whole number")
      bad(function() semaphore.redis { client = c, key = "k", permits = 1, lease = 5 } end, "option 'lease' must be a whole number from 30")
      local sem = semaphore.redis { client = c, key = "k", permits = 1 }
      bad(function() sem:acquire(5) end, "bad argument #1 to 'acquire' %(abort signal or table of options expected, got number%)")
      bad(function() sem:acquire { timout = 5 } end, "bad argument #1 to 'acquire' %(unknown option 'timout'")
      bad(function() sem:release() end, "bad argument #1 to 'release' %(nothing is held%)")
      bad(function() sem.acquire({}) end, "bad argument #1 to 'acquire' %(redis semaphore expected, got table%)")
      local other = semaphore.redis { client = c, key = "j", permits = 1 }
      local lease = other:acquire()
      bad(function() sem:release(lease) end, "bad argument #1 to 'release' %(the lease is another semaphore's%)")
      bad(function() sem:release("x") end, "bad argument #1 to 'release' %(redis semaphore lease expected, got string%)")
      lease:release()
      local ok, e = pcall(sem.acquire, sem, abort.aborted("stop"))
      assert.is_false(ok)
      assert.equal("stop", e)
    end)
  end)
end)
