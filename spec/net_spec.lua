-- Specs for ebb.net: connect and listen, backpressure, errors, the auto clock.
package.path = "spec/support/?.lua;" .. package.path
local io_support = require "io_support"
local read_all, started = io_support.read_all, io_support.started
local net = require "ebb.net"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local task = require "ebb.task"
local clock = require "ebb.clock"
local asserts = require "asserts"
local raised = asserts.raised -- calls fn(...), which must raise; returns what it raised
local assert_bad = asserts.bad_at("net_spec%.lua")
local run = require "run_ebb"

local net_support = require "net_support"
local LOCAL, echo_server = net_support.LOCAL, net_support.echo_server
local holding_server, accepted = net_support.holding_server, net_support.accepted

local free_port = net_support.free_port

describe("ebb.net", function()
  describe("connect and listen", function()
    it("echoes over loopback, with a system-chosen port and both ends' addresses", function()
      local seen
      local server = net.listen(LOCAL, 0, function(conn)
        seen = { conn.local_address, conn.local_port, conn.remote_address, conn.remote_port, conn.name }
        for chunk in conn:chunks() do conn:write(chunk) end
        conn:finish()
      end)
      assert.equal(LOCAL, server.address)
      assert.is_true(server.port > 0)
      assert.matches("^Server %(127%.0%.0%.1:%d+%)$", tostring(server))
      local c = net.connect(LOCAL, server.port)
      assert.equal(LOCAL, c.remote_address)
      assert.equal(server.port, c.remote_port)
      assert.equal(LOCAL, c.local_address)
      assert.is_true(c.local_port > 0 and c.local_port ~= server.port)
      assert.equal(LOCAL .. ":" .. server.port, c.name)
      c:write("hello, ")
      c:write("world")
      c:finish()
      assert.equal("hello, world", read_all(c))
      assert.equal(12, c.written)
      assert.is_true(c.ended and c.finished)
      assert.same({ LOCAL, server.port, LOCAL, c.local_port, LOCAL .. ":" .. c.local_port }, seen)
      c:close()
      assert.is_true(c.closed)
      server:close()
      assert.is_true(server.closed)
      assert.matches("closed", tostring(server))
    end)

    it("resolves localhost, and connects by name", function()
      local ips = net.resolve("localhost")
      assert.is_true(#ips >= 1)
      for _, ip in ipairs(ips) do assert.is_truthy(ip:match("^[%d.]+$") or ip:match(":")) end
      assert.same({ "10.1.2.3" }, net.resolve("10.1.2.3")) -- a literal is not looked up
      local server = echo_server()
      local c = net.connect("localhost", server.port) -- ::1 may be refused: the next address is tried
      c:write("by name")
      c:finish()
      assert.equal("by name", read_all(c))
      c:close()
      server:close()
    end)

    it("moves a large payload both ways intact", function()
      local server = echo_server({ high_water_mark = 4096 })
      local c = net.connect(LOCAL, server.port, { high_water_mark = 8192, nodelay = true })
      local parts = {}
      for i = 1, 300 do parts[i] = ("%06d"):format(i):rep(1000) end -- 1.8 MB
      local data = table.concat(parts)
      local writer = task.spawn(function()
        for i = 1, #parts do c:write(parts[i]) end
        c:finish()
      end)
      local got = read_all(c)
      writer:await()
      assert.equal(#data, #got)
      assert.equal(data, got)
      c:close()
      server:close()
    end)

    it("serves many connections at once, each with its own task", function()
      local server = echo_server()
      local most = 0
      local clients = {}
      for i = 1, 60 do
        clients[i] = task.spawn(function()
          local c = net.connect(LOCAL, server.port)
          most = math.max(most, server.connections)
          c:write(("client %d;"):format(i):rep(i))
          c:finish()
          local got = read_all(c)
          c:close()
          return got
        end)
      end
      local results = { task.all(clients) }
      local all = results[1]
      for i = 1, 60 do
        local got = type(all) == "table" and all[i] or results[i]
        assert.equal(("client %d;"):format(i):rep(i), got)
      end
      assert.is_true(most > 1)
      server:close()
      assert.equal(0, server.connections)
    end)

    it("half-closes with finish: the peer reads the end and can still answer", function()
      local server = net.listen(LOCAL, 0, function(conn)
        local got = read_all(conn)
        assert.is_true(conn.ended)
        conn:write("got " .. #got .. " bytes")
        conn:write(", bye")
      end)
      local c = net.connect(LOCAL, server.port)
      c:write(("x"):rep(100000))
      c:finish()
      assert.is_true(c.finished)
      assert.equal("got 100000 bytes, bye", read_all(c))
      assert.is_nil(c:read()) -- the end again
      c:close()
      server:close()
    end)
  end)

  describe("backpressure", function()
    it("stops a producer whose peer never reads, with at most high_water_mark plus a chunk queued", function()
      local hwm, size = 16384, 65536
      local server, conns, release = holding_server()
      local c = net.connect(LOCAL, server.port, { high_water_mark = hwm })
      local written, stop = 0, false
      local producer = started(function()
        while not stop do -- until told: far more than the kernel holds
          c:write(("p"):rep(size))
          written = written + size
        end
        c:finish()
      end)
      -- real I/O round trips (not sleeps) let the loop poll the stalled socket
      local probe = echo_server()
      local pc = net.connect(LOCAL, probe.port)
      local stalled_at
      for i = 1, 20 do
        pc:write("ping" .. i)
        assert.equal("ping" .. i, pc:read())
        if i == 10 then stalled_at = written end
      end
      pc:close()
      probe:close()
      assert.equal("running", producer.status)
      assert.equal(stalled_at, written) -- no progress while nobody reads
      local _, queued = c:buffered()
      assert.is_true(queued > hwm, "the writer waits only once more than hwm is queued")
      assert.is_true(queued <= hwm + size, "queued " .. queued)
      -- the peer reads it all: the producer goes on, and nothing is lost
      stop = true
      local peer = accepted(conns, 1)
      local got = #read_all(peer)
      producer:await()
      assert.equal(written, got)
      assert.is_true(got > stalled_at)
      c:close()
      release()
      server:close()
    end)

    it("stops reading from the socket once high_water_mark bytes wait unread", function()
      local hwm = 4096
      local sent = 0
      local server = net.listen(LOCAL, 0, function(conn)
        for _ = 1, 256 do
          conn:write(("s"):rep(16384))
          sent = sent + 16384
        end
      end)
      local c = net.connect(LOCAL, server.port, { high_water_mark = hwm })
      assert.equal(hwm, c.high_water_mark)
      local first = c:read()
      assert.is_true(#first > 0)
      -- the loop runs (a round trip elsewhere); unread data stays in the kernel
      local probe = echo_server()
      local pc = net.connect(LOCAL, probe.port)
      for i = 1, 10 do
        pc:write("x" .. i)
        assert.equal("x" .. i, pc:read())
      end
      pc:close()
      probe:close()
      local unread = c:buffered()
      assert.is_true(unread <= hwm + 65536, "buffered " .. unread)
      local total = #first + #read_all(c)
      assert.equal(256 * 16384, total)
      assert.equal(sent, total)
      c:close()
      server:close()
    end)

    it("gives a chunk back when its reader is cancelled after being handed it", function()
      local server, conns, release = holding_server()
      -- Under load the two chunks may reach us in two polls, or in the other
      -- order: tried until one poll brings both, in order.
      local handed = false
      for attempt = 1, 20 do
        local a = net.connect(LOCAL, server.port)
        local b = net.connect(LOCAL, server.port)
        local pa, pb = accepted(conns, 2 * attempt - 1), accepted(conns, 2 * attempt)
        local reader = started(a.read, a)
        -- one poll hands "b" to this task, then "A" to reader: this one runs
        -- first and cancels reader, which has been handed its chunk but not run
        local canceller = started(function()
          local chunk = b:read()
          reader:cancel()
          return chunk, (a:buffered())
        end)
        pb:write("b")
        pa:write("A")
        local chunk, unread = canceller:await()
        assert.equal("b", chunk)
        local ok, e = pcall(reader.await, reader)
        if ok then -- "A" came first and reader ran before the cancel: it has it
          assert.equal("A", e)
        else
          assert.is_true(errors.is(e, errors.AbortError), tostring(e))
          assert.equal("A", a:read()) -- not lost
        end
        a:close()
        b:close()
        if not ok and unread == 1 then -- "A" went back
          handed = true
          break
        end
      end
      assert.is_true(handed, "never handed within one poll")
      release()
      server:close()
    end)
  end)

  describe("errors", function()
    it("raises ECONNREFUSED with the address and port", function()
      local port = free_port()
      local e = raised(net.connect, LOCAL, port)
      assert.is_true(errors.is(e, errors.SystemError))
      assert.equal("ECONNREFUSED", e.code)
      assert.equal("connect", e.syscall)
      assert.equal(LOCAL, e.address)
      assert.equal(port, e.port)
      assert.matches("^ECONNREFUSED: connection refused, connect 127%.0%.0%.1:" .. port, e.message or tostring(e))
    end)

    it("raises EADDRINUSE for a port in use", function()
      local server = echo_server()
      local e = raised(net.listen, LOCAL, server.port, function() end)
      assert.is_true(errors.is(e, errors.SystemError))
      assert.equal("EADDRINUSE", e.code)
      assert.equal("listen", e.syscall)
      assert.equal(server.port, e.port)
      server:close()
    end)

    it("raises EAI_NONAME (or EAI_AGAIN without DNS) for an unknown host", function()
      local e = raised(net.connect, "no-such-host.invalid", 80)
      assert.is_true(errors.is(e, errors.SystemError))
      assert.is_truthy(e.code == "EAI_NONAME" or e.code == "EAI_AGAIN", e.code)
      assert.equal("getaddrinfo", e.syscall)
      assert.equal("no-such-host.invalid", e.hostname)
      -- a malformed name fails without asking a name server
      local e2 = raised(net.resolve, "no..such")
      assert.matches("^EAI_", e2.code)
      assert.equal("no..such", e2.hostname)
      e2 = raised(net.listen, "no..such", 0, function() end)
      assert.matches("^EAI_", e2.code)
    end)

    it("names the bad argument", function()
      local h = function() end
      assert_bad(function() net.connect(80, 80) end, "bad argument #1 to 'connect' %(host: string expected, got number%)")
      assert_bad(function() net.connect(LOCAL) end, "bad argument #2 to 'connect' %(port: number expected, got nil%)")
      assert_bad(function() net.connect(LOCAL, 65536) end, "bad argument #2 to 'connect' .*got 65536%)")
      assert_bad(function() net.connect(LOCAL, -1) end, "bad argument #2 to 'connect' .*got %-1%)")
      assert_bad(function() net.connect(LOCAL, 80.5) end, "bad argument #2 to 'connect' .*got 80%.5%)")
      assert_bad(function() net.connect(LOCAL, "80") end, "bad argument #2 to 'connect' .*got string%)")
      assert_bad(function() net.connect(LOCAL, 1e300) end, "bad argument #2 to 'connect' .*got 1e%+300%)")
      assert_bad(function() net.connect(LOCAL, 0 / 0) end, "bad argument #2 to 'connect'")
      assert_bad(function() net.connect(LOCAL, 80, "fast") end, "bad argument #3 to 'connect' %(table of options expected, got string%)")
      assert_bad(function() net.listen(nil, 0, h) end, "bad argument #1 to 'listen' %(host: string expected, got nil%)")
      assert_bad(function() net.listen(LOCAL, 70000, h) end, "bad argument #2 to 'listen'")
      assert_bad(function() net.listen(LOCAL, 0, "h") end, "bad argument #3 to 'listen' %(function expected, got string%)")
      assert_bad(function() net.listen(LOCAL, 0, h, true) end, "bad argument #4 to 'listen' %(table of options expected, got boolean%)")
      assert_bad(function() net.connect(LOCAL, 80, { high_water_mark = 0 }) end,
        "bad argument #3 to 'connect' %(option 'high_water_mark' must be a whole number from 1 to 1073741824, got 0%)")
      assert_bad(function() net.connect(LOCAL, 80, { signal = true }) end,
        "bad argument #3 to 'connect' %(option 'signal' must be an abort signal, got boolean%)")
      assert_bad(function() net.listen(LOCAL, 0, h, { backlog = "many" }) end,
        "bad argument #4 to 'listen' %(option 'backlog': number expected, got string%)")
      assert_bad(function() net.resolve({}) end, "bad argument #1 to 'resolve' %(host: string expected, got table%)")
    end)

    it("must be called inside a task to wait", function()
      local ctl = abort.controller()
      local e
      ctl.signal:on_abort(function() e = select(2, pcall(net.connect, LOCAL, 1)) end)
      ctl:abort()
      assert.matches("cannot wait", tostring(e))
    end)
  end)

  describe("with the auto clock", function()
    it("lets virtual time jump while a listener waits for connections", function()
      clock.auto()
      local server = echo_server()
      local t0 = clock.now()
      task.sleep(60000)
      asserts.elapsed(t0, 60000)
      server:close()
    end)

    it("lets virtual time jump while a read waits for data, and the read still gets it", function()
      clock.auto()
      local server = echo_server()
      local c = net.connect(LOCAL, server.port)
      local reader = task.spawn(function() return c:read() end)
      task.sleep(1000)
      c:write("late")
      assert.equal("late", reader:await())
      c:close()
      server:close()
    end)
  end)
end)
