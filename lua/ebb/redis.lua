-- ebb.redis: a Redis client on the loop: commands from many tasks pipelined on one
-- connection, reconnects with backoff, pub/sub with backpressure, a pool.
local check = require "ebb.check"
local rconn = require "ebb.redis_conn"
local client = require "ebb.redis_client"

local type, tonumber, format, find = type, tonumber, string.format, string.find
local kind = check.kind

local redis = {}

redis.ReplyError = rconn.ReplyError
redis.ConnectionError = rconn.ConnectionError
redis.ProtocolError = rconn.ProtocolError
redis.ClosedError = client.ClosedError

local DEFAULT_MAX_REPLY = 64 * 1024 * 1024
redis.DEFAULT_MAX_REPLY = DEFAULT_MAX_REPLY

local function reconnect_kind(v)
  if v == false then return end
  if type(v) ~= "table" then return " must be false or a table of retries, base, cap, got " .. type(v) end
  for k, x in pairs(v) do
    local rule = (k == "retries" and kind.count(0)) or ((k == "base" or k == "cap") and kind.ms) or nil
    if not rule then return format(" has an unknown field '%s' (valid: base, cap, retries)", tostring(k)) end
    local why = rule(x)
    if why then return format(".%s%s", k, why) end
  end
end

local function tls_kind(v)
  if v ~= true and type(v) ~= "table" then return " must be true or a table of TLS options, got " .. type(v) end
end

-- The option kind of what the fleet-wide primitives run their commands on.
function redis._client_kind(v)
  if type(v) ~= "table" or type(v.command) ~= "function" then
    return " must be a redis client or pool, got " .. type(v)
  end
end

local CONNECT = {
  url = kind.cstring, host = kind.cstring, port = kind.whole(0, 65535), path = kind.cstring,
  password = kind.string, username = kind.string, db = kind.whole(0, 1e6), name = kind.cstring,
  signal = kind.signal, timeout = kind.ms, connect_timeout = kind.ms,
  max_reply = kind.whole(1, 2 ^ 31), reconnect = reconnect_kind, tls = tls_kind,
}
redis._CONNECT = CONNECT

local function unescape(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- unix:///path/to/redis.sock[?db=N] -> a table of path and db; or nil, why.
local function parse_unix_url(rest)
  local path, query = rest:match("^([^?]*)%??(.*)$")
  if path:sub(1, 1) ~= "/" then return nil, "must name an absolute path (unix:///path/to/redis.sock)" end
  local o = { path = unescape(path) }
  if find(o.path, "\0", 1, true) then return nil, "names a path with a NUL byte (%00)" end
  local db = query:match("^db=(%d+)$")
  if db then o.db = tonumber(db)
  elseif query ~= "" then return nil, "has a query other than db=N" end
  return o
end

-- parse_url(url) -> a table of host, port, username, password, db, tls (or path
-- and db); or nil, why.
local function parse_url(url)
  local scheme, rest = url:match("^(%a[%w+.-]*)://(.*)$")
  if scheme == "unix" then return parse_unix_url(rest) end
  if scheme ~= "redis" and scheme ~= "rediss" then
    return nil, "must start with redis://, rediss:// or unix://"
  end
  local o = { tls = scheme == "rediss" or nil }
  local auth, hostpart = rest:match("^(.*)@([^@]*)$")
  if not auth then hostpart = rest end
  if auth then
    local user, pass = auth:match("^([^:]*):(.*)$")
    if user then
      o.username, o.password = user ~= "" and unescape(user) or nil, unescape(pass)
    else
      o.username = nil
      o.password = unescape(auth)
    end
  end
  local hostport, path = hostpart:match("^([^/?]*)(.*)$")
  local host, port = hostport:match("^%[([^%]]+)%]:?(%d*)$")
  if not host then host, port = hostport:match("^([^:]*):?(%d*)$") end
  if not host then return nil, "has a bad host or port" end
  o.host = host ~= "" and host or "127.0.0.1"
  o.port = port ~= "" and tonumber(port) or 6379
  if o.port > 65535 then return nil, "has a port past 65535" end
  local db = path:match("^/(%d+)")
  if db then o.db = tonumber(db)
  elseif path ~= "" and path ~= "/" then return nil, "has a path that is not a database number" end
  return o
end
redis._parse_url = parse_url

-- The options of connect and pool, resolved: url fields under explicit options.
function redis._settings(a, b, fname, valid)
  local opts
  if type(a) == "string" then
    opts = check.options(b, 2, fname, valid, 2)
    opts = setmetatable({ url = a }, { __index = opts })
  else
    opts = check.options(a, 1, fname, valid, 2)
    if b ~= nil then check.badarg(2, fname, "no second argument expected after a table of options", 2) end
  end
  if opts.url == nil and opts.host == nil and opts.path == nil then
    check.badarg(1, fname, "a url, a host or a path expected (redis://127.0.0.1:6379)", 2)
  end
  local o = {}
  if opts.url then
    if find(opts.url, "\0", 1, true) then check.badarg(1, fname, "url must not contain a NUL byte", 2) end
    local u, why = parse_url(opts.url)
    if not u then check.badarg(1, fname, format("url %s, got %s", why, opts.url), 2) end
    for k, v in pairs(u) do o[k] = v end
  end
  for k in pairs(CONNECT) do
    if opts[k] ~= nil and k ~= "url" then o[k] = opts[k] end
  end
  if o.path and o.tls then check.badarg(1, fname, "tls is for TCP connections, not a Unix-domain socket's path", 2) end
  o.host, o.port = o.host or "127.0.0.1", o.port or 6379
  o.address = find(o.host, ":", 1, true) and format("[%s]:%d", o.host, o.port) or format("%s:%d", o.host, o.port)
  if o.path then o.address = o.path end
  o.max_reply = o.max_reply or DEFAULT_MAX_REPLY
  if o.reconnect == nil then o.reconnect = {} end
  if o.connect_timeout == nil then o.connect_timeout = 10000 end
  return o, opts
end

function redis.connect(a, b)
  local o = redis._settings(a, b, "connect", CONNECT)
  return client.new(o)
end

function redis.script(source)
  return require("ebb.redis_script").new(source)
end

-- stream_queue{client=, stream=, group=, ...}: a work queue on a stream and a consumer group.
function redis.stream_queue(opts)
  return require("ebb.redis_stream_queue").new(opts)
end

function redis.pool(opts)
  return require("ebb.redis_pool").new(opts)
end

return redis
