-- Servers and helpers shared by the ebb.net specs.
local net = require "ebb.net"
local task = require "ebb.task"

local M = {}

M.LOCAL = "127.0.0.1"

-- A server that sends back what it reads, then half-closes.
function M.echo_server(opts)
  return net.listen(M.LOCAL, 0, function(conn)
    for chunk in conn:chunks() do conn:write(chunk) end
    conn:finish()
  end, opts)
end

-- A server whose handler holds every connection it gets, without reading, until
-- release() is called; conns[i] are the server-side ends.
function M.holding_server(opts)
  local conns, gate = {}, task.future()
  local server = net.listen(M.LOCAL, 0, function(conn)
    conns[#conns + 1] = conn
    gate:await()
  end, opts)
  return server, conns, function() gate:resolve() end
end

-- A port nobody listens on: one the system gave us, closed again.
function M.free_port()
  local server = net.listen(M.LOCAL, 0, function() end)
  local port = server.port
  server:close()
  return port
end

-- The server side of a new connection, once the handler has it.
function M.accepted(conns, n)
  while #conns < n do task.yield() end
  return conns[n]
end

return M
