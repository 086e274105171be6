-- ebb.net's UDP sockets (net.udp): datagrams sent and received by tasks,
-- host names resolved as net.connect resolves them, and a bounded queue for
-- what arrives while no task waits (past it, arrivals are dropped and counted).
local getmetatable = debug.getmetatable -- recorded right by the JIT for every value (docs/rules.md)
local core = require "ebb.udp.core"
local check = require "ebb.check"
local errors = require "ebb.errors"

local type, error, setmetatable, getmetatable, find, format =
  type, error, setmetatable, getmetatable, string.find, string.format
local c_send, c_recv, c_bind, c_connect = core.send, core.recv, core.bind, core.connect
local is_signal = check.is_signal

local udp = {}

local ClosedError = errors.class("SocketClosedError")
udp.ClosedError = ClosedError

local UDPSocket = {}
UDPSocket.__index = UDPSocket
udp.UDPSocket = UDPSocket

local kind = check.kind
local NEW = { type = kind.one_of("udp4", "udp6"), max_queued = kind.whole(0, check.MAX_WHOLE) }
local BIND = { reuse_address = kind.boolean, ipv6_only = kind.boolean, signal = kind.signal }
local CONNECT = { signal = kind.signal }
local RECV = { signal = kind.signal, timeout = kind.ms }
local DATAGRAMS = { signal = kind.signal }
local FAMILY = { udp4 = 4, udp6 = 6 }
local MAX_QUEUED = 1024

local function check_socket(s, fname, level)
  if getmetatable(s) ~= UDPSocket then check.self(s, UDPSocket, fname, "UDP socket", (level or 1) + 1) end
end

-- "127.0.0.1:53", "[::1]:53"
local function endpoint(ip, port)
  return format(find(ip, ":", 1, true) and "[%s]:%d" or "%s:%d", ip, port)
end

local function system_error(code, msg, syscall, address, port)
  if address == nil then return check.system_error(code, msg, syscall) end
  return check.system_error(code, msg, syscall, endpoint(address, port), { address = address, port = port })
end

local function closed_error(what, level)
  error(ClosedError(what .. " on a closed socket"), level + 1)
end

-- Reads the socket's own address (and its peer's, once connected) into its fields.
local function describe(s)
  local ip, port, family = core.address(s._h, false)
  if ip then s.address, s.port, s.type = ip, port, family end
  ip, port = core.address(s._h, true)
  s.remote_address, s.remote_port = ip, port
end

-- udp([{type=, max_queued=}]) -> a UDP socket, not bound yet.
function udp.udp(opts)
  opts = check.options(opts, 1, "udp", NEW)
  local h, code, msg = core.new(FAMILY[opts.type] or 0, opts.max_queued or MAX_QUEUED)
  if not h then error(system_error(code, msg, "socket"), 2) end
  return setmetatable({ _h = h, type = opts.type, closed = false }, UDPSocket)
end

-- The first address host resolves to in the socket's family (any, while it has none).
local function resolve(s, host, signal)
  local ips = require("ebb.net")._resolve(host, signal)
  local v6 = s.type and s.type == "udp6"
  for i = 1, #ips do
    if v6 == nil or v6 == (find(ips[i], ":", 1, true) ~= nil) then return ips[i] end
  end
  error(check.system_error("EAI_ADDRFAMILY", "no address of the socket's family (" .. (s.type or "any") .. ")",
    "getaddrinfo", host, { hostname = host }), 0)
end

-- f(h, host, port, ...) of the C half; given a name (it answers nothing),
-- the name is resolved and f called again: its result, and the ip used.
local function at(s, f, host, port, signal, ...)
  local ok, code, msg = f(s._h, host, port, ...)
  if ok ~= nil or code ~= nil then return ok, code, msg, host end
  local ip = resolve(s, host, signal)
  ok, code, msg = f(s._h, ip, port, ...)
  return ok, code, msg, ip
end

