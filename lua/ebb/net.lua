-- ebb.net: TCP. connect gives a duplex stream (or one over a Unix-domain socket);
-- listen runs a handler task per connection and closes gracefully: it stops
-- accepting, then lets handlers end (or cancels them when a time limit or signal
-- says so).
local core = require "ebb.net.core"
local stream_core = require "ebb.iostream.core"
local iostream = require "ebb.iostream"
local task = require "ebb.task"
local host_core = require "ebb.core"
local check = require "ebb.check"
local tls = require "ebb.net_tls"

local error, setmetatable, pcall, pairs, next, type = error, setmetatable, pcall, pairs, next, type

local net = {}

local kind = check.kind
local HWM = kind.whole(1, 2 ^ 30)
local CONNECT = { signal = kind.signal, high_water_mark = HWM, nodelay = kind.boolean, tls = tls.client_kind }
local LISTEN = { backlog = kind.whole(1, 2 ^ 31 - 1), high_water_mark = HWM, nodelay = kind.boolean,
  tls = tls.server_kind }
net.TLSError = tls.TLSError

local function check_args(fname, host, port, opts, opts_pos, valid)
  check.cstring(host, 1, fname, "host", 2)
  check.whole(port, 2, fname, "port", 0, 65535, 2)
  opts = check.options(opts, opts_pos, fname, valid, 2) -- not a tail call: it would lose a level
  return opts
end

local function system_error(code, msg, syscall, address, port)
  return check.system_error(code, msg, syscall, ("%s:%d"):format(address, port), { address = address, port = port })
end

local function resolve_failed(host, _, code, msg)
  error(check.system_error(code, msg, "getaddrinfo", host, { hostname = host }), 0)
end

-- The host's IP addresses, through libuv's getaddrinfo.
local function resolve(host, signal)
  return check.result(resolve_failed, host, nil, core.resolve(host, signal))
end

net._resolve = resolve -- for net.udp

local RESOLVE = { signal = kind.signal }

-- resolve(host [, {signal=}]) -> the host's IP addresses.
function net.resolve(host, opts)
  check.cstring(host, 1, "resolve", "host")
  opts = check.options(opts, 2, "resolve", RESOLVE)
  return resolve(host, opts.signal)
end

local function describe(s, conn, peer)
  local ip, port = core.address(s, peer)
  if ip then
    if peer then conn.remote_address, conn.remote_port = ip, port
    else conn.local_address, conn.local_port = ip, port end
  end
end

local function wrap(s, name, opts)
  local conn = iostream.wrap(s, { name = name, high_water_mark = opts.high_water_mark })
  describe(s, conn, false)
  describe(s, conn, true)
  if not name and conn.remote_address then -- a server's end: named by its peer
    conn.name = ("%s:%d"):format(conn.remote_address, conn.remote_port)
  end
  if opts.nodelay then core.set_nodelay(s, true) end
  return conn
end

local CONNECT_PATH = { path = kind.cstring, signal = kind.signal, high_water_mark = HWM }

local function path_failed(path, _, code, msg)
  error(check.system_error(code, msg, "connect", path, { path = path }), 0)
end

-- connect{path=, signal=, high_water_mark=} -> a duplex stream over a Unix-domain
-- socket; reached by a tail call, so its checks count levels as net.connect's.
local function connect_path(opts, extra)
  opts = check.options(opts, 1, "connect", CONNECT_PATH)
  if extra ~= nil then check.badarg(2, "connect", "no second argument expected after a table of options") end
  if opts.path == nil then check.badarg(1, "connect", "option 'path' expected (a Unix-domain socket's path)") end
  if opts.path == "" then check.badarg(1, "connect", "option 'path' must not be empty") end
  local s = check.result(path_failed, opts.path, nil, core.connect_path(opts.path, opts.signal))
  return iostream.wrap(s, { name = opts.path, high_water_mark = opts.high_water_mark })
end

-- connect(host, port [, {signal=, high_water_mark=, nodelay=}]) -> a duplex
-- stream. Each address the name resolves to is tried in turn.
function net.connect(host, port, opts)
  if type(host) == "table" then return connect_path(host, port) end
  opts = check_args("connect", host, port, opts, 3, CONNECT)
  local signal = opts.signal
  local ctx = opts.tls and tls.client_context(opts.tls, signal)
  local ips = resolve(host, signal)
  local code, last, msg
  for i = 1, #ips do
    local ok, s
    ok, s, msg = core.connect(ips[i], port, signal)
    if ok and opts.tls then
      tls.connect(s, host, ips[i], port, opts.tls, ctx, signal)
      local conn = wrap(s, ("%s:%d"):format(ips[i], port), opts)
      tls.describe(conn, s)
      return conn
    end
    if ok then return wrap(s, ("%s:%d"):format(ips[i], port), opts) end
    if ok == false then error(s, 0) end
    code, last = s, ips[i]
  end
  error(system_error(code or "EAI_NONAME", msg or "no address", "connect", last or host, port), 2)
