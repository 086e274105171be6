-- UDP ping with a timeout and retries: a server that loses one datagram, a client that
-- sends again when no reply comes in time, and a ping to a port where nothing listens.
local net = require "ebb.net"
local task = require "ebb.task"
local retry = require "ebb.retry"
local errors = require "ebb.errors"

-- The server answers "pong N" to "ping N", but loses the first "ping 2" it gets.
local server = net.udp():bind("127.0.0.1", 0)
local lost = false
local serving = task.spawn(function()
  for data, address, port in server:datagrams() do
    local n = data:match("^ping (%d+)$")
    if n == "2" and not lost then
      lost = true
      print("  (server: lost " .. data .. ")")
    elseif n then
      server:send("pong " .. n, address, port)
    end
  end
end)

-- One ping: sent again, up to twice, while no reply comes within 100 ms.
local client = net.udp():bind("127.0.0.1", 0)
local function ping(n)
  return retry(function(attempt)
    client:send("ping " .. n, "127.0.0.1", server.port)
    local reply = client:recv({ timeout = 100 })
    return reply, attempt + 1
  end, {
    retries = 2, base = 0, jitter = "none",
    should_retry = function(err) return errors.is(err, errors.TimeoutError) end,
    on_retry = function(err) print(("ping %d: %s, sending again"):format(n, err.message)) end,
  })
end

for n = 1, 3 do
  local reply, attempts = ping(n)
  print(("ping %d: %s (attempt %d)"):format(n, reply, attempts))
end

-- A connected socket hears "port unreachable": the ping fails at once, not after the timeout.
local gone = net.udp():bind("127.0.0.1", 0)
local port = gone.port
gone:close()
local lonely = net.udp()
lonely:connect("127.0.0.1", port)
lonely:send("ping")
local ok, err = pcall(lonely.recv, lonely, { timeout = 5000 })
print("nobody there:", ok, err.code)

lonely:close()
client:close()
server:close() -- its datagrams loop ends
serving:await()
print(("server: %d datagrams dropped"):format(server:dropped()))
