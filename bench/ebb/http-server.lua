-- http-server: a small JSON response for every request, encoded each time, the server wrk loads.
-- Prints the port it listens on, then serves until stopped (bench/run sends
-- SIGTERM once wrk is done). Usage: http-server.lua [port] (default 0: the
-- system picks one)
local http = require "ebb.http"

local server = http.listen("127.0.0.1", tonumber(arg and arg[1]) or 0, function(_, res)
  res:json({ message = "Hello, World!" }) -- encoded for each request, as an API does
end)
print(server.port)
io.stdout:flush()
