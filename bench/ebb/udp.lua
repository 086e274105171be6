-- udp: 100,000 ping-pongs over loopback UDP in one process. The server sends
-- back each datagram from a datagrams loop; the client sends a 64-byte ping
-- and waits for its pong, one at a time. Usage: udp.lua [count] (default 100000).
local net = require "ebb.net"
local task = require "ebb.task"

local count = tonumber(arg and arg[1]) or 100000
local ping = ("p"):rep(64)

local server = net.udp():bind("127.0.0.1", 0)
local serving = task.spawn(function()
  for data, address, port in server:datagrams() do server:send(data, address, port) end
end)

local client = net.udp():bind("127.0.0.1", 0)
local pongs = 0
for _ = 1, count do
  client:send(ping, "127.0.0.1", server.port)
  if client:recv() == ping then pongs = pongs + 1 end
end
client:close()
server:close()
serving:await()
print(("udp %d pongs %s"):format(pongs, pongs == count and "ok" or "short"))
