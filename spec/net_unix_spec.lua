-- Specs for net.connect{path=}: streams over Unix-domain sockets (the peer: a
-- redis-server listening on one, started by the spec).
package.path = "spec/support/?.lua;" .. package.path
local net = require "ebb.net"
local fs = require "ebb.fs"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local asserts = require "asserts"
local server_support = require "redis_server"
local raised = asserts.raised
local assert_bad = asserts.bad_at("net_unix_spec%.lua")

describe("net.connect{path=}", function()
  it("connects to a Unix-domain socket and reads and writes as over TCP", function()
    local dir = fs.temp_dir()
    local sock = dir.path .. "/peer.sock"
    server_support.with(function()
      local conn = net.connect { path = sock, high_water_mark = 1024 }
      assert.equal("IOStream (" .. sock .. ")", tostring(conn))
      conn:write("PING\r\n")
      assert.equal("+PONG\r\n", conn:read())
      conn:close()
    end, { "--unixsocket", sock })
    dir:close()
  end)

  it("fails with the errno and the path, and on a signal already aborted", function()
    local dir = fs.temp_dir()
    local e = raised(net.connect, { path = dir.path .. "/none.sock" })
    assert.is_true(errors.is(e, errors.SystemError))
    assert.equal("ENOENT", e.code)
    assert.equal(dir.path .. "/none.sock", e.path)
    assert.matches("ENOENT: no such file or directory, connect .*none%.sock", e.message)
    e = raised(net.connect, { path = ("d/"):rep(60) .. "s" }) -- past sun_path's 108 bytes
    assert.equal("ENAMETOOLONG", e.code)
    e = raised(net.connect, { path = dir.path .. "/none.sock", signal = abort.aborted("early") })
    assert.equal("early", e)
    dir:close()
  end)

  it("refuses bad options naming them", function()
    assert_bad(function() net.connect {} end, "bad argument #1 to 'connect' %(option 'path' expected")
    assert_bad(function() net.connect { path = "a\0b" } end, "option 'path' must not contain a NUL byte")
    assert_bad(function() net.connect { path = "" } end, "bad argument #1 to 'connect' %(option 'path' must not be empty%)")
    assert_bad(function() net.connect { path = "x", nodelay = true } end, "unknown option 'nodelay'")
    assert_bad(function() net.connect({ path = "x" }, 5) end, "bad argument #2 to 'connect' %(no second argument")
  end)
end)
