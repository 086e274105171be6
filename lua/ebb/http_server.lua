-- ebb.http's server: http.listen, its handler tasks and graceful close (see
-- ebb.http). C reads and parses the connections; here one task accepts them
-- and one takes each request whose head is read and spawns its handler.
local core = require "ebb.httpserver.core"
local net_core = require "ebb.net.core"
local net = require "ebb.net"
local stream_core = require "ebb.iostream.core"
local host_core = require "ebb.core"
local task = require "ebb.task"
local context = require "ebb.context"
local check = require "ebb.check"
local request = require "ebb.http_request"
local response = require "ebb.http_response"

local error, setmetatable, pcall, select, rawset = error, setmetatable, pcall, select, rawset
local spawn = task.spawn
local cur = host_core.cur
local c_next, c_abort, c_state = core.next, core.abort, core.state
local new_request, new_response = request.new, response.new

local M = {}

-- The id of the request the running task serves (1, 2, ... per server).
local request_id = context.new { name = "http.request_id" }
M.request_id = request_id

local kind = check.kind
local LISTEN = {
  backlog = kind.whole(1, 2 ^ 31 - 1),
  max_header_size = kind.whole(1, 2 ^ 30),
  max_body_size = kind.whole(0, 2 ^ 53),
  headers_timeout = kind.ms,
  request_timeout = kind.ms,
  keep_alive_timeout = kind.ms,
  nodelay = kind.boolean,
}

local HTTPServer = {}
HTTPServer.__index = HTTPServer


-- A handler that failed: a 500 when nothing was sent yet, else the response
-- is cut short. Whether to report it (by the task failing): not when the
-- client went away, the server answered bad input, or close cancelled it.
local function answer_failure(server, req, res)
  local sent, by_server = c_state(req._r)
  local cancelled = server._cancelled
  if not sent and not cancelled then
    res.status = 500
    res.finished = false
    rawset(res, "headers", nil) -- what the handler had set is not sent
    res.headers["Content-Type"] = "text/plain"
    res:finish("Internal Server Error")
  else
    c_abort(req._r)
  end
  local gone = select(4, core.info(req._r))
  return not (gone or cancelled or by_server)
end

local function handler_task(server, handler)
  return function(req)
    request_id:enter(req.id)
    local res = new_response(req._r)
    local ok, err = pcall(handler, req, res)
    if ok and not res.finished then ok, err = pcall(res.finish, res) end -- a bad res.status raises
    local report = not ok and answer_failure(server, req, res)
    server._live[cur[1]] = nil
    net._settle(server)
    if report then error(err, 0) end
  end
end

local function dispatch(server, handler)
  local h, live = server._c, server._live
  local run = handler_task(server, handler)
  while true do
    local r, method, url, id = c_next(h)
    if not r then return end -- closing, or cancelled
    if r ~= true then live[spawn(run, new_request(r, method, url, id))] = true end
  end
end

local function take_connection(server, s)
  if server._nodelay then net_core.set_nodelay(s, true) end
  core.attach(server._c, s)
end

-- listen(host, port, handler [, opts]) -> server (see ebb.http)
function M.listen(host, port, handler, opts)
  check.cstring(host, 1, "listen", "host")
  check.whole(port, 2, "listen", "port", 0, 65535)
  check.callable(handler, 3, "listen")
  opts = check.options(opts, 4, "listen", LISTEN)
  local h, address, actual = net._listen(host, port, opts.backlog, 2)
  local c = core.new(opts.max_header_size or 16384, opts.max_body_size or 16777216,
    opts.headers_timeout or 60000, opts.request_timeout or 300000, opts.keep_alive_timeout or 5000)
  local server = setmetatable({
    _h = h, _c = c, _live = {}, _nodelay = opts.nodelay ~= false,
    address = address, port = actual, closed = false,
  }, HTTPServer)
  server._accepting = spawn(net._accept_loop, server, take_connection)
  server._dispatching = spawn(dispatch, server, handler)
  return server
end

local function stop(server)
  stream_core.close(server._h)
  core.shutdown(server._c) -- idle connections close now, the others after their response
end

local function close_connections(server) core.close_all(server._c) end

-- close([{timeout=, signal=}]) (see ebb.http)
function HTTPServer:close(opts)
  check.self(self, HTTPServer, "close", "server")
  opts = check.options(opts, 1, "close", net._CLOSE)
  return net._close(self, opts, stop, close_connections)
end
HTTPServer.__close = HTTPServer.close

function HTTPServer:__tostring()
  check.self(self, HTTPServer, "__tostring", "server")
  return ("HTTPServer (%s:%d%s)"):format(self.address or "?", self.port or 0, self.closed and ", closed" or "")
end

return M
