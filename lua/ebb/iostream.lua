-- ebb.iostream: the stream object over a socket, pipe or terminal. One object
-- reads and writes (a duplex); it follows ebb.stream's protocol, so it can be
-- the source or the sink of a pipeline, and a scope can dispose of it.
local core = require "ebb.iostream.core"
local stream = require "ebb.stream"
local check = require "ebb.check"

local type, error, setmetatable = type, error, setmetatable
local c_read, c_write, c_shutdown, c_close = core.read, core.write, core.shutdown, core.close

local iostream = {}
local ClosedError = stream.ClosedError

local IOStream = {}
IOStream.__index = IOStream
iostream.IOStream = IOStream

-- wrap(handle, {name=, readable=, writable=, high_water_mark=}): handle is a
-- C stream; name says what it is in error messages ("connect 127.0.0.1:80").
local kind = check.kind
local WRAP = { name = kind.string, readable = kind.boolean, writable = kind.boolean,
  high_water_mark = kind.whole(1, 2 ^ 30) }

function iostream.wrap(handle, opts)
  if type(handle) ~= "userdata" then check.expected(handle, 1, "wrap", "stream handle") end
  opts = check.options(opts, 2, "wrap", WRAP)
  local hwm = opts.high_water_mark
  if hwm then core.set_high_water_mark(handle, hwm) end
  return setmetatable({
    _h = handle, name = opts.name or "stream",
    readable = opts.readable ~= false, writable = opts.writable ~= false,
    high_water_mark = hwm or 65536,
    ended = false, finished = false, closed = false, written = 0,
  }, IOStream)
end

local function fail(self, syscall, code, msg)
  if self.closed then error(ClosedError(syscall .. " on a closed stream"), 3) end
  error(check.system_error(code, msg, syscall, self.name), 0)
end

-- The next chunk; nil at the end. Waits while none has arrived.
function IOStream:read(signal)
  check.self(self, IOStream, "read", "stream")
  check.opt_signal(signal, 1, "read")
  if self.closed then error(ClosedError("read from a closed stream"), 2) end
  if not self.readable then error(ClosedError("read from a stream that is not readable"), 2) end
  if self.ended then return nil end
  local chunk = check.result(fail, self, "read", c_read(self._h, signal))
  if chunk == nil then self.ended = true end
  return chunk
end

-- Returns at once while at most high_water_mark bytes wait to be sent;
-- otherwise waits until they drop to that.
function IOStream:write(chunk, signal)
  check.self(self, IOStream, "write", "stream")
  check.opt_signal(signal, 2, "write")
  if self.closed then error(ClosedError("write to a closed stream"), 2) end
  if self.finished then error(ClosedError("write after finish"), 2) end
  if not self.writable then error(ClosedError("write to a stream that is not writable"), 2) end
  if type(chunk) ~= "string" then check.expected(chunk, 1, "write", "string") end
  check.result(fail, self, "write", c_write(self._h, chunk, signal))
  self.written = self.written + #chunk
end

-- No more writes: waits until everything is sent, then closes the write side
-- (the peer reads the end). Reading goes on.
function IOStream:finish(signal)
  check.self(self, IOStream, "finish", "stream")
  check.opt_signal(signal, 1, "finish")
  if self.closed then error(ClosedError("finish of a closed stream"), 2) end
  if self.finished or not self.writable then
    self.finished = true
    return
  end
  self.finished = true
  check.result(fail, self, "shutdown", c_shutdown(self._h, signal))
end

-- At once: what is unsent is dropped; tasks waiting to read see the end.
function IOStream:close()
  check.self(self, IOStream, "close", "stream")
  if self.closed then return end
  self.closed = true
  c_close(self._h)
end
IOStream.__close = IOStream.close

function IOStream:chunks(signal)
  check.self(self, IOStream, "chunks", "stream")
  check.opt_signal(signal, 1, "chunks")
  return function() return self:read(signal) end
end

-- Bytes read and not yet taken, bytes waiting to be sent.
function IOStream:buffered()
  check.self(self, IOStream, "buffered", "stream")
  return core.buffered(self._h)
end

function IOStream:__tostring()
  check.self(self, IOStream, "__tostring", "stream")
  return ("IOStream (%s%s)"):format(self.name, self.closed and ", closed" or "")
end

return iostream
