-- Specs for TLS in ebb.net: connect and listen with the tls option, over
-- certificates made for the run (tls_support), between ebb's own ends
-- (net_tls_peers_spec.lua: against openssl and Node).
package.path = "spec/support/?.lua;" .. package.path
local net = require "ebb.net"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local task = require "ebb.task"
local clock = require "ebb.clock"
local fs = require "ebb.fs"
local stream = require "ebb.stream"
local asserts = require "asserts"
local io_support = require "io_support"
local tls_support = require "tls_support"
local process = require "ebb.process"
local run = require "run_ebb"
local raised, read_all = asserts.raised, io_support.read_all

local LOCAL = "127.0.0.1"

describe("ebb.net over TLS", function()
  local f, remove, server_tls, client_tls

  setup(function()
    f, remove = tls_support.make()
    server_tls = { cert_file = f.leaf, key_file = f.leaf_key }
    client_tls = { ca_file = f.ca }
  end)
  teardown(function() remove() end)

  local function upper_server(tls, seen)
    return net.listen(LOCAL, 0, function(conn)
      if seen then seen[#seen + 1] = conn end
      for chunk in conn:chunks() do conn:write(chunk:upper()) end
      conn:finish()
    end, { tls = tls or server_tls })
  end

  local function tls_error(fn, code)
    local e = raised(fn)
    assert.is_true(errors.is(e, net.TLSError), tostring(e))
    assert.is_true(errors.is(e, errors.SystemError))
    if code then assert.equal(code, e.code, tostring(e)) end
    return e
  end

  describe("a connection", function()
    it("echoes both ways, verified against the authority given, with SNI and the version seen", function()
      local seen = {}
      local server = upper_server(nil, seen)
      local c = net.connect("localhost", server.port, { tls = client_tls })
      assert.is_true(c.encrypted)
      assert.equal("localhost", c.servername)
      assert.matches("^TLSv1%.[23]$", c.tls_version)
      assert.is_string(c.cipher)
      c:write("hello, ")
      c:write("tls")
      c:finish()
      assert.equal("HELLO, TLS", read_all(c))
      assert.equal("localhost", seen[1].servername)
      assert.is_true(seen[1].encrypted)
      c:close()
      server:close()
    end)

    it("checks an IP address against the certificate's, and sends no SNI for it", function()
      local seen = {}
      local server = upper_server(nil, seen)
      local c = net.connect(LOCAL, server.port, { tls = client_tls })
      assert.is_nil(c.servername)
      c:write("x")
      assert.equal("X", c:read())
      assert.is_nil(seen[1].servername)
      c:close()
      server:close()
    end)

    it("carries 8 MiB through an echo intact, in chunks no larger than the high water mark", function()
      local server = net.listen(LOCAL, 0, function(conn) stream.pipeline(conn, conn) end, { tls = server_tls })
      local c = net.connect("localhost", server.port, { tls = client_tls })
      local block = {}
      for i = 1, 65536 do block[i] = string.char(i * 7 % 256) end
      block = table.concat(block)
      local sent = {}
      for i = 1, 128 do sent[i] = block:sub(i + 1) .. block:sub(1, i) end -- each 64 KiB, each different
      local writer = task.spawn(function()
        for i = 1, #sent do c:write(sent[i]) end
        c:finish()
      end)
      local got, largest = {}, 0
      for chunk in c:chunks() do
        got[#got + 1] = chunk
        largest = math.max(largest, #chunk)
      end
      writer:await()
      assert.is_true(table.concat(got) == table.concat(sent))
      assert.is_true(largest <= 65536)
      c:close()
      server:close()
    end)

    it("waits to write while the peer does not read, and loses nothing once it does", function()
      local gate, received = task.future(), {}
      local server = net.listen(LOCAL, 0, function(conn)
        gate:await()
        for chunk in conn:chunks() do received[#received + 1] = chunk end
      end, { tls = server_tls })
      local c = net.connect("localhost", server.port, { tls = client_tls })
      local chunk, sent, total = ("0123456789abcdef"):rep(4096), 0, 64 * 1024 * 1024
      local writer = task.spawn(function()
        while sent < total do
          c:write(chunk)
          sent = sent + #chunk
        end
        c:finish()
      end)
      while select(2, c:buffered()) <= c.high_water_mark do task.yield() end
      assert.is_true(sent < total) -- the writer waits: the peer reads nothing
      gate:resolve()
      writer:await()
      server:close()
      local data = table.concat(received)
      assert.equal(total, #data)
      assert.equal(chunk:rep(4), data:sub(1, 4 * #chunk))
      c:close()
    end)

    -- a server that reads to the end (the client's finish), then answers
    local function counting_server(tls)
      return net.listen(LOCAL, 0, function(conn)
        local n = #read_all(conn)
        conn:write("read " .. n)
      end, { tls = tls })
    end

    it("half-closes: the server reads the end (close_notify), then answers", function()
      local server = counting_server(server_tls)
      local c = net.connect("localhost", server.port, { tls = client_tls })
      c:write(("x"):rep(1000))
      c:finish()
      assert.equal("read 1000", read_all(c))
      c:close()
      server:close()
    end)

    it("speaks TLS 1.2 when the server goes no higher, half-close included", function()
      local server = counting_server({ cert_file = f.leaf, key_file = f.leaf_key, max_version = "TLSv1.2" })
      local c = net.connect("localhost", server.port, { tls = client_tls })
      assert.equal("TLSv1.2", c.tls_version)
      c:write(("y"):rep(100000))
      c:finish()
      assert.equal("read 100000", read_all(c))
      c:close()
      local e = tls_error(function()
        net.connect("localhost", server.port, { tls = { ca_file = f.ca, min_version = "TLSv1.3" } })
      end, "HANDSHAKE_FAILED")
      assert.matches("protocol version", e.message)
      server:close()
    end)

    it("ends a client's reads when the server closes the connection", function()
      local server = net.listen(LOCAL, 0, function(conn) conn:write("bye") end, { tls = server_tls })
      local c = net.connect("localhost", server.port, { tls = client_tls })
      assert.equal("bye", read_all(c))
      c:close()
      server:close()
    end)

    it("ends the client's reads when the server closes, handlers included", function()
      local started = task.future()
      local server = net.listen(LOCAL, 0, function(conn)
        started:resolve()
        conn:read()
      end, { tls = server_tls })
      local c = net.connect("localhost", server.port, { tls = client_tls })
      started:await()
      server:close({ timeout = 0 })
      assert.is_nil(c:read())
      c:close()
    end)
  end)

  describe("verification", function()
    it("refuses an authority it does not know (the system's store by default)", function()
      local server = upper_server()
      local e = tls_error(function() net.connect("localhost", server.port, { tls = true }) end,
        "UNABLE_TO_GET_ISSUER_CERT_LOCALLY")
      assert.matches("certificate verify failed: unable to get local issuer certificate, handshake 127%.0%.0%.1:%d+",
        e.message)
      assert.equal("handshake", e.syscall)
      assert.equal(server.port, e.port)
      server:close()
    end)

    -- tls = true in a child whose environment names the system's authorities
    local function connect_in_child(env)
      local code = ([[
        local net = require "ebb.net"
        local server = net.listen("127.0.0.1", 0, function(conn) conn:write("verified") end,
          { tls = { cert_file = %q, key_file = %q } })
        local c = net.connect("localhost", server.port, { tls = true })
        print(c:read())
        c:close()
        server:close()
      ]]):format(f.leaf, f.leaf_key)
      env.PATH = os.getenv("PATH")
      return process.run(run.BIN, { "-e", code }, { env = env })
    end

    it("trusts the system's authorities: the bundle SSL_CERT_FILE names, the directory SSL_CERT_DIR names", function()
      local r = connect_in_child({ SSL_CERT_FILE = f.ca, SSL_CERT_DIR = f.dir .. "/none" })
      assert.equal("verified\n", r.stdout, r.stderr)
      local hash = process.run("openssl", { "x509", "-hash", "-noout", "-in", f.ca }).stdout:match("%x+")
      fs.mkdir(f.dir .. "/hashed")
      fs.write_file(f.dir .. "/hashed/" .. hash .. ".0", fs.read_file(f.ca))
      r = connect_in_child({ SSL_CERT_DIR = f.dir .. "/hashed" })
      os.remove(f.dir .. "/hashed/" .. hash .. ".0")
      fs.rmdir(f.dir .. "/hashed")
      assert.equal("verified\n", r.stdout, r.stderr)
      r = connect_in_child({ SSL_CERT_DIR = f.dir .. "/none" })
      assert.matches("UNABLE_TO_GET_ISSUER_CERT_LOCALLY", r.stderr)
    end)

    it("refuses a name the certificate does not match, saying which name it expected", function()
      local server = upper_server()
      local e = tls_error(function()
        net.connect("localhost", server.port, { tls = { ca_file = f.ca, servername = "example.com" } })
      end, "HOSTNAME_MISMATCH")
      assert.matches("certificate verify failed: hostname mismatch %(expected example%.com%)", e.message)
      assert.equal("example.com", e.servername)
      server:close()
    end)

    it("refuses an expired certificate and a self-signed one", function()
      local server = upper_server({ cert_file = f.expired, key_file = f.leaf_key })
      local e = tls_error(function() net.connect("localhost", server.port, { tls = client_tls }) end,
        "CERT_HAS_EXPIRED")
      assert.matches("certificate has expired", e.message)
      server:close()
      server = upper_server({ cert_file = f.self, key_file = f.self_key })
      e = tls_error(function() net.connect("localhost", server.port, { tls = client_tls }) end,
        "DEPTH_ZERO_SELF_SIGNED_CERT")
      assert.matches("self%-signed certificate", e.message)
      server:close()
    end)

    it("connects to any certificate with verify = false, said explicitly", function()
      local server = upper_server({ cert_file = f.self, key_file = f.self_key })
      local c = net.connect("localhost", server.port, { tls = { verify = false } })
      c:write("ok")
      assert.equal("OK", c:read())
      c:close()
      server:close()
    end)

    it("takes PEM text as well as files, and a client certificate the server verifies", function()
      local seen = {}
      local server = upper_server({ cert = fs.read_file(f.leaf), key = fs.read_file(f.leaf_key),
        ca = fs.read_file(f.ca), verify = true }, seen)
      local c = net.connect("localhost", server.port,
        { tls = { ca = fs.read_file(f.ca), cert_file = f.leaf, key_file = f.leaf_key } })
      c:write("mutual")
      assert.equal("MUTUAL", c:read())
      c:close()
      local failed = task.future()
      server:close()
      server = net.listen(LOCAL, 0, function() end, { tls = { cert_file = f.leaf, key_file = f.leaf_key,
        ca_file = f.ca, verify = true, on_error = function(err) failed:resolve(err) end } })
      local c2 = net.connect("localhost", server.port, { tls = client_tls })
      local e = raised(c2.read, c2) -- TLS 1.3: the server's refusal comes after the client's handshake
      assert.equal("EPROTO", e.code)
      assert.matches("^EPROTO: TLS failed: tlsv13 alert certificate required, read 127%.0%.0%.1:%d+$", e.message)
      c2:close()
      assert.matches("certificate", tostring(failed:await()))
      server:close()
    end)
  end)

  describe("ALPN", function()
    it("agrees on the server's first choice among the client's, seen on both ends", function()
      local seen = {}
      local server = upper_server({ cert_file = f.leaf, key_file = f.leaf_key, alpn = { "http/1.1", "h2" } }, seen)
      local c = net.connect("localhost", server.port, { tls = { ca_file = f.ca, alpn = { "h2", "http/1.1" } } })
      assert.equal("http/1.1", c.alpn_protocol)
      c:finish()
      read_all(c)
      assert.equal("http/1.1", seen[1].alpn_protocol)
      c:close()
      local plain = net.connect("localhost", server.port, { tls = client_tls })
      assert.is_nil(plain.alpn_protocol) -- a client that offers none gets none
      plain:finish()
      read_all(plain)
      plain:close()
      server:close()
    end)

    it("fails the handshake when no protocol is in common", function()
      local server = upper_server({ cert_file = f.leaf, key_file = f.leaf_key, alpn = { "h2" } })
      local e = tls_error(function()
        net.connect("localhost", server.port, { tls = { ca_file = f.ca, alpn = { "spdy/1" } } })
      end, "HANDSHAKE_FAILED")
      assert.matches("no application protocol", e.message)
      server:close()
    end)
  end)

  describe("a peer that does not speak TLS", function()
    it("is a handshake failure for a client, saying so", function()
      local plain = net.listen(LOCAL, 0, function(conn)
        conn:write("HTTP/1.1 400 Bad Request\r\n\r\n")
        conn:read()
      end)
      local e = tls_error(function() net.connect("localhost", plain.port, { tls = client_tls }) end,
        "HANDSHAKE_FAILED")
      assert.matches("handshake failed: .*is the peer speaking TLS%?", e.message)
      plain:close()
    end)

    it("is told to the server's on_error, and its handler never runs", function()
      local failed, ran = task.future(), false
      local server = net.listen(LOCAL, 0, function() ran = true end,
        { tls = { cert_file = f.leaf, key_file = f.leaf_key, on_error = function(e) failed:resolve(e) end } })
      local c = net.connect(LOCAL, server.port)
      c:write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
      local e = failed:await()
      assert.is_true(errors.is(e, net.TLSError))
      assert.matches("handshake failed: http request %(is the peer speaking TLS%?%)", e.message)
      assert.is_nil(c:read())
      assert.is_false(ran)
      c:close()
      server:close()
    end)
  end)

  describe("cancel", function()
    local function silent_server()
      local got = task.future()
      local server = net.listen(LOCAL, 0, function(conn)
        got:resolve(conn:read()) -- the client's hello: it waits for the server's now
        read_all(conn)
      end)
      return server, got
    end

    it("ends a handshake at once when its signal aborts, closing the connection", function()
      clock.auto()
      local server = silent_server()
      local t0 = clock.now()
      local e = raised(net.connect, "localhost", server.port, { tls = client_tls, signal = abort.timeout(5000) })
      assert.is_true(errors.is(e, errors.TimeoutError))
      asserts.elapsed(t0, 5000)
      server:close({ timeout = 0 })
    end)

    it("ends a handshake when its task is cancelled", function()
      local server, got = silent_server()
      local t = task.spawn(net.connect, "localhost", server.port, { tls = client_tls })
      got:await()
      t:cancel()
      local e = raised(t.await, t)
      assert.is_true(errors.is(e, errors.AbortError))
      server:close({ timeout = 0 })
    end)

    it("times out a server's handshake that never comes (handshake_timeout)", function()
      clock.auto()
      local failed, ran = task.future(), false
      local server = net.listen(LOCAL, 0, function() ran = true end, { tls = { cert_file = f.leaf,
        key_file = f.leaf_key, handshake_timeout = 300, on_error = function(e) failed:resolve(e) end } })
      local c = net.connect(LOCAL, server.port)
      local t0 = clock.now()
      local e = failed:await()
      assert.equal("ETIMEDOUT", e.code)
      asserts.elapsed(t0, 300)
      assert.is_nil(c:read())
      assert.is_false(ran)
      c:close()
      server:close()
    end)

    it("cancels a server's handshakes when the server closes", function()
      local server = net.listen(LOCAL, 0, function() end, { tls = server_tls })
      local c = net.connect(LOCAL, server.port)
      while server.connections == 0 do task.yield() end
      server:close()
      assert.equal(0, server.connections)
      assert.is_nil(c:read())
      c:close()
    end)
  end)

  describe("bad input", function()
    it("names the option and the file of a certificate or key that cannot be used", function()
      local e = tls_error(function()
        net.listen(LOCAL, 0, function() end, { tls = { cert_file = f.leaf, key_file = f.dir .. "/none.pem" } })
      end, "ENOENT")
      assert.matches("option 'key_file' %(.*/none%.pem%): ENOENT: no such file or directory", e.message)
      e = tls_error(function()
        net.listen(LOCAL, 0, function() end, { tls = { cert_file = f.leaf_key, key_file = f.leaf_key } })
      end, "BAD_CERTIFICATE")
      assert.matches("option 'cert_file' %(.*leaf%.key%): no PEM certificate in it", e.message)
      e = tls_error(function()
        net.listen(LOCAL, 0, function() end, { tls = { cert_file = f.leaf, key_file = f.other_key } })
      end, "BAD_KEY")
      assert.matches("option 'key_file' %(.*other%.key%): the key does not match the certificate", e.message)
      e = tls_error(function() net.connect(LOCAL, 1, { tls = { ca = "not a certificate" } }) end, "BAD_CA")
      assert.matches("option 'ca': no PEM certificate in it", e.message)
    end)

    asserts.each_bad(it, {
      { "a server without a certificate", function() net.listen(LOCAL, 0, function() end, { tls = true }) end,
        "bad argument #4 to 'listen' %(option 'tls' must be a table with cert and key, got boolean%)" },
      { "a server without a key", function() net.listen(LOCAL, 0, function() end, { tls = { cert = "x" } }) end,
        "option 'tls' needs 'key' or 'key_file' for a server" },
      { "an unknown TLS option", function() net.connect(LOCAL, 1, { tls = { verfy = false } }) end,
        "bad argument #3 to 'connect' %(option 'tls' has unknown option 'verfy'; valid TLS options: alpn, ca, " },
      { "both a PEM text and a file", function() net.connect(LOCAL, 1, { tls = { ca = "x", ca_file = "y" } }) end,
        "option 'tls' may give 'ca' or 'ca_file', not both" },
      { "a file name with a NUL byte", function() net.connect(LOCAL, 1, { tls = { ca_file = "a\0b" } }) end,
        "option 'tls' field 'ca_file' must not contain a NUL byte" },
      { "a servername with a NUL byte", function() net.connect(LOCAL, 1, { tls = { servername = "a\0b" } }) end,
        "option 'tls' field 'servername' must not contain a NUL byte" },
      { "an empty ALPN list", function() net.connect(LOCAL, 1, { tls = { alpn = {} } }) end,
        "field 'alpn' must name at least one protocol" },
      { "an ALPN name too long", function() net.connect(LOCAL, 1, { tls = { alpn = { ("x"):rep(256) } } }) end,
        "field 'alpn' must be a list of protocol names of 1 to 255 bytes, got .* at 1" },
      { "a version TLS no longer allows", function() net.connect(LOCAL, 1, { tls = { min_version = "TLSv1.1" } }) end,
        "field 'min_version' must be \"TLSv1.2\" or \"TLSv1.3\", got TLSv1.1" },
      { "versions the wrong way round", function()
        net.connect(LOCAL, 1, { tls = { min_version = "TLSv1.3", max_version = "TLSv1.2" } })
      end, "option 'tls' has min_version above max_version" },
      { "tls of another kind", function() net.connect(LOCAL, 1, { tls = "yes" }) end,
        "option 'tls' must be true or a table of TLS options, got string" },
    })
  end)
end)
