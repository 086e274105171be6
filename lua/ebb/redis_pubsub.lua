-- ebb.redis_pubsub: a subscription on a connection of its own. Messages go into a
-- bounded channel; while it is full the reader waits, so the socket is not read
-- and the server holds (or, past its client-output-buffer-limit, drops) the rest.
local channel = require "ebb.channel"
local check = require "ebb.check"
local client = require "ebb.redis_client"
local resp = require "ebb.redis_resp"
local task = require "ebb.task"
local retry = require "ebb.retry"

local type, error, pcall, setmetatable, format = type, error, pcall, setmetatable, string.format

local M = {}
local Subscription = {}
Subscription.__index = Subscription

local function check_sub(s, fname) check.self(s, Subscription, fname, "subscription", 2) end

local OPTIONS = { buffer = check.kind.whole(1, 2 ^ 30), signal = check.kind.signal }

local function names_of(list, fname)
  if type(list) == "string" then list = { list } end
  if type(list) ~= "table" or #list == 0 then
    check.badarg(1, fname, "a channel name or a non-empty list of them expected, got " .. type(list), 2)
  end
  for i = 1, #list do
    if type(list[i]) ~= "string" then
      check.badarg(1, fname, format("channel %d must be a string, got %s", i, type(list[i])), 2)
    end
  end
  return list
end

local function push_handler(sub, ch)
  return function(v)
    if type(v) ~= "table" then return false end
    local kind, msg = v[1], nil
    if kind == "message" then
      msg = { channel = v[2], message = v[3] }
    elseif kind == "pmessage" then
      msg = { pattern = v[2], channel = v[3], message = v[4] }
    else
      return false
    end
    pcall(ch.send, ch, msg) -- waits while the buffer is full; a closed one drops it
    return true
  end
end

-- The end of the subscription: recv raises err once the buffer is drained.
local function ended(sub, err)
  if not sub.closed then sub._err = err end
  sub._ch:close()
end

-- open_conn(sub, signal) -> a connection subscribed to sub's channels.
local function open_conn(sub, signal)
  local conn = client.open(sub._opts, signal)
  conn.on_push = push_handler(sub, sub._ch)
  local ok, e = pcall(conn.call, conn, sub._bytes, #sub.channels, signal, sub._opts.timeout, sub.kind)
  if not ok then
    conn:close()
    error(e, 0)
  end
  return conn
end

local lost

local function attach(sub, conn)
  sub._conn = conn
  conn.on_end = function(err) lost(sub, err) end
end

-- A lost connection: subscribed again on a new one (the client's reconnect backoff);
-- what was published in between is not seen (pub/sub keeps nothing).
lost = function(sub, err)
  if sub.closed then return end
  local r = sub._opts.reconnect
  if not r then return ended(sub, err) end
  sub._resubscriber = task.spawn(function()
    local ok, got = pcall(retry, function() return open_conn(sub) end, client.backoff(r))
    sub._resubscriber = nil
    if not ok then return ended(sub, got) end
    if sub.closed then return got:close() end
    attach(sub, got)
  end)
end

-- subscribe(c, command, list, opts, fname), reached by a tail call from the client's
-- method (so its checks count levels as that method's): SUBSCRIBE or PSUBSCRIBE.
function M.subscribe(c, command, list, opts, fname)
  client.check_client(c, fname)
  if c.closed then error(client.ClosedError("the client is closed"), 0) end
  return M.open(c._opts, command, list, opts, fname)
end

-- open(copts, ...): the same on a connection made with the client options copts
-- (a pool's), reached by tail calls as subscribe is.
function M.open(copts, command, list, opts, fname)
  list = names_of(list, fname)
  opts = check.options(opts, 2, fname, OPTIONS)
  local signal = opts.signal
  local args = { command }
  for i = 1, #list do args[i + 1] = list[i] end
  local sub = setmetatable({ _conn = nil, _ch = channel.new(opts.buffer or 1000), _err = nil, closed = false,
    channels = list, kind = command, _opts = copts, _bytes = resp.encode(args, 1, #args, fname, 1) }, Subscription)
  attach(sub, open_conn(sub, signal))
  if signal then sub._off = signal:on_abort(function() sub:close() end) end
  return sub
end

-- recv([signal]) -> the next message, or nil once closed; raises the connection's
-- failure once the messages that came before it were taken.
function Subscription:recv(signal)
  check_sub(self, "recv")
  check.opt_signal(signal, 1, "recv")
  local msg = self._ch:recv(signal)
  if msg == nil and self._err then error(self._err, 0) end
  return msg
end

function Subscription:iter(signal)
  check_sub(self, "iter")
  check.opt_signal(signal, 1, "iter")
  return function() return self:recv(signal) end
end

function Subscription:close()
  check_sub(self, "close")
  if self.closed then return end
  self.closed = true
  if self._off then self._off() end
  if self._resubscriber then self._resubscriber:cancel() end
  self._conn:close()
  self._ch:close()
end
Subscription.__close = Subscription.close

function Subscription:__tostring()
  check_sub(self, "__tostring")
  return format("Subscription (%d %s, %s)", #self.channels, self.kind == "PSUBSCRIBE" and "patterns" or "channels",
    self.closed and "closed" or "open")
end

return M
