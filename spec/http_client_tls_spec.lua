-- Specs for ebb.http's client over HTTPS: a local TLS server (openssl
-- s_server) with a self-signed certificate made for the spec is refused by
-- default, and trusted with ca_file.
package.path = "spec/support/?.lua;" .. package.path
local http = require "ebb.http"
local errors = require "ebb.errors"
local process = require "ebb.process"
local net = require "ebb.net"
local fs = require "ebb.fs"
local task = require "ebb.task"
local asserts = require "asserts"

local free_port = require("net_support").free_port

describe("ebb.http client over HTTPS", function()
  local dir, server, url

  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    fs.mkdir(dir)
    local made = process.run("openssl", { "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
      dir .. "/key.pem", "-out", dir .. "/cert.pem", "-days", "2", "-subj", "/CN=127.0.0.1",
      "-addext", "subjectAltName=IP:127.0.0.1" })
    assert.equal(0, made.code, made.stderr)
    local port = free_port()
    server = process.spawn("openssl", { "s_server", "-accept", "127.0.0.1:" .. port, "-cert", dir .. "/cert.pem",
      "-key", dir .. "/key.pem", "-www" }, { stdout = "ignore", stderr = "ignore" })
    -- it listens once a connection is taken (one that s_server then serves and drops)
    while not pcall(function() net.connect("127.0.0.1", port):close() end) do task.yield() end
    url = ("https://127.0.0.1:%d/"):format(port)
  end)

  teardown(function()
    server:close()
    server:wait()
    for _, name in ipairs({ "key.pem", "cert.pem" }) do os.remove(dir .. "/" .. name) end
    fs.rmdir(dir)
  end)

  it("refuses a server whose certificate it cannot verify", function()
    local e = asserts.raised(http.fetch, url)
    assert.is_true(errors.is(e, http.HTTPError))
    assert.equal("PEER_FAILED_VERIFICATION", e.code)
    assert.matches("certificate", e.message)
  end)

  it("trusts the certificate authority given as ca_file", function()
    local res = http.fetch(url, { ca_file = dir .. "/cert.pem" })
    assert.equal(200, res.status)
    assert.equal("1.0", res.http_version)
    assert.matches("<HTML>", res:text())
  end)

  it("speaks HTTP/2 to a server that offers it, many requests over one connection", function()
    if not os.execute("command -v node >/dev/null 2>&1") then
      pending("node is not installed: no HTTP/2 server to try")
      return
    end
    local node = process.spawn("node", { "-e", [[
      const http2 = require('node:http2'), fs = require('node:fs');
      let sessions = 0;
      const s = http2.createSecureServer({ key: fs.readFileSync(process.argv[1]), cert: fs.readFileSync(process.argv[2]) },
        (req, res) => res.end(`HTTP/${req.httpVersion} ${sessions}`));
      s.on('session', () => sessions++);
      s.listen(0, '127.0.0.1', () => console.log(s.address().port));
    ]], dir .. "/key.pem", dir .. "/cert.pem" }, { stderr = "ignore" })
    local port = tonumber(node.stdout:read():match("%d+"))
    local h2 = ("https://127.0.0.1:%d/"):format(port)
    local tasks = {}
    for i = 1, 10 do
      tasks[i] = task.spawn(function()
        local res = http.fetch(h2, { ca_file = dir .. "/cert.pem" })
        assert.equal("2", res.http_version)
        assert.equal("", res.status_text)
        return res:text()
      end)
    end
    for i = 1, 10 do assert.equal("HTTP/2.0 1", tasks[i]:await()) end
    node:close()
    node:wait()
  end)
end)