-- The checks bind and connect share: their options.
local function check_place(s, fname, host, port, min_port, opts, valid)
  check_socket(s, fname, 2)
  check.cstring(host, 1, fname, "host", 2)
  check.whole(port, 2, fname, "port", min_port, 65535, 2)
  opts = check.options(opts, 3, fname, valid, 2) -- not a tail call: it would lose a level
  if s.closed then closed_error(fname, 3) end
  return opts
end

-- bind or connect (fname) at host, resolved, and port; the fields follow.
local function place(s, fname, f, host, port, opts, ...)
  local ok, code, msg, ip = at(s, f, host, port, opts.signal, ...)
  if not ok then error(system_error(code, msg, fname, ip, port), 3) end
  describe(s)
end

-- bind(host, port [, {reuse_address=, ipv6_only=, signal=}]) -> the socket.
function UDPSocket:bind(host, port, opts)
  opts = check_place(self, "bind", host, port, 0, opts, BIND)
  if self.port then error(system_error("EINVAL", "the socket is bound already", "bind", host, port), 2) end
  place(self, "bind", c_bind, host, port, opts, opts.reuse_address, opts.ipv6_only)
  return self
end

-- connect(host, port [, {signal=}]): sends without an address go there, and
-- only its datagrams are received.
function UDPSocket:connect(host, port, opts)
  place(self, "connect", c_connect, host, port, check_place(self, "connect", host, port, 1, opts, CONNECT))
end

function UDPSocket:disconnect()
  check_socket(self, "disconnect")
  if self.closed then closed_error("disconnect", 2) end
  local ok, code, msg = core.disconnect(self._h)
  if not ok then error(system_error(code, msg, "disconnect"), 2) end
  self.remote_address, self.remote_port = nil, nil
end

-- send(data, host, port [, signal]), or send(data [, signal]) once connected:
-- returns once the datagram is sent.
function UDPSocket:send(data, host, port, signal)
  check_socket(self, "send")
  if type(data) ~= "string" then check.expected(data, 1, "send", "string") end
  if type(host) == "string" then
    check.cstring(host, 2, "send", "host")
    check.whole(port, 3, "send", "port", 1, 65535)
    check.opt_signal(signal, 4, "send")
  elseif port ~= nil or signal ~= nil then
    check.cstring(host, 2, "send", "host")
  else
    if host ~= nil and not is_signal(host) then check.expected(host, 2, "send", "host string or abort signal") end
    host, signal = nil, host
  end
  if self.closed then closed_error("send", 2) end
  local ok, code, msg = c_send(self._h, data, host, port, signal)
  if ok == nil and code == nil then -- a name
    host = resolve(self, host, signal)
    ok, code, msg = c_send(self._h, data, host, port, signal)
  end
  if ok then
    if not self.port then describe(self) end -- bound by its first send
    return
  end
  if ok == false then error(code, 0) end
  if self.closed then error(ClosedError("the socket was closed while sending"), 2) end
  error(system_error(code, msg, "send", host or self.remote_address, port or self.remote_port), 2)
end

-- The next datagram: data, ip, port; nil once the socket is closed.
local function receive(s, timeout, signal, level)
  if s.closed then closed_error("recv", level + 1) end
  if not s.port then
    error(errors.Error("recv on a socket that is not bound: bind or connect it, or send from it, first"), level + 1)
  end
  local ok, data, ip, port = c_recv(s._h, timeout, signal)
  if ok then return data, ip, port end
  core.recv_ended(s._h)
  if ok == false then error(data, 0) end
  if data == "timeout" then
    error(errors.TimeoutError(format("no datagram within %g ms", timeout)), level + 1)
  end
  error(system_error(data, ip, "recv", s.remote_address or s.address, s.remote_port or s.port), level + 1)
end

-- recv([{signal=, timeout=}]) -> data, ip, port; nil when the socket is closed while waiting.
function UDPSocket:recv(opts)
  check_socket(self, "recv")
  local signal, timeout
  if opts ~= nil then
    check.options(opts, 1, "recv", RECV)
    signal, timeout = opts.signal, opts.timeout
  end
  return receive(self, timeout, signal, 2)
