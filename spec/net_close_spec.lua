-- Specs for ebb.net: closing a connection and a server, aborts and cancellation.
package.path = "spec/support/?.lua;" .. package.path
local io_support = require "io_support"
local read_all, started = io_support.read_all, io_support.started
local net = require "ebb.net"
local stream = require "ebb.stream"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local task = require "ebb.task"
local clock = require "ebb.clock"
local scope = require "ebb.scope"
local asserts = require "asserts"
local raised = asserts.raised -- calls fn(...), which must raise; returns what it raised
local assert_bad = asserts.bad_at("net_close_spec%.lua")
local run = require "run_ebb"

local net_support = require "net_support"
local LOCAL, echo_server = net_support.LOCAL, net_support.echo_server
local holding_server, accepted = net_support.holding_server, net_support.accepted

describe("ebb.net", function()
  describe("close", function()
    it("ends a read waiting in another task with nil", function()
      local server, conns, release = holding_server()
      local c = net.connect(LOCAL, server.port)
      local reader = started(c.read, c)
      assert.equal("running", reader.status)
      c:close()
      assert.is_nil(reader:await())
      assert.equal("read from a closed stream", tostring(raised(c.read, c)):match("read from a closed stream"))
      assert.is_true(errors.is(raised(c.read, c), stream.ClosedError))
      c:close() -- twice: nothing
      release()
      server:close()
      assert.equal(1, #conns)
    end)

    it("fails a write waiting in another task with a ClosedError", function()
      local server, _, release = holding_server()
      local c = net.connect(LOCAL, server.port, { high_water_mark = 1024 })
      local writer = started(function()
        while true do c:write(("w"):rep(65536)) end
      end)
      assert.equal("running", writer.status)
      c:close()
      local ok, e = pcall(writer.await, writer)
      assert.is_false(ok)
      assert.is_true(errors.is(e, stream.ClosedError), tostring(e))
      assert.is_true(errors.is(raised(c.write, c, "x"), stream.ClosedError))
      assert.is_true(errors.is(raised(c.finish, c), stream.ClosedError))
      assert.same({ 0, 0 }, { c:buffered() })
      release()
      server:close()
    end)

    it("refuses a write after finish, and answers reads after close with ClosedError", function()
      local server = echo_server()
      local c = net.connect(LOCAL, server.port)
      c:finish()
      c:finish() -- again: nothing
      local e = raised(c.write, c, "late")
      assert.is_true(errors.is(e, stream.ClosedError))
      assert.matches("write after finish", tostring(e))
      assert.equal("", read_all(c))
      c:close()
      assert.matches("closed", tostring(raised(c.read, c)))
      assert.matches("IOStream %(127%.0%.0%.1:%d+, closed%)", tostring(c))
      server:close()
    end)

    it("raises a bad chunk as an argument error", function()
      local server = echo_server()
      local c = net.connect(LOCAL, server.port)
      assert_bad(function() c:write(42) end, "bad argument #1 to 'write' %(string expected, got number%)")
      c:close()
      server:close()
    end)
  end)

  describe("server:close", function()
    it("stops accepting at once and waits for running handlers", function()
      local log = {}
      local server = net.listen(LOCAL, 0, function(conn)
        log[#log + 1] = "handler got " .. read_all(conn)
        conn:write("done")
      end)
      local port = server.port
      local c = net.connect(LOCAL, port)
      while server.connections < 1 do task.yield() end
      local closer = task.spawn(function()
        server:close()
        log[#log + 1] = "closed"
      end)
      task.yield()
      assert.is_true(server.closed)
      assert.equal("running", closer.status)
      local e = raised(net.connect, LOCAL, port) -- no longer listening
      assert.equal("ECONNREFUSED", e.code)
      c:write("last words")
      c:finish()
      closer:await()
      assert.same({ "handler got last words", "closed" }, log)
      assert.equal("done", read_all(c))
      assert.equal(0, server.connections)
      c:close()
      server:close() -- again: returns at once
    end)

    it("cancels handlers still running when the timeout passes", function()
      clock.freeze()
      local why
      local server = net.listen(LOCAL, 0, function(conn)
        local ok, e = pcall(conn.read, conn)
        why = e
        if not ok then error(e, 0) end
      end)
      local c = net.connect(LOCAL, server.port)
      while server.connections < 1 do task.yield() end
      local closer = started(server.close, server, { timeout = 1000 })
      clock.advance(999)
      assert.equal("running", closer.status)
      assert.is_nil(why)
      clock.advance(1)
      closer:await()
      assert.is_true(errors.is(why, errors.TimeoutError), tostring(why))
      assert.equal(0, server.connections)
      assert.is_nil(c:read()) -- the handler's end of the connection was closed
      c:close()
    end)

    it("cancels running handlers when its signal aborts", function()
      local why
      local server = net.listen(LOCAL, 0, function(conn)
        local ok, e = pcall(conn.read, conn)
        why = e
        if not ok then error(e, 0) end
      end)
      local c = net.connect(LOCAL, server.port)
      while server.connections < 1 do task.yield() end
      local ctl = abort.controller()
      local closer = started(server.close, server, { signal = ctl.signal })
      assert.equal("running", closer.status)
      ctl:abort("shutting down")
      closer:await()
      assert.equal("shutting down", why)
      assert.is_nil(c:read())
      c:close()
    end)

    it("returns the task doing the waiting when called where it cannot wait", function()
      local server = echo_server()
      local c = net.connect(LOCAL, server.port)
      while server.connections < 1 do task.yield() end
      local ctl = abort.controller()
      local closing
      ctl.signal:on_abort(function() closing = server:close() end)
      ctl:abort()
      assert.is_true(server.closed)
      assert.equal("table", type(closing))
      assert.equal("function", type(closing.await))
      c:finish()
      assert.equal("", read_all(c))
      closing:await()
      assert.equal(0, server.connections)
      c:close()
    end)

    it("validates its options", function()
      local server = echo_server()
      assert_bad(function() server:close(5) end, "bad argument #1 to 'close' %(table of options expected, got number%)")
      server:close()
    end)

    it("is disposed by a scope, as a connection is", function()
      local server, conn
      scope.run(function(s)
        server = s:use(echo_server())
        conn = s:use(net.connect(LOCAL, server.port))
        conn:write("scoped")
        conn:finish()
        assert.equal("scoped", read_all(conn))
      end)
      assert.is_true(conn.closed)
      assert.is_true(server.closed)
      assert.equal(0, server.connections)
      -- on an error too: the connection is closed first, so the server's wait ends
      local c2
      local e = raised(scope.run, function(s)
        local sv = s:use(net.listen(LOCAL, 0, function(conn2) read_all(conn2) end))
        c2 = s:use(net.connect(LOCAL, sv.port))
        while sv.connections < 1 do task.yield() end
        error("boom", 0)
      end)
      assert.equal("boom", e)
      assert.is_true(c2.closed)
    end)

    it("reports a failing handler as a task failure and keeps serving", function()
      local script = [[
        local net, task = require "ebb.net", require "ebb.task"
        local server = net.listen("127.0.0.1", 0, function(conn)
          if conn:read() == "fail" then error("handler failed", 0) end
          conn:write("ok")
        end)
        local c1 = net.connect("127.0.0.1", server.port)
        c1:write("fail")
        print("first", c1:read())
        local c2 = net.connect("127.0.0.1", server.port)
        c2:write("hi")
        print("second", c2:read())
        c1:close() c2:close() server:close()
      ]]
      local out, err = run.ebb("-e " .. run.quote(script))
      assert.equal("first\tnil\nsecond\tok\n", out)
      assert.matches("handler failed", err)
    end)
  end)

  describe("aborts and cancellation", function()
    it("raises an already aborted signal's reason from connect, read and write", function()
      local server = echo_server()
      local done = abort.aborted("no")
      assert.equal("no", raised(net.connect, LOCAL, server.port, { signal = done }))
      assert.equal("no", raised(net.resolve, "localhost", { signal = done }))
      local c = net.connect(LOCAL, server.port)
      assert.equal("no", raised(c.read, c, done))
      assert.equal("no", raised(c.write, c, "x", done))
      assert.equal(0, c.written)
      assert.equal("no", raised(c.finish, c, done))
      c:close()
      server:close()
    end)

    it("aborts a connect under way", function()
      local server = echo_server()
      local ctl = abort.controller()
      local connector = task.spawn(net.connect, LOCAL, server.port, { signal = ctl.signal })
      task.yield() -- it waits for the connection
      ctl:abort("give up")
      local ok, e = connector:result()
      if ok == nil then ok, e = pcall(connector.await, connector) end
      assert.is_false(ok)
      assert.equal("give up", e)
      server:close()
    end)

    it("closes a connection made for a task cancelled before it ran", function()
      local server, conns, release = holding_server()
      local b = net.connect(LOCAL, server.port)
      local pb = accepted(conns, 1)
      local connector
      -- one poll wakes this task (its read), then hands connector its
      -- connection: this task runs first and cancels connector
      local canceller = started(function()
        local chunk = b:read()
        connector:cancel()
        return chunk
      end)
      pb:write("x")
      connector = started(net.connect, LOCAL, server.port)
      assert.equal("x", canceller:await())
      local ok, e = pcall(connector.await, connector)
      assert.is_false(ok)
      assert.is_true(errors.is(e, errors.AbortError), tostring(e))
      -- the leak check of ebb test fails this spec if the connection stayed open
      b:close()
      release()
      server:close()
    end)

    it("aborts a waiting read with the signal's reason; the stream still works", function()
      local server = echo_server()
      local c = net.connect(LOCAL, server.port)
      local ctl = abort.controller()
      local reader = started(c.read, c, ctl.signal)
      assert.equal("running", reader.status)
      ctl:abort("stop reading")
      local ok, e = pcall(reader.await, reader)
      assert.is_false(ok)
      assert.equal("stop reading", e)
      c:write("still here")
      assert.equal("still here", c:read())
      c:close()
      server:close()
    end)

    it("aborts a waiting write with the signal's reason", function()
      local server, _, release = holding_server()
      local c = net.connect(LOCAL, server.port, { high_water_mark = 1024 })
      local ctl = abort.controller()
      local writer = started(function()
        while true do c:write(("w"):rep(65536), ctl.signal) end
      end)
      assert.equal("running", writer.status)
      ctl:abort("stop writing")
      local ok, e = pcall(writer.await, writer)
      assert.is_false(ok)
      assert.equal("stop writing", e)
      c:close()
      release()
      server:close()
    end)

    it("lets a task blocked in a read be cancelled", function()
      local server = echo_server()
      local c = net.connect(LOCAL, server.port)
      local reader = started(read_all, c)
      reader:cancel()
      local ok, e = pcall(reader.await, reader)
      assert.is_false(ok)
      assert.is_true(errors.is(e, errors.AbortError))
      c:write("after")
      assert.equal("after", c:read())
      c:close()
      server:close()
    end)
  end)
end)
