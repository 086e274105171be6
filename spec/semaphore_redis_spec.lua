-- Specs for semaphore.redis: permits shared through a real redis-server.
package.path = "spec/support/?.lua;" .. package.path
local semaphore = require "ebb.semaphore"
local redis = require "ebb.redis"
local task = require "ebb.task"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local asserts = require "asserts"
local server_support = require "redis_server"
local raised = asserts.raised

describe("semaphore.redis", function()
  it("never lets more than the permits hold at once, across clients", function()
    server_support.with(function(s)
      local clients, sems = {}, {}
      for i = 1, 4 do
        clients[i] = redis.connect(s.url)
        sems[i] = semaphore.redis { client = clients[i], key = "sem", permits = 3, lease = 5000, poll = 5 }
      end
      local holding, peak = 0, 0
      local tasks = {}
      for i = 1, 40 do
        tasks[i] = task.spawn(function()
          sems[i % 4 + 1]:with(function()
            holding = holding + 1
            if holding > peak then peak = holding end
            task.sleep(2)
            holding = holding - 1
          end)
        end)
      end
      for i = 1, 40 do tasks[i]:await() end
      assert.equal(3, peak)
      assert.equal(0, clients[1]:command("ZCARD", "sem")) -- every permit back
      for i = 1, 4 do clients[i]:close() end
    end)
  end)

  it("gives back the permit of a holder that died when its lease ends; renews a live one", function()
    server_support.with(function(s)
      local live_client, dead_client = redis.connect(s.url), redis.connect(s.url)
      local live = semaphore.redis { client = live_client, key = "k", permits = 2, lease = 150, poll = 5 }
      local dead = semaphore.redis { client = dead_client, key = "k", permits = 2, lease = 150, poll = 5 }
      live:acquire()
      dead:acquire()
      -- the dead one's renewals fail from now on, as a process killed would stop them
      dead_client:close()
      local other = semaphore.redis { client = redis.connect(s.url), key = "k", permits = 2, lease = 150, poll = 5 }
      other:acquire(abort.timeout(5000)) -- served once the dead lease ends
      -- the live holder renewed: still one of the two
      task.sleep(300)
      assert.equal(2, live_client:command("ZCARD", "k"))
      assert.equal(0, live.lost)
      live:release()
      other:release()
      assert.equal(0, live_client:command("ZCARD", "k"))
      other.client:close()
      live_client:close()
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
      local sem = semaphore.redis { client = c, key = "k", permits = 1, lease = 200, poll = 5 }
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

  it("ends a waiting acquire on its signal, holding nothing after", function()
    server_support.with(function(s)
      local c = redis.connect(s.url)
      local sem = semaphore.redis { client = c, key = "k", permits = 1, poll = 5 }
      sem:acquire()
      local e = raised(sem.acquire, sem, abort.timeout(30))
      assert.is_true(errors.is(e, errors.TimeoutError))
      assert.equal(1, c:command("ZCARD", "k"))
      assert.is_true(sem:release())
      assert.is_false(sem:release("not-held"))
      assert.equal("RedisSemaphore (k, 1 permits, 0 held here)", tostring(sem))
      c:close()
    end)
  end)

  it("refuses bad options naming them", function()
    local bad = asserts.bad_at("semaphore_redis_spec%.lua")
    bad(function() semaphore.redis { key = "k", permits = 1 } end, "bad argument #1 to 'redis' %(option 'client' is required%)")
    bad(function() semaphore.redis { client = 5, key = "k", permits = 1 } end, "option 'client' must be a redis client or pool, got number")
    bad(function() semaphore.redis { client = { command = print }, key = "k", permits = 1, lase = 5 } end, "unknown option 'lase'")
  end)
end)
