-- Every function that takes an abort signal stops listening to it when the
-- operation ends: a long-lived signal (a server's shutdown, a request's
-- deadline) used by many operations holds nothing for the finished ones.
package.path = "spec/support/?.lua;" .. package.path
local io_support = require "io_support"
local read_all = io_support.read_all
local task = require "ebb.task"
local abort = require "ebb.abort"
local abort_core = require "ebb.abort.core"
local clock = require "ebb.clock"
local semaphore = require "ebb.semaphore"
local channel = require "ebb.channel"
local queue = require "ebb.queue"
local retry = require "ebb.retry"
local gen = require "ebb.gen"
local stream = require "ebb.stream"
local fs = require "ebb.fs"
local net = require "ebb.net"
local process = require "ebb.process"

-- Runs op(signal) with a fresh signal, then checks nothing listens to it.
local function leaves_no_listener(op)
  local ctl = abort.controller()
  op(ctl.signal)
  assert.equal(0, abort_core.listeners(ctl.signal))
end

describe("a signal given to an operation", function()
  it("is not listened to once a sleep, an acquire, a send or a receive has ended", function()
    clock.auto()
    leaves_no_listener(function(s) task.sleep(10, s) end)
    leaves_no_listener(function(s)
      local sem = semaphore.new(1)
      sem:acquire()
      task.delay(5, function() sem:release() end)
      sem:acquire(s)
    end)
    leaves_no_listener(function(s)
      local ch = channel.new(0)
      task.delay(5, function() ch:send("v") end)
      assert.equal("v", ch:recv(s))
      task.delay(5, function() ch:recv() end)
      ch:send("w", s)
    end)
    leaves_no_listener(function(s)
      local f = task.future()
      task.delay(5, function() f:resolve(1) end)
      assert.equal(1, f:await({ signal = s }))
    end)
  end)

  it("is not listened to once a queued job has ended, however it ended", function()
    local q = queue.new(2)
    leaves_no_listener(function(s)
      for _ = 1, 100 do q:push(function() task.yield() end, { signal = s }) end
      local failing = q:push(function() error("failed") end, { signal = s })
      q:idle(s)
      assert.is_false(pcall(failing.await, failing))
    end)
    leaves_no_listener(function(s) assert.equal(7, q:run(function() return 7 end, { signal = s })) end)
    leaves_no_listener(function(s)
      q:pause()
      local t = q:push(function() end, { signal = s })
      q:clear()
      assert.equal("cancelled", t.status)
      q:resume()
    end)
  end)

  it("is not listened to once retry and paginate have ended", function()
    clock.auto()
    leaves_no_listener(function(s)
      local n = 0
      retry(function() n = n + 1 if n < 3 then error("again") end end, { signal = s, base = 10 })
    end)
    leaves_no_listener(function(s)
      local pages = 0
      for _ in gen.paginate(function(c) return { c or 0 }, (c or 0) < 2 and (c or 0) + 1 or nil end,
        { signal = s, interval = 10 }) do
        pages = pages + 1
      end
      assert.equal(3, pages)
    end)
  end)

  it("is not listened to once file, socket, pipeline and process operations have ended", function()
    leaves_no_listener(function(s)
      assert.is_string(fs.read_file("spec/signal_listeners_spec.lua", s))
      fs.stat("spec", s)
    end)
    leaves_no_listener(function(s)
      local server = net.listen("127.0.0.1", 0, function(conn) conn:write("hi") conn:finish() end)
      local c = net.connect("127.0.0.1", server.port, { signal = s })
      assert.equal("hi", c:read(s))
      c:close()
      server:close({ signal = s })
    end)
    leaves_no_listener(function(s)
      local chunks = { "a", "b" }
      local src = stream.readable(function() return table.remove(chunks, 1) end)
      local got = {}
      stream.pipeline(src, stream.writable(function(c) got[#got + 1] = c end), { signal = s })
      assert.same({ "a", "b" }, got)
    end)
    leaves_no_listener(function(s)
      -- the child's exit ends them, with no wait nor close: the spawning task's
      -- signal keeps none either
      local p = process.spawn("true", {}, { signal = s })
      assert.equal("", read_all(p.stdout))
      while not p:status() do task.yield() end -- its exit is seen on a later turn
      assert.equal(0, abort_core.listeners(s))
      assert.equal(0, abort_core.listeners(task.current().signal))
      assert.equal(0, p:wait(s))
      p:close()
      assert.equal("x", process.run("echo", { "-n", "x" }, { signal = s }).stdout)
    end)
    leaves_no_listener(function(s)
      local p = process.spawn("sleep", { "30" }, { signal = s })
      local ctl = abort.controller()
      local waiter = task.spawn(function() return p:wait(ctl.signal) end)
      task.yield()
      ctl:abort("stop") -- the wait is aborted: the child is killed
      assert.equal("stop", select(2, pcall(waiter.await, waiter)))
      assert.same({ nil, "SIGTERM" }, { p:wait() })
      assert.equal("", read_all(p.stdout))
      p:close()
    end)
  end)
end)
