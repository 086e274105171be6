-- Specs for TLS in ebb.net against other implementations: the openssl
-- command's s_server and s_client, and Node's tls (when node is installed),
-- over certificates made for the run (tls_support).
package.path = "spec/support/?.lua;" .. package.path
local net = require "ebb.net"
local task = require "ebb.task"
local process = require "ebb.process"
local io_support = require "io_support"
local tls_support = require "tls_support"
local read_all = io_support.read_all
local free_port = require("net_support").free_port

local LOCAL = "127.0.0.1"

describe("ebb.net over TLS, with other peers", function()
  local f, remove

  setup(function() f, remove = tls_support.make() end)
  teardown(function() remove() end)

  local function upper_server()
    return net.listen(LOCAL, 0, function(conn)
      for chunk in conn:chunks() do conn:write(chunk:upper()) end
      conn:finish()
    end, { tls = { cert_file = f.leaf, key_file = f.leaf_key } })
  end

  describe("against Node's tls", function()
    local function node_or_pending()
      if os.execute("command -v node >/dev/null 2>&1") then return true end
      pending("node is not installed: no peer to try")
    end

    it("connects to a Node server, agreeing on ALPN, and reads its echo to the end", function()
      if not node_or_pending() then return end
      local node = process.spawn("node", { "-e", [[
        const tls = require('node:tls'), fs = require('node:fs');
        const s = tls.createServer({ key: fs.readFileSync(process.argv[1]), cert: fs.readFileSync(process.argv[2]),
          ALPNProtocols: ['h2', 'http/1.1'] }, (sock) => {
          sock.write(`${sock.alpnProtocol} ${sock.servername}\n`);
          sock.pipe(sock);
        });
        s.listen(0, '127.0.0.1', () => console.log(s.address().port));
      ]], f.leaf_key, f.leaf }, { stderr = "ignore" })
      local port = tonumber(node.stdout:read():match("%d+"))
      local c = net.connect("localhost", port, { tls = { ca_file = f.ca, alpn = { "http/1.1" } } })
      assert.equal("http/1.1", c.alpn_protocol)
      c:write(("z"):rep(200000))
      c:finish()
      assert.equal("http/1.1 localhost\n" .. ("z"):rep(200000), read_all(c))
      c:close()
      node:close()
      node:wait()
    end)

    it("serves a Node client, which verifies the server", function()
      if not node_or_pending() then return end
      local server = upper_server()
      local r = process.run("node", { "-e", [[
        const tls = require('node:tls'), fs = require('node:fs');
        const c = tls.connect({ host: '127.0.0.1', port: Number(process.argv[2]), servername: 'localhost',
          ca: fs.readFileSync(process.argv[1]) }, () => { c.end('from node'); });
        let got = '';
        c.on('data', (d) => { got += d; });
        c.on('end', () => console.log(c.authorized, c.getProtocol(), got));
      ]], f.ca, tostring(server.port) })
      assert.equal(0, r.code, r.stderr)
      assert.matches("^true TLSv1%.3 FROM NODE\n$", r.stdout)
      server:close()
    end)
  end)

  describe("against the openssl command", function()
    it("talks to openssl s_server as a client, verifying it", function()
      local port = free_port()
      local server = process.spawn("openssl", { "s_server", "-accept", LOCAL .. ":" .. port, "-cert", f.leaf,
        "-key", f.leaf_key, "-rev", "-quiet" }, { stdout = "ignore", stderr = "ignore" })
      local c
      while not c do
        local ok, got = pcall(net.connect, "localhost", port, { tls = { ca_file = f.ca } })
        if ok then c = got else task.yield() end
      end
      c:write("hello\n")
      assert.equal("olleh\n", c:read())
      c:close()
      server:close()
      server:wait()
    end)

    it("serves openssl s_client, which verifies the server and agrees on ALPN", function()
      local server = net.listen(LOCAL, 0, function(conn)
        conn:write(conn:read():upper())
        conn:finish()
      end, { tls = { cert_file = f.leaf, key_file = f.leaf_key, alpn = { "h2", "http/1.1" } } })
      local r = process.run("openssl", { "s_client", "-connect", LOCAL .. ":" .. server.port, "-servername",
        "localhost", "-CAfile", f.ca, "-verify_return_error", "-alpn", "http/1.1", "-ign_eof" },
        { input = "ping\n" })
      assert.equal(0, r.code, r.stderr)
      assert.matches("ALPN protocol: http/1.1", r.stdout)
      assert.matches("Verify return code: 0 %(ok%)", r.stdout)
      assert.matches("\nPING\n", r.stdout)
      server:close()
    end)
  end)
end)