end

-- ---- servers ----

local Server = {}
Server.__index = Server

local function call(conn, handler) return handler(conn) end

local function serve(server, s, handler)
  local conn = wrap(s, nil, server._opts)
  local ok, err = pcall(server._tls and tls.serve or call, conn, handler, server)
  conn:close()
  server._live[task.current()] = nil
  server.connections = server.connections - 1
  net._settle(server)
  if not ok then error(err, 0) end
end

-- The servers of ebb.net and ebb.http share what follows: a listener, its
-- accept loop, and the graceful close.

-- Takes each new connection (a C stream) with take(server, s) until the
-- listener is closed.
function net._accept_loop(server, take)
  local h = server._h
  while true do
    local ok, s, msg = core.accept(h)
    if ok == false then return end -- cancelled: the server is closing
    if not ok then
      error(check.system_error(s, msg, "accept", ("%s:%d"):format(server.address, server.port)), 0)
    end
    if s == nil then return end -- the listener was closed
    take(server, s)
  end
end

-- A listener on host's first address (level: where a failure is raised):
-- the handle, the address and the port it listens on.
function net._listen(host, port, backlog, level)
  local ips = resolve(host)
  local h, code, msg = core.listen(ips[1], port, backlog)
  if not h then error(system_error(code, msg, "listen", ips[1], port), level + 1) end
  local address, actual = core.address(h, false)
  return h, address, actual
end

local function take_connection(server, s)
  server._live[task.spawn(serve, server, s, server._handler)] = true
  server.connections = server.connections + 1
end

-- listen(host, port, handler [, {backlog=, high_water_mark=, nodelay=}]) ->
-- server, listening once it returns (port 0: the system picks one, see
-- server.port). handler(conn) runs in its own task per connection; the
-- connection is closed when the handler returns or fails. A failing handler
-- is reported as any task's failure and does not stop the server.
function net.listen(host, port, handler, opts)
  opts = check_args("listen", host, port, opts, 4, LISTEN)
  check.callable(handler, 3, "listen")
  local ctx = opts.tls and tls.server_context(opts.tls) -- before the port is taken: it may fail
  local h, address, actual = net._listen(host, port, opts.backlog, 2)
  local server = setmetatable({
    _h = h, _opts = opts, _live = {}, _handler = handler, _tls = ctx, _handshaking = ctx and {},
    address = address, port = actual, connections = 0, closed = false,
  }, Server)
  server._accepting = task.spawn(net._accept_loop, server, take_connection)
  return server
end

-- Once closed, the handler tasks (server._live) have all ended: _idle resolves.
function net._settle(server)
  if server._idle and next(server._live) == nil then server._idle:resolve() end
end

-- Waits for the handlers; those left when the limit passes are cancelled
-- (server._cancelled says so). Then after(server), if given.
local function drain(server, timeout, signal, after)
  local idle = server._idle
  local ok, why = pcall(idle.await, idle, { timeout = timeout, signal = signal })
  if not ok then
    server._cancelled = true
    for t in pairs(server._live) do t:cancel(why) end
    idle:await()
  end
  if after then after(server) end
end

-- A graceful close: stop(server) once, at the first close (it stops taking
-- work), then drain. Called where it cannot wait (an abort listener), or by
-- one of the handlers it would wait for, it returns the task that does the
-- waiting.
function net._close(server, opts, stop, after)
  if not server.closed then
    server.closed = true
    stop(server)
    server._idle = task.future()
    net._settle(server)
  end
  local t = task.spawn(drain, server, opts.timeout, opts.signal, after)
  if host_core.can_wait() and not server._live[task.current()] then return t:await() end
  return t
end

-- close([{timeout=ms, signal=}]): stops accepting at once, then waits for the
-- handlers to end; those still running when the timeout passes or the signal
-- aborts are cancelled (and waited for).
net._CLOSE = { timeout = kind.ms, signal = kind.signal }

local function stop_accepting(server)
  stream_core.close(server._h)
  if server._tls then tls.stop_handshakes(server) end
end

function Server:close(opts)
  check.self(self, Server, "close", "server")
  opts = check.options(opts, 1, "close", net._CLOSE)
  return net._close(self, opts, stop_accepting)
end
Server.__close = Server.close

function Server:__tostring()
  check.self(self, Server, "__tostring", "server")
  return ("Server (%s:%d%s)"):format(self.address or "?", self.port or 0, self.closed and ", closed" or "")
end

-- udp([opts]) -> a UDP socket (ebb.net_udp).
local udp = require "ebb.net_udp"
net.udp, net.SocketClosedError = udp.udp, udp.ClosedError

return net
