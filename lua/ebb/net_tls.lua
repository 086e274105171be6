-- ebb.net's TLS: the tls option of connect and listen checked and made into
-- an OpenSSL context (ebb.tls.core), the handshake on a new connection, its
-- failures as TLSErrors. The encryption itself is C's (bindings/tls_stream.c).
local core = require "ebb.tls.core"
local stream_core = require "ebb.iostream.core"
local errors = require "ebb.errors"
local check = require "ebb.check"
local fs = require "ebb.fs"
local task = require "ebb.task"

local type, error, pcall, pairs, ipairs, tostring, concat, char, format = type, error, pcall, pairs, ipairs,
  tostring, table.concat, string.char, string.format

local M = {}

-- A handshake that failed, a certificate that does not verify, a certificate
-- or key that cannot be used: code is OpenSSL's ("HOSTNAME_MISMATCH",
-- "CERT_HAS_EXPIRED", "HANDSHAKE_FAILED", "BAD_CERTIFICATE", "BAD_KEY"...).
local TLSError = errors.class("TLSError", errors.SystemError)
M.TLSError = TLSError

local kind = check.kind

-- alpn: a list of protocol names, each 1 to 255 bytes.
local function alpn_kind(v)
  if type(v) ~= "table" then return " must be a list of protocol names, got " .. type(v) end
  if #v == 0 then return " must name at least one protocol" end
  for i = 1, #v do
    local name = v[i]
    if type(name) ~= "string" or #name == 0 or #name > 255 then
      return format(" must be a list of protocol names of 1 to 255 bytes, got %s at %d",
        type(name) == "string" and format("%q", name) or type(name), i)
    end
  end
end

local VERSION = kind.one_of("TLSv1.2", "TLSv1.3")
local VERSIONS = { ["TLSv1.2"] = 0x0303, ["TLSv1.3"] = 0x0304 } -- OpenSSL's TLS1_2_VERSION, TLS1_3_VERSION
local COMMON = { ca = kind.string, ca_file = kind.cstring, cert = kind.string, cert_file = kind.cstring,
  key = kind.string, key_file = kind.cstring, alpn = alpn_kind, verify = kind.boolean, min_version = VERSION,
  max_version = VERSION }
local CLIENT, SERVER = { servername = kind.cstring }, { handshake_timeout = kind.ms, on_error = kind.callable }
for name, rule in pairs(COMMON) do CLIENT[name], SERVER[name] = rule, rule end

