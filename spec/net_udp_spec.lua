-- Specs for net.udp: datagrams over loopback, the receive queue and its
-- limit, cancellation, close, bad input and the socket options.
package.path = "spec/support/?.lua;" .. package.path
local net = require "ebb.net"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local task = require "ebb.task"
local clock = require "ebb.clock"
local core = require "ebb.core"
local asserts = require "asserts"
local raised = asserts.raised
local assert_bad = asserts.bad_at("net_udp_spec%.lua")

local LOCAL = "127.0.0.1"

local function bound(opts)
  return net.udp(opts):bind(LOCAL, 0)
end

-- A socket that sends back what it receives, upper-cased, until closed.
local function echo()
  local sock = bound()
  local t = task.spawn(function()
    for data, ip, port in sock:datagrams() do sock:send(data:upper(), ip, port) end
  end)
  return sock, t
end

-- ::1, when the machine has IPv6 on loopback; nil otherwise.
local function ipv6_socket()
  local sock = net.udp({ type = "udp6" })
  local ok = pcall(sock.bind, sock, "::1", 0)
  if ok then return sock end
  sock:close()
end

describe("net.udp", function()
  describe("sending and receiving", function()
    it("echoes over 127.0.0.1 with a system-chosen port, and names both ends", function()
      local server, t = echo()
      assert.equal(LOCAL, server.address)
      assert.is_true(server.port > 0)
      assert.equal("udp4", server.type)
      assert.equal("UDPSocket (127.0.0.1:" .. server.port .. ")", tostring(server))
      local client = bound()
      client:send("hello", LOCAL, server.port)
      local data, ip, port = client:recv({ timeout = 5000 })
      assert.same({ "HELLO", LOCAL, server.port }, { data, ip, port })
      server:close()
      t:await() -- the datagrams loop ended with the close
      client:close()
      assert.equal("UDPSocket (127.0.0.1:" .. server.port .. ", closed)", tostring(server))
    end)

    it("carries NUL bytes, an empty datagram and the largest one IPv4 takes", function()
      local a, b = bound(), bound()
      local big = ("\0x"):rep(65507 / 2) .. "\0"
      a:send("a\0b", LOCAL, b.port)
      a:send("", LOCAL, b.port)
      a:send(big, LOCAL, b.port)
      assert.equal("a\0b", b:recv())
      assert.equal("", b:recv())
      assert.equal(big, b:recv())
      a:close()
      b:close()
    end)

    it("is bound by its first send, and resolves host names", function()
      local server, t = echo()
      local client = net.udp()
      assert.equal("UDPSocket (not bound)", tostring(client))
      assert.is_nil(client.port)
      client:send("by name", "localhost", server.port)
      assert.is_true(client.port > 0)
      assert.equal("udp4", client.type)
      assert.equal("BY NAME", client:recv())
      server:close()
      t:await()
      client:close()
    end)

    it("works over ::1 when the machine has IPv6", function()
      local a = ipv6_socket()
      if not a then return pending("no IPv6 on loopback (::1): skipped") end
      local b = net.udp():bind("::1", 0)
      assert.equal("udp6", b.type)
      assert.equal("UDPSocket ([::1]:" .. b.port .. ")", tostring(b))
      local big = ("6"):rep(65527)
      a:send(big, "::1", b.port)
      local data, ip, port = b:recv()
      assert.same({ #big, "::1", a.port }, { #data, ip, port })
      a:close()
      b:close()
    end)

    it("receives many datagrams in order, none lost", function()
      local server = bound()
      local client = bound()
      local got = {}
      local reader = task.spawn(function()
        for data in server:datagrams() do
          got[#got + 1] = tonumber(data)
          if #got % 100 == 0 then server:send("ack", LOCAL, client.port) end
          if #got == 2000 then return end
        end
      end)
      for i = 1, 2000 do
        client:send(tostring(i), LOCAL, server.port)
        if i % 100 == 0 then assert.equal("ack", client:recv({ timeout = 5000 })) end
      end
      reader:await()
      for i = 1, 2000 do assert.equal(i, got[i]) end
      assert.equal(0, server:dropped())
      server:close()
      client:close()
    end)

    it("serves several waiting tasks first come, first served", function()
      local a, b = bound(), bound()
      local got = {}
      local tasks = {}
      for i = 1, 3 do
        tasks[i] = task.spawn(function() got[i] = b:recv() end)
      end
      task.yield()
      for i = 1, 3 do a:send("d" .. i, LOCAL, b.port) end
      for i = 1, 3 do tasks[i]:await() end
      assert.same({ "d1", "d2", "d3" }, got)
      a:close()
      b:close()
    end)
  end)

  describe("the receive queue", function()
    it("keeps what arrives while nobody waits, up to max_queued; then drops and counts", function()
      local a, b = bound(), bound({ max_queued = 3 })
      assert.equal(0, b:buffered())
      local first = task.spawn(function() return b:recv() end)
      task.yield() -- it waits: b reads from now on
      for i = 1, 10 do a:send("d" .. i, LOCAL, b.port) end
      assert.equal("d1", first:await())
      -- the next three were queued, the six after them dropped
      while b:buffered() + b:dropped() < 9 do task.yield() end
      assert.equal(3, b:buffered())
      assert.equal(6, b:dropped())
      assert.same({ "d2", "d3", "d4" }, { (b:recv()), (b:recv()), (b:recv()) })
      assert.equal(0, b:buffered())
      a:close()
      b:close()
    end)

    it("with max_queued 0 keeps nothing for later", function()
      local a, b = bound(), bound({ max_queued = 0 })
      local first = task.spawn(function() return b:recv() end)
      task.yield()
      a:send("one", LOCAL, b.port)
      a:send("two", LOCAL, b.port)
      assert.equal("one", first:await())
      while b:dropped() < 1 do task.yield() end
      assert.equal(0, b:buffered())
      a:close()
      b:close()
    end)

    it("gives a datagram back when its task is cancelled before it ran", function()
      local a, b = bound(), bound()
      local waiter = task.spawn(function() return b:recv() end)
      task.yield()
      a:send("first", LOCAL, b.port)
      a:send("second", LOCAL, b.port)
      -- once "second" is queued, "first" was handed to the waiter, which has not run
      while b:buffered() == 0 do task.yield() end
      waiter:cancel()
      assert.is_true(errors.is(raised(waiter.await, waiter), errors.AbortError))
      assert.equal("first", b:recv())
      assert.equal("second", b:recv())
      a:close()
      b:close()
    end)
  end)

  describe("cancellation", function()
    it("a signal ends a recv at once, and one already aborted takes nothing", function()
      local a, b = bound(), bound()
      local ctl = abort.controller()
      local t = task.spawn(function() return b:recv({ signal = ctl.signal }) end)
      task.yield()
      ctl:abort("stop")
      assert.equal("stop", raised(t.await, t))
      a:send("kept", LOCAL, b.port)
      while b:buffered() == 0 do task.yield() end -- b reads from its first recv on
      assert.equal("stop", raised(b.recv, b, { signal = ctl.signal }))
      assert.equal(1, b:buffered())
      assert.equal("stop", raised(b.send, b, "x", LOCAL, a.port, ctl.signal))
      assert.equal("kept", b:recv())
      a:close()
      b:close()
    end)

    it("a signal ends a send waiting on its name lookup, and nothing is sent", function()
      local b = bound()
      local ctl = abort.controller()
      local a = bound()
      local t = task.spawn(function() a:send("late", "localhost", b.port, ctl.signal) end)
      task.yield() -- it waits for the lookup
      ctl:abort("stop")
      assert.equal("stop", raised(t.await, t))
      a:send("after", LOCAL, b.port)
      assert.equal("after", b:recv())
      a:close()
      b:close()
    end)

    it("cancelling the task ends its recv, and the datagrams loop", function()
      local b = bound()
      local t = task.spawn(function()
        for _ in b:datagrams() do end
      end)
      task.yield()
      t:cancel("enough")
      assert.equal("enough", raised(t.await, t))
      b:close()
    end)

    it("times out on virtual time", function()
      clock.auto()
      local b = bound()
      local t0 = clock.now()
      local e = raised(b.recv, b, { timeout = 5000 })
      assert.is_true(errors.is(e, errors.TimeoutError))
      assert.equal("TimeoutError: no datagram within 5000 ms", tostring(e))
      asserts.elapsed(t0, 5000)
      b:close()
    end)

    it("a timeout, even 0 or on virtual time, first takes a datagram that has already arrived", function()
      local a, b = bound(), bound()
      assert.has_error(function() b:recv({ timeout = 0 }) end) -- nothing yet, and it starts reading
      a:send("one", LOCAL, b.port)
      a:send("two", LOCAL, b.port)
      assert.equal("one", (b:recv({ timeout = 0 })))
      clock.auto()
      local t0 = clock.now()
      assert.equal("two", (b:recv({ timeout = 5000 })))
      assert.equal(t0, clock.now())
      local e = raised(b.recv, b, { timeout = 0 })
      assert.equal("TimeoutError: no datagram within 0 ms", tostring(e))
      a:close()
      b:close()
    end)

    it("a timeout in the datagrams loop's signal ends it", function()
      clock.auto()
      local b = bound()
      local t0 = clock.now()
      local e = raised(function()
        for _ in b:datagrams({ signal = abort.timeout(250) }) do end
      end)
      assert.is_true(errors.is(e, errors.TimeoutError))
      asserts.elapsed(t0, 250)
      b:close()
    end)
  end)

  describe("close", function()
    it("ends the waiting recv with nil and the datagrams loop; later use raises", function()
      local b = bound()
      local got = "unset"
      local t1 = task.spawn(function() got = b:recv() end)
      local loops = 0
      local t2 = task.spawn(function()
        for _ in b:datagrams() do loops = loops + 1 end
      end)
      task.yield()
      b:close()
      t1:await()
      t2:await()
      assert.is_nil(got)
      assert.equal(0, loops)
      assert.is_true(b.closed)
      b:close() -- twice: nothing
      local e = raised(b.recv, b)
      assert.is_true(errors.is(e, net.SocketClosedError))
      assert.equal("SocketClosedError: recv on a closed socket", tostring(e))
      assert.is_true(errors.is(raised(b.send, b, "x", LOCAL, 9), net.SocketClosedError))
      assert.is_true(errors.is(raised(b.bind, b, LOCAL, 0), net.SocketClosedError))
      assert.is_true(errors.is(raised(b.set_ttl, b, 9), net.SocketClosedError))
      for _ in b:datagrams() do error("a closed socket has no datagrams") end
    end)

    it("is closed by the collector when nobody holds it", function()
      local before = core.stats().handles
      local function forget()
        local s = bound()
        s:send("x", LOCAL, s.port)
        s:send("queued", LOCAL, s.port)
        assert.equal("x", s:recv())
        while s:buffered() == 0 do task.yield() end -- dropped with the socket
      end
      forget()
      assert.equal(before + 1, core.stats().handles)
      collectgarbage()
      collectgarbage()
      task.yield()
      assert.equal(before, core.stats().handles)
    end)

    it("lets a script end with a socket left open that no task waits on (any more)", function()
      local run = require "run_ebb"
      local out, err, status = run.ebb("-e " .. run.quote([[
        local task = require "ebb.task"
        local s = require("ebb.net").udp():bind("127.0.0.1", 0)
        pcall(s.recv, s, { timeout = 1 })
        local waiting = task.spawn(s.recv, s)
        task.yield()
        waiting:cancel()
        s:send("x", "127.0.0.1", s.port)
        s:send("left in the queue at exit", "127.0.0.1", s.port)
        print(s:recv())
      ]]))
      assert.equal("", err)
      assert.equal(0, status)
      assert.matches("^x\t127%.0%.0%.1\t%d+\n$", out)
    end)
  end)

  describe("connected sockets", function()
    it("send without an address and receive only from the peer", function()
      local server, t = echo()
      local other = bound()
      local client = net.udp()
      client:connect(LOCAL, server.port)
      assert.equal(LOCAL, client.remote_address)
      assert.equal(server.port, client.remote_port)
      assert.is_true(client.port > 0)
      assert.matches(" to 127%.0%.0%.1:" .. server.port .. "%)$", tostring(client))
      other:send("stranger", LOCAL, client.port) -- not from the peer: the kernel drops it
      client:send("ping")
      assert.equal("PING", client:recv({ timeout = 5000 }))
      local e = raised(client.send, client, "x", LOCAL, server.port)
      assert.equal("EISCONN", e.code)
      client:disconnect()
      assert.is_nil(client.remote_address)
      e = raised(client.send, client, "x")
      assert.equal("EDESTADDRREQ", e.code)
      assert.equal("SystemError: EDESTADDRREQ: destination address required, send", tostring(e))
      server:close()
      t:await()
      other:close()
      client:close()
    end)

    it("hears ECONNREFUSED when nothing listens at the peer", function()
      local gone = bound()
      local port = gone.port
      gone:close()
      local client = bound()
      client:connect(LOCAL, port)
      client:send("anyone?")
      local e = raised(client.recv, client, { timeout = 5000 })
      assert.is_true(errors.is(e, errors.SystemError))
      assert.equal("ECONNREFUSED", e.code)
      assert.equal("recv", e.syscall)
      client:close()
    end)
  end)

  describe("options", function()
    it("sets broadcast, ttl and the multicast options on a typed socket before bind", function()
      local s = net.udp({ type = "udp4" })
      s:set_broadcast(true)
      s:set_ttl(64)
      s:set_multicast_ttl(0)
      s:set_multicast_loopback(true)
      s:set_multicast_interface(LOCAL)
      s:set_recv_buffer_size(2 ^ 20)
      s:set_send_buffer_size(65536)
      s:close()
    end)

    it("joins a multicast group and hears it over loopback", function()
      local group = "239.255.42.99"
      local member = net.udp({ type = "udp4" })
      member:bind(group, 0, { reuse_address = true })
      member:add_membership(group, LOCAL)
      local sender = net.udp({ type = "udp4" }):bind(LOCAL, 0)
      sender:set_multicast_interface(LOCAL)
      sender:set_multicast_ttl(0) -- never off this machine
      sender:send("to the group", group, member.port)
      assert.equal("to the group", member:recv({ timeout = 5000 }))
      member:drop_membership(group, LOCAL)
      member:close()
      sender:close()
    end)

    it("refuses options before the socket has a family, and EACCES for broadcast when off", function()
      local s = net.udp()
      local e = raised(s.set_ttl, s, 5)
      assert.matches("set_ttl: the socket has no address family yet", tostring(e))
      s:bind(LOCAL, 0)
      e = raised(s.send, s, "x", "127.255.255.255", s.port)
      assert.equal("EACCES", e.code)
      s:close()
    end)
  end)

  describe("bad input", function()
    it("names the argument", function()
      local s, u = bound(), net.udp()
      assert_bad(function() net.udp({ type = "udp5" }) end,
        "bad argument #1 to 'udp' %(option 'type' must be \"udp4\" or \"udp6\", got udp5%)")
      assert_bad(function() net.udp({ max_queue = 1 }) end, "bad argument #1 to 'udp' %(unknown option 'max_queue'; valid options: max_queued, type%)")
      assert_bad(function() u:bind(LOCAL, 70000) end, "bad argument #2 to 'bind' %(port must be a whole number from 0 to 65535, got 70000%)")
      assert_bad(function() u:bind("127.0.0.1\0", 0) end, "bad argument #1 to 'bind' %(host must not contain a NUL byte%)")
      assert_bad(function() u:bind(LOCAL, 0, { reuse = true }) end, "bad argument #3 to 'bind' %(unknown option 'reuse'")
      assert_bad(function() s:send("x", LOCAL, 0) end, "bad argument #3 to 'send' %(port must be a whole number from 1 to 65535, got 0%)")
      assert_bad(function() s:send("x", LOCAL, 65536) end, "bad argument #3 to 'send'")
      assert_bad(function() s:send(5, LOCAL, 9) end, "bad argument #1 to 'send' %(string expected, got number%)")
      assert_bad(function() s:send("x", nil, 9) end, "bad argument #2 to 'send' %(host: string expected, got nil%)")
      assert_bad(function() s:send("x", 5) end, "bad argument #2 to 'send' %(host string or abort signal expected, got number%)")
      assert_bad(function() s:send("x", LOCAL, 9, 5) end, "bad argument #4 to 'send' %(abort signal expected, got number%)")
      assert_bad(function() s:send(("x"):rep(65508), LOCAL, 9) end,
        "bad argument #1 to 'send' %(data must be at most 65507 bytes over IPv4, got 65508%)")
      assert_bad(function() s:send("x", "::1", 9) end, "bad argument #2 to 'send' %(host: an IPv6 address for an IPv4 socket%)")
      assert_bad(function() s:recv({ timeout = -1 }) end, "bad argument #1 to 'recv' %(option 'timeout' must be a non%-negative number")
      assert_bad(function() s:recv(5) end, "bad argument #1 to 'recv' %(table of options expected, got number%)")
      assert_bad(function() s:datagrams({ timeout = 1 }) end, "bad argument #1 to 'datagrams' %(unknown option 'timeout'; valid options: signal%)")
      assert_bad(function() s:connect(LOCAL, 0) end, "bad argument #2 to 'connect' %(port must be a whole number from 1 to 65535, got 0%)")
      assert_bad(function() s:set_ttl(0) end, "bad argument #1 to 'set_ttl' %(ttl must be a whole number from 1 to 255, got 0%)")
      assert_bad(function() s:set_multicast_ttl(256) end, "bad argument #1 to 'set_multicast_ttl'")
      assert_bad(function() s:set_recv_buffer_size(0) end,
        "bad argument #1 to 'set_recv_buffer_size' %(bytes must be a whole number from 1 to 2147483647, got 0%)")
      assert_bad(function() s:set_broadcast("yes") end, "bad argument #1 to 'set_broadcast' %(boolean expected, got string%)")
      assert_bad(function() s:add_membership("239.1.1.1\0") end, "bad argument #1 to 'add_membership' %(group must not contain a NUL byte%)")
      assert_bad(function() s.recv({}) end, "bad argument #1 to 'recv' %(UDP socket expected, got table%)")
      s:close()
      u:close()
    end)

    it("raises SystemErrors with the code for what the system refuses", function()
      local a = bound()
      local b = net.udp()
      local e = raised(b.bind, b, LOCAL, a.port)
      assert.equal("EADDRINUSE", e.code)
      assert.equal("bind", e.syscall)
      assert.equal(a.port, e.port)
      e = raised(a.bind, a, LOCAL, 0)
      assert.equal("EINVAL", e.code)
      assert.matches("bound already", e.message)
      e = raised(a.send, a, "x", "no..such", 9)
      assert.matches("^EAI_", e.code)
      assert.equal("no..such", e.hostname)
      local c = net.udp()
      assert.matches("recv on a socket that is not bound", tostring(raised(c.recv, c)))
      local six = net.udp({ type = "udp6" })
      assert_bad(function() six:bind(LOCAL, 0) end,
        "bad argument #1 to 'bind' %(host: an IPv4 address for an IPv6 socket %(write it ::ffff:a%.b%.c%.d%)%)")
      -- a name with no address of the socket's family (localhost may have ::1 too)
      local ok, why = pcall(six.bind, six, "localhost", 0)
      assert.is_true(ok or why.code == "EAI_ADDRFAMILY", tostring(why))
      six:close()
      assert_bad(function() a:add_membership("not a group") end,
        "bad argument #1 to 'add_membership' %(group: an IP address expected%)")
      e = raised(a.add_membership, a, "127.0.0.1")
      assert.equal("setsockopt", e.syscall)
      a:close()
      b:close()
      c:close()
    end)
  end)
end)
