-- Soak: many tasks cancelled at random moments (task cancel, their waits' own
-- signals, timeouts) while they wait on semaphores, queues, channels and streams.
-- Once everything has settled, every count is back where it was: permits, queue
-- counts, channel buffers, open handles, armed timers, task records; and a
-- wait whose signal aborted before its task ran never succeeds.
-- Seeded (EBB_SOAK_SEED=n to try another run), on virtual time where it can be.
local core = require "ebb.core"
local task = require "ebb.task"
local abort = require "ebb.abort"
local clock = require "ebb.clock"
local semaphore = require "ebb.semaphore"
local queue = require "ebb.queue"
local channel = require "ebb.channel"
local scope = require "ebb.scope"
local stream = require "ebb.stream"
local fs = require "ebb.fs"
local net = require "ebb.net"
local process = require "ebb.process"
local errors = require "ebb.errors"

local SEED = tonumber(os.getenv("EBB_SOAK_SEED")) or 20261203
local random = math.random

-- Cancels about half of the tasks, each at a random moment within `horizon` ms.
local function cancel_at_random(tasks, horizon)
  local cancellers = {}
  for _, t in ipairs(tasks) do
    if random() < 0.5 then
      cancellers[#cancellers + 1] = task.delay(random() * horizon, function() t:cancel() end)
    end
  end
  return cancellers
end

-- What went wrong inside the tasks beyond the expected errors of cancellation
-- (aborts, timeouts, closed channels and streams, all error objects).
local unexpected = {}

-- A task running fn(i); its expected errors end it quietly.
local function spawn_one(fn, i)
  return task.spawn(function()
    local ok, e = pcall(fn, i)
    if not ok and type(e) ~= "table" then unexpected[#unexpected + 1] = tostring(e) end
  end)
end

local function spawn_many(n, fn)
  local list = {}
  for i = 1, n do list[i] = spawn_one(fn, i) end
  return list
end

-- Controllers whose signals waits were given, for poke() to abort.
local controllers = {}

-- A signal for a wait: none, one that times out soon, one that poke() may
-- abort, or one already aborted.
local function maybe_signal()
  local r = random()
  if r < 0.4 then return nil end
  if r < 0.7 then return abort.timeout(random(0, 20)) end
  if r < 0.95 then
    local ctl = abort.controller()
    controllers[#controllers + 1] = ctl
    return ctl.signal
  end
  return abort.aborted()
end

-- Called right after a release, send or receive: often cancels one of `tasks` or
-- aborts a wait's signal at once, so a waiter just handed something is cancelled
-- before it runs. With `replace`, a cancelled task is replaced by a new one.
local function poke(tasks, replace)
  local r = random()
  if r < 0.15 then
    tasks[random(#tasks)]:cancel()
    if replace then tasks[#tasks + 1] = spawn_one(replace) end
  elseif r < 0.3 and #controllers > 0 then
    controllers[random(#controllers)]:abort()
  end
end

-- Waits until every task has ended (each bounded, so a stuck one fails the spec
-- instead of hanging it); the tasks still stuck are counted.
local function settle(lists)
  local stuck = 0
  for _, list in ipairs(lists) do
    for _, t in ipairs(list) do
      if not pcall(task.timeout, 5000, function() pcall(t.await, t) end) then
        stuck = stuck + 1
        t:cancel()
      end
    end
  end
  task.yield()
  task.yield()
  return stuck
end

local function counts()
  local s = core.stats()
  return { timers = s.timers, handles = s.handles, records = s.records }
end

-- Every abort.timeout a wait was given has fired: no timer of ours is left.
local function outlast_timeouts() task.sleep(100) end

-- A spec body that runs from a fixed seed, then checks that everything it
-- started is gone. On virtual time, except streams (real_time): they wait on the
-- outside world, which virtual time does not wait for.
local function soak(body, real_time)
  return function()
    math.randomseed(SEED)
    if not real_time then clock.auto() end
    unexpected, controllers = {}, {}
    task.yield() -- the body's own task record is made at its first wait
    local before = counts()
    body()
    outlast_timeouts()
    assert.same({}, unexpected, "seed " .. SEED)
    assert.same(before, counts(), "seed " .. SEED)
  end
end

describe("soak: random cancellation", function()
  local function semaphore_soak(with_signals)
    local sem = semaphore.new(3)
    local workers
    workers = spawn_many(300, function(i)
      local n = random(1, 3)
      if i % 3 == 0 then
        return sem:with(task.sleep, random(0, 10))
      end
      if i % 7 == 0 and not sem:try_acquire(n) then return end
      if i % 7 ~= 0 then sem:acquire(n, with_signals and maybe_signal() or nil) end
      local ok, e = pcall(task.sleep, random(0, 10))
      sem:release(n)
      poke(workers)
      if not ok then error(e, 0) end
    end)
    local cancellers = cancel_at_random(workers, 200)
    assert.equal(0, settle({ workers, cancellers }), "tasks stuck, seed " .. SEED)
    assert.equal(3, sem.available, "seed " .. SEED)
    assert.equal(0, sem.waiting, "seed " .. SEED)
  end

  it("gives back every semaphore permit when tasks are cancelled", soak(function()
    semaphore_soak(false)
  end))

  it("gives back every semaphore permit when acquires' own signals abort", soak(function()
    semaphore_soak(true)
  end))

  it("leaves a queue with nothing pending or active", soak(function()
    local q = queue.new(3)
    local running = 0
    local function job()
      running = running + 1
      local ok, e = pcall(task.sleep, random(0, 10))
      running = running - 1
      if not ok then error(e, 0) end
      if random() < 0.1 then error(errors.new("job failed")) end
      return "done"
    end
    local function options()
      return { priority = random(-2, 2), timeout = random() < 0.3 and random(0, 15) or nil, signal = maybe_signal() }
    end
    -- a pushed job's task is awaited by the task that pushed it, so its
    -- failure is never an unhandled one
    local jobs = {}
    local pushers = spawn_many(150, function()
      local t = q:push(job, options())
      jobs[#jobs + 1] = t
      t:await()
    end)
    local runners = spawn_many(150, function() return q:run(job, options()) end)
    task.yield()
    local knobs = task.spawn(function()
      task.sleep(30)
      q:pause()
      task.sleep(10)
      q:set_concurrency(5)
      q:resume()
      task.sleep(30)
      q:set_concurrency(1)
    end)
    local cancellers = cancel_at_random(jobs, 300)
    local cancellers2 = cancel_at_random(runners, 300)
    assert.equal(0, settle({ pushers, jobs, runners, cancellers, cancellers2, { knobs } }), "tasks stuck, seed " .. SEED)
    q:idle()
    assert.equal(0, q.pending, "seed " .. SEED)
    assert.equal(0, q.active, "seed " .. SEED)
    assert.equal(0, running, "seed " .. SEED)
  end))

  -- A value may sit in the buffer only while no receiver waits (read from the
  -- channel's own queues: a receiver parked beside a value is a lost wake-up).
  local function stranded(ch)
    local waiting, q = 0, ch.receivers
    for i = q.head + 1, q.tail do
      if not q[i].gone then waiting = waiting + 1 end
    end
    local buffered = ch.buffer.tail - ch.buffer.head
    return buffered > 0 and waiting > 0
  end

  local function channel_soak(capacity)
    local ch = channel.new(capacity)
    -- looked for after every send and receive
    local strandings = 0
    local function look_for_stranding()
      if stranded(ch) then strandings = strandings + 1 end
    end
    local sent, received, attempted = {}, {}, {}
    local producers, consumers
    local function consume()
      while true do
        local v = ch:recv(random() < 0.3 and maybe_signal() or nil)
        if v == nil then return end
        assert(not received[v], "received twice: " .. v)
        received[v] = true
        look_for_stranding()
        poke(producers)
      end
    end
    producers = spawn_many(10, function(p)
      for k = 1, 40 do
        local v = p * 100 + k
        attempted[v] = true
        ch:send(v, maybe_signal())
        sent[v] = true
        look_for_stranding()
        poke(consumers, consume)
      end
    end)
    consumers = spawn_many(6, consume)
    local cancellers = cancel_at_random(producers, 50)
    local cancellers2 = cancel_at_random(consumers, 50)
    -- consumers that have stopped are replaced, so what was sent can be received
    local helpers = {}
    for _ = 1, 40 do
      helpers[#helpers + 1] = task.spawn(function()
        task.sleep(200)
        while true do
          local v = ch:recv()
          if v == nil then return end
          assert(not received[v], "received twice: " .. v)
          received[v] = true
        end
      end)
    end
    assert.equal(0, settle({ producers, cancellers, cancellers2 }), "producers stuck, seed " .. SEED)
    task.sleep(200)
    ch:close()
    assert.equal(0, settle({ consumers, helpers }), "consumers stuck, seed " .. SEED)
    assert.equal(0, strandings, "times a value waited beside a waiting receiver, seed " .. SEED)
    for v in pairs(sent) do assert(received[v], "sent but never received: " .. v .. ", seed " .. SEED) end
    for v in pairs(received) do assert(attempted[v], "received but never sent: " .. v) end
    assert.equal(("Channel (0 of %d buffered, closed)"):format(capacity), tostring(ch))
  end

  it("loses no value of a buffered channel", soak(function() channel_soak(4) end))
  it("loses no value of an unbuffered channel",
    soak(function() channel_soak(0) end))
end)

-- Tasks that abort the parties' current signals (and now and then cancel a
-- party) at random, yielding in between. They run among the parties, so they
-- also strike between a party being handed something and its running.
local function disturb(parties, ctls, steps)
  local chaos = {}
  for k = 1, 3 do
    chaos[k] = task.spawn(function()
      for _ = 1, steps do
        local i, what = random(#parties), random(20)
        if what == 1 then parties[i]:cancel("cancelled")
        elseif what <= 9 then ctls[i]:abort("aborted")
        else task.yield() end
      end
    end)
  end
  task.all(chaos)
end

-- Party i's signal for its next wait: a fresh one, or none.
local function next_signal(ctls, i)
  ctls[i] = abort.controller()
  return random(2) == 1 and ctls[i].signal or nil
end

describe("soak: aborts between a hand-off and the waiter's run", function()
  it("gives every permit of a semaphore back, and no aborted acquire succeeds", soak(function()
    local late = 0 -- acquires that succeeded though their signal had aborted
    for _ = 1, 100 do
      local sem = semaphore.new(3)
      local parties, ctls = {}, {}
      for i = 1, 10 do
        ctls[i] = abort.controller()
        parties[i] = task.spawn(function()
          for _ = 1, 30 do
            local n, signal = random(3), next_signal(ctls, i)
            if pcall(sem.acquire, sem, n, signal) then
              if signal and signal.aborted then late = late + 1 end
              local ok = pcall(task.yield) -- holding them across a wait
              sem:release(n)
              if not ok then return end
            elseif not (signal and signal.aborted) then
              return -- cancelled
            end
          end
        end)
      end
      disturb(parties, ctls, 100)
      assert.equal(0, settle({ parties }), "tasks stuck, seed " .. SEED)
      assert.equal(3, sem.available, "seed " .. SEED)
      assert.equal(0, sem.waiting, "seed " .. SEED)
    end
    assert.equal(0, late, "seed " .. SEED)
  end))

  it("delivers every value sent on a channel exactly once, and no aborted recv gets one", soak(function()
    local late = 0
    for _ = 1, 100 do
      local ch = channel.new(random(3) - 1)
      local got = {}
      local parties, ctls = {}, {}
      for i = 1, 10 do
        ctls[i] = abort.controller()
        parties[i] = task.spawn(function()
          while true do
            local signal = next_signal(ctls, i)
            local ok, v = pcall(ch.recv, ch, signal)
            if ok and v == nil then return end -- closed
            if ok then
              if signal and signal.aborted then late = late + 1 end
              got[#got + 1] = v
            elseif not (signal and signal.aborted) then
              return -- cancelled
            end
          end
        end)
      end
      local producer = task.spawn(function() for v = 1, 50 do ch:send(v) end end)
      disturb(parties, ctls, 100)
      local drainer = task.spawn(function() for v in ch:iter() do got[#got + 1] = v end end)
      producer:await()
      ch:close()
      drainer:await()
      assert.equal(0, settle({ parties }), "tasks stuck, seed " .. SEED)
      table.sort(got)
      assert.equal(50, #got, "seed " .. SEED)
      for v = 1, 50 do assert.equal(v, got[v], "seed " .. SEED) end
    end
    assert.equal(0, late, "seed " .. SEED)
  end))
end)

describe("soak: random cancellation of streams", function()
  local dir
  lazy_setup(function()
    local p = assert(io.popen("mktemp -d"))
    dir = p:read("*l")
    p:close()
    local f = assert(io.open(dir .. "/source", "wb"))
    f:write(string.rep("0123456789abcdef", 64 * 1024))
    f:close()
  end)

  lazy_teardown(function()
    if dir then os.execute("rm -rf '" .. dir .. "'") end
  end)


  it("closes every file stream of a cancelled task", soak(function()
    local workers = spawn_many(40, function(i)
      scope.run(function(s)
        local src = s:use(fs.reader(dir .. "/source", { high_water_mark = random(1, 64) * 1024 }))
        local dst = s:use(fs.writer(("%s/copy%d"):format(dir, i)))
        if i % 2 == 0 then
          stream.pipeline(src, function(chunk) return chunk end, dst, { signal = maybe_signal() })
        else
          for chunk in src:chunks(maybe_signal()) do dst:write(chunk) end
          dst:finish()
        end
      end)
    end)
    local cancellers = cancel_at_random(workers, 5)
    assert.equal(0, settle({ workers, cancellers }), "tasks stuck, seed " .. SEED)
  end, true))

  it("closes every socket of a cancelled task, and the server", soak(function()
    local server = net.listen("127.0.0.1", 0, function(conn)
      pcall(stream.pipeline, conn, conn) -- a client cancelled midway: EPIPE, ECONNRESET
    end)
    local clients = spawn_many(40, function(i)
      scope.run(function(s)
        local c = s:use(net.connect("127.0.0.1", server.port))
        for _ = 1, random(1, 5) do
          c:write(string.rep("x", random(1, 100000)), maybe_signal())
          c:read(maybe_signal())
        end
        if i % 2 == 0 then c:finish() end
      end)
    end)
    local cancellers = cancel_at_random(clients, 10)
    local stuck = settle({ clients, cancellers })
    server:close({ timeout = 100 })
    assert.equal(0, stuck, "tasks stuck, seed " .. SEED)
  end, true))

  it("closes every pipe and child of a cancelled task", soak(function()
    local workers = spawn_many(10, function()
      scope.run(function(s)
        local p = s:use(process.spawn("cat", {}))
        p.stdin:write(string.rep("y", random(1, 200000)), maybe_signal())
        p.stdout:read(maybe_signal())
        p.stdin:finish()
        for _ in p.stdout:chunks() do end
        p:wait()
      end)
    end)
    local cancellers = cancel_at_random(workers, 5)
    assert.equal(0, settle({ workers, cancellers }), "tasks stuck, seed " .. SEED)
  end, true))
end)