-- kind.tls_client / tls_server: true (a client's only) or a table, checked
-- as the options it holds
local function tls_kind(valid, server)
  return function(v)
    if v == true and not server then return nil end
    if type(v) ~= "table" then
      return server and " must be a table with cert and key, got " .. type(v)
        or " must be true or a table of TLS options, got " .. check.got(v)
    end
    for k, x in pairs(v) do
      local rule = valid[k]
      if rule == nil then
        local names = {}
        for n in pairs(valid) do names[#names + 1] = n end
        table.sort(names)
        return format(" has unknown option '%s'; valid TLS options: %s", tostring(k), concat(names, ", "))
      end
      local why = rule(x)
      if why then return format(" field '%s'%s", k, why) end
    end
    for _, pair in ipairs({ { "ca", "ca_file" }, { "cert", "cert_file" }, { "key", "key_file" } }) do
      if v[pair[1]] ~= nil and v[pair[2]] ~= nil then
        return format(" may give '%s' or '%s', not both", pair[1], pair[2])
      end
    end
    if server and (v.cert or v.cert_file) == nil then return " needs 'cert' or 'cert_file' for a server" end
    if server and (v.key or v.key_file) == nil then return " needs 'key' or 'key_file' for a server" end
    if (v.cert or v.cert_file) ~= nil and (v.key or v.key_file) == nil then return " needs a key with its cert" end
    if v.min_version == "TLSv1.3" and v.max_version == "TLSv1.2" then return " has min_version above max_version" end
  end
end
M.client_kind, M.server_kind = tls_kind(CLIENT, false), tls_kind(SERVER, true)

local OPTION = { ca = "ca", cert = "cert", key = "key", alpn = "alpn" }
local CODE = { ca = "BAD_CA", cert = "BAD_CERTIFICATE", key = "BAD_KEY", alpn = "BAD_ALPN", library = "NO_TLS" }

-- The PEM text of option `name`, read from its _file when given that way.
local function pem(opts, name, signal)
  local path = opts[name .. "_file"]
  if path == nil then return opts[name] end
  local ok, text = pcall(fs.read_file, path, signal)
  if ok then return text end
  if not errors.is(text, errors.SystemError) then error(text, 0) end
  error(TLSError(format("option '%s_file' (%s): %s", name, path, text.message),
    { code = text.code, path = path, cause = text }), 0)
end

local function wire(alpn)
  if alpn == nil then return nil end
  local parts = {}
  for i = 1, #alpn do parts[i] = char(#alpn[i]) .. alpn[i] end
  return concat(parts)
end

local cache = setmetatable({}, { __mode = "v" }) -- a client's contexts, by what made them

-- The context for these options (true: the defaults), made once for equal
-- options while it is in use.
local function context(opts, server, signal)
  if opts == true then opts = {} end
  local verify = opts.verify
  if verify == nil then verify = not server end
  local ca, cert, key, alpn = pem(opts, "ca", signal), pem(opts, "cert", signal), pem(opts, "key", signal),
    wire(opts.alpn)
  local min, max = VERSIONS[opts.min_version or "TLSv1.2"], VERSIONS[opts.max_version or "TLSv1.3"]
  local id = not server and concat({ tostring(verify), ca or "", cert or "", key or "", alpn or "", min, max }, "\0")
  local ctx = id and cache[id]
  if ctx then return ctx end
  local made, what, why = core.context(server, verify, ca, cert, key, alpn, min, max)
  if not made then
    local name = OPTION[what] or "tls"
    local path = opts[name .. "_file"]
    local where = path and format("option '%s_file' (%s)", name, path) or format("option '%s'", name)
    error(TLSError(format("%s: %s", where, why), { code = CODE[what], path = path }), 0)
  end
  if id then cache[id] = made end
  return made
end

function M.server_context(opts) return context(opts, true) end

local function describe(conn, h)
  conn.encrypted = true
  conn.alpn_protocol, conn.servername, conn.tls_version, conn.cipher = core.info(h)
end

local function failed(h, code, msg, address, port, servername)
  stream_core.close(h)
  if msg == nil then -- the handshake's own time limit
    code, msg = "ETIMEDOUT", "the handshake timed out"
  end
  return TLSError(format("%s: %s, handshake %s:%d", code, msg, address, port),
    { code = code, syscall = "handshake", address = address, port = port, servername = servername })
end

local function handshake(h, ctx, servername, host, signal, timeout, address, port)
  local ok, a, b = core.handshake(h, ctx, servername, host, signal, timeout)
  if ok == false then
    stream_core.close(h)
    error(a, 0)
  end
  if ok and a then return nil end
  if ok then a, b = "ECONNRESET", "the peer closed the connection during the handshake" end
  return failed(h, a, b, address, port, servername)
end

local function is_ip(host) return host:match("^[%d.]+$") or host:find(":", 1, true) end

-- The context of a client's tls option (made before connecting: bad
-- options fail before any connection is made).
function M.client_context(tls, signal) return context(tls, false, signal) end

-- A client's end of a new connection h to host (ip, port): the handshake
-- with the tls option's context; raises a TLSError when it fails.
function M.connect(h, host, ip, port, tls, ctx, signal)
  local name = tls ~= true and tls.servername or host
  local verify = tls == true or tls.verify ~= false
  local sni = not is_ip(name) and name or nil -- RFC 6066: no IP address as SNI
  local e = handshake(h, ctx, sni, verify and name or nil, signal, nil, ip, port)
  if e then error(e, 0) end
end

-- A server's end: true once the handshake is done; false when it failed (the
-- connection is closed; tls.on_error(err, conn) is told).
local function accept(conn, tls, ctx)
  local e = handshake(conn._h, ctx, nil, nil, nil, tls.handshake_timeout or 120000, conn.remote_address,
    conn.remote_port)
  if not e then
    describe(conn, conn._h)
    return true
  end
  conn.closed = true
  if tls.on_error then tls.on_error(e, conn) end
  return false
end

-- A server's connection (net.listen): the handshake, then handler(conn).
-- Server:close cancels the handshakes under way (stop_handshakes) and skips
-- those not begun: only handlers are waited for.
function M.serve(conn, handler, server)
  if server.closed then return end
  local me = task.current()
  server._handshaking[me] = true
  local ok, done = pcall(accept, conn, server._opts.tls, server._tls)
  server._handshaking[me] = nil
  if not ok then error(done, 0) end
  if done then return handler(conn) end
end

function M.stop_handshakes(server)
  local list = {}
  for t in pairs(server._handshaking) do list[#list + 1] = t end
  for i = 1, #list do list[i]:cancel() end
end

M.describe = describe
return M
