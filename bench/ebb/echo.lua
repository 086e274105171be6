-- echo: 1 GiB echoed over loopback TCP in one process. The server pipes each
-- connection into itself (stream.pipeline(conn, conn)); the client writes one
-- 64 KiB string of random bytes 16,384 times from one task while the main
-- task reads the echo back and counts the bytes. Usage: echo.lua [MiB] (default 1024).
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

local server = net.listen("127.0.0.1", 0, function(conn)
  stream.pipeline(conn, conn)
end)

local conn = net.connect("127.0.0.1", server.port)
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
