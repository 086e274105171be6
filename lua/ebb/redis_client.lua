-- ebb.redis_client: the Client a script holds: one connection at a time, opened
-- again (with ebb.retry's backoff) when it was lost, AUTH, SELECT and CLIENT
-- SETNAME sent first on each; commands and pipelines over it.
local net = require "ebb.net"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local check = require "ebb.check"
local retry = require "ebb.retry"
local task = require "ebb.task"
local resp = require "ebb.redis_resp"
local rconn = require "ebb.redis_conn"

local type, select, error, setmetatable, format, pcall = type, select, error, setmetatable, string.format, pcall
local encode, encode_args, is_signal = resp.encode, resp.encode_args, check.is_signal
local check_abort = require("ebb.core").check_abort

local M = {}

M.ClosedError = errors.class("RedisClosedError")
M.ReplyError = rconn.ReplyError
local ClosedError, ReplyError = M.ClosedError, rconn.ReplyError

local Client = {}
Client.__index = Client
M.Client = Client

local function check_client(c, fname)
  local c_ = check.self(c, Client, fname, "redis client", 2)
  return c_
end
M.check_client = check_client

-- The first commands on every connection: AUTH, SELECT, CLIENT SETNAME as set.
local function handshake(o)
  local list = {}
  if o.password then
    list[#list + 1] = o.username and encode({ "AUTH", o.username, o.password }, 1, 3, "connect", 1)
      or encode({ "AUTH", o.password }, 1, 2, "connect", 1)
  end
  if o.db and o.db ~= 0 then list[#list + 1] = encode({ "SELECT", o.db }, 1, 2, "connect", 1) end
  if o.name then list[#list + 1] = encode({ "CLIENT", "SETNAME", o.name }, 1, 3, "connect", 1) end
  return list
end

-- open(o, signal) -> a connection that answered its handshake, within o.connect_timeout.
local function open_within(o, sig)
  local stream = o.path and net.connect { path = o.path, signal = sig }
    or net.connect(o.host, o.port, { signal = sig, nodelay = true, tls = o.tls })
  local conn = rconn.new(stream, o.address, o.max_reply)
  local first = handshake(o)
  if #first > 0 then
    local ok, replies = pcall(conn.call, conn, table.concat(first), #first, sig, nil, "handshake")
    if ok and #first == 1 then replies = { replies } end
    if not ok then
      conn:close()
      error(replies, 0)
    end
    for i = 1, #first do
      if errors.is(replies[i], ReplyError) then
        conn:close()
        error(replies[i], 0)
      end
    end
  end
  return conn
end

local function open(o, signal)
  if not o.connect_timeout then return open_within(o, signal) end
  return abort._within(o.connect_timeout, signal, open_within, o)
end

-- The options of ebb.retry for a `reconnect` table: its defaults in one place.
function M.backoff(r)
  return { retries = r.retries or 3, base = r.base or 100, cap = r.cap or 2000 }
end

local function not_a_reply_error(e) return not errors.is(e, ReplyError) end

-- Opens the client's connection again, in a task of its own that every task
-- needing it waits for: one that gives up (its signal, a cancel) stops
-- waiting, and the others still get the connection, or the error that ended
-- the last attempt. Only close ends it early.
local function open_for(self, f)
  local o = self._opts
  local r = o.reconnect
  local ok, got = pcall(function()
    if not r then return open(o) end
    local ro = M.backoff(r)
    ro.should_retry = not_a_reply_error
    return retry(function() return open(o) end, ro)
  end)
  self._opening, self._opener = nil, nil
  if ok and self.closed then
    got:close()
    ok, got = false, ClosedError("the client is closed")
  end
  if not ok then return f:reject(got) end
  self._conn = got
  f:resolve(got)
end

local function reopen(self, signal)
  if self.closed then error(ClosedError("the client is closed"), 0) end
  local f = self._opening
  if not f then
    f = task.future()
    self._opening = f
    self._opener = task.spawn(open_for, self, f)
  end
  if signal then return f:await { signal = signal } end
  return f:await()
end

-- The connection to use now: the open one, or a new one. (The closures of
-- reopen kept apart: a function that makes one is never compiled.)
local function connection(self, signal)
  local conn = self._conn
  if conn and not conn.dead then return conn end
  return reopen(self, signal)
end

-- M.new(o, signal) -> a client, connected once (no retry: a closed port fails at once).
function M.new(o)
  local self = setmetatable({ _opts = o, _conn = nil, _opening = nil, _opener = nil, closed = false, address = o.address }, Client)
  self._conn = open(o, o.signal)
  if o.signal then
    self._off = o.signal:on_abort(function(reason) self:close(reason) end)
  end
  return self
end

-- What a trailing AbortSignal argument is: the call's signal, not a command word.
local function split_signal(n, ...)
  if n == 0 then return 0, nil end
  local last = select(n, ...)
  if is_signal(last) then return n - 1, last end
  return n, nil
end

function Client:command(name, ...)
  check_client(self, "command")
  if type(name) ~= "string" then check.expected(name, 1, "command", "string") end
  local n, signal = split_signal(select("#", ...), ...)
  local bytes = encode_args("command", 1, 2, n + 1, name, ...)
  local ok, reason = check_abort(signal)
  if ok == false then error(reason, 0) end
  local reply = connection(self, signal):call(bytes, 1, signal, self._opts.timeout, name)
  if type(reply) == "table" and reply.n == nil and errors.is(reply, ReplyError) then error(reply, 0) end
  return reply
end

-- The commands of a pipeline: a list of lists, or what fn added through p:command.
local Batch = {}
Batch.__index = Batch

function Batch:command(name, ...)
  if type(name) ~= "string" then check.expected(name, 1, "command", "string") end
  local n = self.n + 1
  self.n = n
  self[n] = encode_args("command", 1, 2, select("#", ...) + 1, name, ...)
  return self
end

local function batch_of(what, fname)
  local b = setmetatable({ n = 0 }, Batch)
  if type(what) == "function" then
    what(b)
  elseif type(what) == "table" then
    for i = 1, #what do
      local cmd = what[i]
      if type(cmd) ~= "table" or type(cmd[1]) ~= "string" then
        check.badarg(1, fname, format("command %d must be a list starting with a command name, got %s", i,
          type(cmd) == "table" and type(cmd[1]) or type(cmd)), 2)
      end
      b.n = i
      b[i] = encode(cmd, 1, #cmd, fname, 1, 2)
    end
  else
    check.expected(what, 1, fname, "function or list of commands", 2)
  end
  return b
end
M.batch_of = batch_of

function Client:pipeline(what, signal)
  check_client(self, "pipeline")
  local b = batch_of(what, "pipeline")
  check.opt_signal(signal, 2, "pipeline")
  local ok, reason = check_abort(signal)
  if ok == false then error(reason, 0) end
  if b.n == 0 then return { n = 0 } end
  local bytes = table.concat(b, "", 1, b.n)
  local reply = connection(self, signal):call(bytes, b.n, signal, self._opts.timeout, "pipeline")
  if b.n == 1 then reply = { n = 1, reply } end
  return reply
end

-- subscribe(channels [, opts]) -> a Subscription on a connection of its own.
function Client:subscribe(channels, opts)
  return require("ebb.redis_pubsub").subscribe(self, "SUBSCRIBE", channels, opts, "subscribe")
end

function Client:psubscribe(patterns, opts)
  return require("ebb.redis_pubsub").subscribe(self, "PSUBSCRIBE", patterns, opts, "psubscribe")
end

function Client:close(reason)
  check_client(self, "close")
  if self.closed then return end
  self.closed = true
  if self._off then self._off() end
  if self._opener then self._opener:cancel(reason or ClosedError("the client is closed")) end
  if self._conn then
    self._conn:close(reason or ClosedError("the client is closed"))
  end
end
Client.__close = Client.close

function Client:__tostring()
  check_client(self, "__tostring")
  local conn, state = self._conn, nil
  if self.closed then state = "closed"
  elseif conn and not conn.dead then state = format("connected, %d pending", conn:pending())
  else state = "disconnected" end
  return format("RedisClient (%s, %s)", self.address, state)
end

M.open = open
M.connection = connection
return M
