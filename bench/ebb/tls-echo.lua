-- tls-echo: 256 MiB echoed through a TLS connection over loopback in one
-- process, as echo.lua does over plain TCP: the server (net.listen with a
-- certificate) pipes each connection into itself; the client (net.connect,
-- verifying the server against the test authority) writes one 64 KiB string
-- of random bytes 4,096 times from one task while the main task reads the
-- echo back and counts the bytes.
-- Usage: tls-echo.lua DIR [MiB] (default 256); DIR holds ca.pem, cert.pem,
-- key.pem (for localhost), made by bench/run.
local net = require "ebb.net"
local stream = require "ebb.stream"
local task = require "ebb.task"

local dir = assert(arg and arg[1], "usage: tls-echo.lua DIR [MiB]")
local CHUNK = 65536
local total = (tonumber(arg[2]) or 256) * 1024 * 1024
local urandom = assert(io.open("/dev/urandom", "rb"))
local chunk = urandom:read(CHUNK)
urandom:close()

local server = net.listen("127.0.0.1", 0, function(conn)
  stream.pipeline(conn, conn)
end, { tls = { cert_file = dir .. "/cert.pem", key_file = dir .. "/key.pem" } })

local conn = net.connect("localhost", server.port, { tls = { ca_file = dir .. "/ca.pem" } })
local writer = task.spawn(function()
  for _ = 1, total / CHUNK do conn:write(chunk) end
  conn:finish()
end)

local got = 0
for c in conn:chunks() do got = got + #c end
writer:await()
conn:close()
server:close()
print(("tls-echo %d %s"):format(got, got == total and "ok" or "short"))