end

-- for data, ip, port in sock:datagrams([{signal=}]): ends once the socket is closed.
function UDPSocket:datagrams(opts)
  check_socket(self, "datagrams")
  local signal = check.options(opts, 1, "datagrams", DATAGRAMS).signal
  return function()
    if self.closed then return nil end
    return receive(self, nil, signal, 2)
  end
end

-- How many datagrams wait to be received; how many were dropped.
function UDPSocket:buffered()
  check_socket(self, "buffered")
  return (core.queued(self._h))
end

function UDPSocket:dropped()
  check_socket(self, "dropped")
  local _, dropped = core.queued(self._h)
  return dropped
end

-- ---- options ----

-- Calls set(h, ...) on a socket that has an address family.
local function set_option(s, fname, set, ...)
  if s.closed then closed_error(fname, 3) end
  if not s.type then
    error(errors.Error(fname .. ": the socket has no address family yet: bind it first, or make it with type = "
      .. '"udp4" or "udp6"'), 3)
  end
  local ok, code, msg = set(s._h, ...)
  if not ok then error(system_error(code, msg, "setsockopt"), 3) end
end

local function boolean_option(fname, set)
  return function(self, on)
    check_socket(self, fname)
    if type(on) ~= "boolean" then check.expected(on, 1, fname, "boolean") end
    set_option(self, fname, set, on)
  end
end

UDPSocket.set_broadcast = boolean_option("set_broadcast", core.set_broadcast)
UDPSocket.set_multicast_loopback = boolean_option("set_multicast_loopback", core.set_multicast_loopback)

function UDPSocket:set_ttl(ttl)
  check_socket(self, "set_ttl")
  check.whole(ttl, 1, "set_ttl", "ttl", 1, 255)
  set_option(self, "set_ttl", core.set_ttl, ttl)
end

function UDPSocket:set_multicast_ttl(ttl)
  check_socket(self, "set_multicast_ttl")
  check.whole(ttl, 1, "set_multicast_ttl", "ttl", 0, 255)
  set_option(self, "set_multicast_ttl", core.set_multicast_ttl, ttl)
end

function UDPSocket:set_multicast_interface(interface)
  check_socket(self, "set_multicast_interface")
  check.cstring(interface, 1, "set_multicast_interface", "interface")
  set_option(self, "set_multicast_interface", core.set_multicast_interface, interface)
end

local function buffer_size(fname, set)
  return function(self, bytes)
    check_socket(self, fname)
    check.whole(bytes, 1, fname, "bytes", 1, 2 ^ 31 - 1)
    set_option(self, fname, set, bytes)
  end
end

UDPSocket.set_recv_buffer_size = buffer_size("set_recv_buffer_size", core.set_recv_buffer_size)
UDPSocket.set_send_buffer_size = buffer_size("set_send_buffer_size", core.set_send_buffer_size)

local function membership(fname)
  local set = core[fname]
  return function(self, group, interface)
    check_socket(self, fname)
    check.cstring(group, 1, fname, "group")
    if interface ~= nil then check.cstring(interface, 2, fname, "interface") end
    set_option(self, fname, set, group, interface)
  end
end

UDPSocket.add_membership = membership("add_membership")
UDPSocket.drop_membership = membership("drop_membership")

-- At once: datagrams not yet received are dropped; a task waiting in recv
-- gets nil, one waiting in send a SocketClosedError.
function UDPSocket:close()
  check_socket(self, "close")
  if self.closed then return end
  self.closed = true
  core.close(self._h)
end
UDPSocket.__close = UDPSocket.close

function UDPSocket:__tostring()
  check_socket(self, "__tostring")
  local where = self.port and endpoint(self.address, self.port) or "not bound"
  if self.remote_address then where = where .. " to " .. endpoint(self.remote_address, self.remote_port) end
  return format("UDPSocket (%s%s)", where, self.closed and ", closed" or "")
end

return udp
