-- ebb.redis_conn: one connection to a Redis server. Commands from any number of
-- tasks are queued and written together by a writer task (automatic pipelining);
-- a reader task feeds what it reads to hiredis's reply reader and hands the
-- replies out in the order the commands were sent. A command whose caller stopped waiting still gets its reply read and
-- dropped, so the order holds and the connection stays usable.
local core = require "ebb.core"
local task = require "ebb.task"
local errors = require "ebb.errors"
local resp = require "ebb.redis_resp"
local clock_now = require("ebb.clock.core").now

local waitlist, check_abort = core.waitlist, core.check_abort
local error, pcall, concat, max, format = error, pcall, table.concat, math.max, string.format

local M = {}

M.ReplyError = errors.class("ReplyError")
M.ConnectionError = errors.class("RedisConnectionError")
M.ProtocolError = errors.class("RedisProtocolError", M.ConnectionError)

local ReplyError, ConnectionError, ProtocolError = M.ReplyError, M.ConnectionError, M.ProtocolError

-- A RESP error reply: its first word (WRONGTYPE, NOSCRIPT, ERR...) is its code.
local function reply_error(text)
  return ReplyError(text, { code = text:match("^(%u[%u_]*) ") or text:match("^%u+$") or "ERR" })
end
M.reply_error = reply_error

local Conn = {}
Conn.__index = Conn

-- The request's end: every reply it waited for came, or the connection failed.
local function finish(req)
  req.done = true
  req.wl:wake_all()
end

-- Ends the connection: the stream closed, every command waiting fails with err.
local function fail(conn, err)
  if conn.dead then return end
  conn.dead = err
  conn.stream:close()
  conn.parser:close()
  local q = conn.queue
  for i = conn.head, conn.tail do
    local req = q[i]
    q[i] = nil
    req.err = err
    finish(req)
  end
  conn.head, conn.tail = 1, 0
  conn.writer_wl:wake_all()
  if conn.on_end then conn.on_end(err) end
end
M.fail = fail

local function lost(conn, cause)
  return ConnectionError(format("connection to %s lost", conn.address), { cause = cause, address = conn.address })
end

-- One decoded reply: to the push handler (pub/sub) if it takes it, else to the
-- request at the head of the queue.
local function deliver(conn, v)
  if conn.on_push and conn.on_push(v) then return true end
  local h = conn.head
  local req = conn.queue[h]
  if not req then
    fail(conn, ProtocolError(format("a reply from %s that no command asked for", conn.address)))
    return false
  end
  local got = req.got + 1
  req.got = got
  if req.n == 1 then req.reply = v else req.replies[got] = v end
  if got == req.n then
    conn.queue[h] = nil
    conn.head = h + 1
    finish(req)
  end
  return true
end

-- Reads what the server sends into hiredis's reader and hands out each reply
-- it completes (a reply may span many reads, and one read end many replies).
local function read_loop(conn)
  local stream, parser, out = conn.stream, conn.parser, {}
  while true do
    local ok, chunk = pcall(stream.read, stream)
    if not ok or chunk == nil then
      return fail(conn, lost(conn, not ok and chunk or nil))
    end
    local fed, n, why = pcall(parser.feed, parser, chunk, out)
    if not fed then -- make_error raised (out of memory): the connection cannot go on
      return fail(conn, ProtocolError(format("replies from %s could not be read", conn.address),
        { address = conn.address, cause = n }))
    end
    for i = 1, n do
      local v = out[i]
      out[i] = nil
      if not deliver(conn, v) then return end
    end
    if why then
      return fail(conn, ProtocolError(format("%s, from %s", why, conn.address), { address = conn.address }))
    end
  end
end

local function write_loop(conn)
  local stream = conn.stream
  while not conn.dead do
    local n = conn.nout
    if n == 0 then
      conn.writer_wl:wait()
    else
      local data = n == 1 and conn.out[1] or concat(conn.out, "", 1, n)
      conn.out, conn.nout, conn.writing = {}, 0, true
      local ok, e = pcall(stream.write, stream, data)
      conn.writing = false
      if not ok then fail(conn, lost(conn, e)) end
    end
  end
end

-- new(stream, address, max_reply) -> a connection over an open stream.
function M.new(stream, address, max_reply)
  local made, reader = pcall(resp.reader, max_reply, reply_error)
  if not made then -- hiredis cannot be opened
    stream:close()
    error(reader, 0)
  end
  local conn = setmetatable({
    stream = stream, address = address, parser = reader, dead = false,
    queue = {}, head = 1, tail = 0, out = {}, nout = 0, writer_wl = waitlist(),
    on_push = nil, on_end = nil,
  }, Conn)
  conn.reader = task.spawn(read_loop, conn)
  conn.writer = task.spawn(write_loop, conn)
  return conn
end

-- Writes from the calling task. A failure of the stream fails the connection; a
-- cancel while the write waits is raised (the bytes stay queued and are sent,
-- so the reply comes and is dropped).
local function write_now(conn, bytes)
  conn.writing = true
  local ok, e = pcall(conn.stream.write, conn.stream, bytes)
  conn.writing = false
  if conn.nout > 0 then conn.writer_wl:wake_all() end
  if not ok then
    if conn.stream.closed or errors.is(e, errors.SystemError) then return fail(conn, lost(conn, e)) end
    error(e, 0)
  end
end

-- send(bytes, n) -> a request waiting for n replies. The bytes of one call are
-- written whole, before or after any other call's: a pipeline is contiguous.
function Conn:send(bytes, n)
  if self.dead then error(self.dead, 0) end
  local req = { n = n, got = 0, done = false, wl = waitlist(), reply = nil, replies = n ~= 1 and { n = n } or nil }
  local t = self.tail + 1
  self.tail, self.queue[t] = t, req
  if t == self.head and self.nout == 0 and not self.writing then
    -- an idle connection: written now, one task switch fewer for a lone command
    write_now(self, bytes)
    return req
  end
  local k = self.nout + 1
  self.nout, self.out[k] = k, bytes
  if k == 1 then self.writer_wl:wake_all() end
  return req
end

-- await(req, signal, timeout, what) -> the reply (or the list of replies) once all
-- came; raises the abort reason, a TimeoutError, or the connection's failure.
function Conn:await(req, signal, timeout, what)
  local deadline = timeout and clock_now() + timeout
  while not req.done do
    local ok, reason = req.wl:wait(signal, deadline and max(0, deadline - clock_now()))
    if ok == nil then
      error(errors.TimeoutError(format("redis %s timed out after %s ms (%s)", what, timeout, self.address)), 0)
    end
    if ok == false then error(reason, 0) end
  end
  if req.err then error(req.err, 0) end
  if req.n == 1 then return req.reply end
  return req.replies
end

-- call(bytes, n, signal, timeout, what): send and await, the abort checked first.
function Conn:call(bytes, n, signal, timeout, what)
  local ok, reason = check_abort(signal)
  if ok == false then error(reason, 0) end
  return self:await(self:send(bytes, n), signal, timeout, what)
end

function Conn:pending() return self.tail - self.head + 1 end

function Conn:close(reason)
  fail(self, reason or ConnectionError(format("connection to %s closed", self.address), { address = self.address }))
end

return M
