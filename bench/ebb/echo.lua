-- echo: 1 GiB echoed over loopback TCP in one process. The server pipes each
-- connection into itself (stream.pipeline(conn, conn)); the client writes one
-- 64 KiB string of random bytes 16,384 times from one task while the main
-- task reads the echo back and counts the bytes. Usage: echo.lua [MiB] [DIR]
-- (default 1024). With DIR (ca.pem, and cert.pem and key.pem for localhost,
-- made by bench/run) the connection is TLS, the client verifying the server:
-- the tls-echo workload.
local net = require "ebb.net"
local stream = require "ebb.stream"
local task = require "ebb.task"

local CHUNK = 65536
local total = (tonumber(arg and arg[1]) or 1024) * 1024 * 1024
-- random bytes: all-equal bytes would let LuaJIT's string interning find
-- every chunk read already made (a memcmp instead of a new string)
local urandom = assert(io.open("/dev/urandom", "rb"))
local chunk = urandom:read(CHUNK)
urandom:close()

local dir = arg and arg[2]
local server = net.listen("127.0.0.1", 0, function(conn)
  stream.pipeline(conn, conn)
end, dir and { tls = { cert_file = dir .. "/cert.pem", key_file = dir .. "/key.pem" } })

local conn = net.connect(dir and "localhost" or "127.0.0.1", server.port, dir and { tls = { ca_file = dir .. "/ca.pem" } })
local writer = task.spawn(function()
  for _ = 1, total / CHUNK do conn:write(chunk) end
  conn:finish()
end)

local got = 0
for c in conn:chunks() do got = got + #c end
writer:await()
conn:close()
server:close()
print(("echo %d %s"):format(got, got == total and "ok" or "short"))
