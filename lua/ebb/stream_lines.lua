-- ebb.stream_lines: the Lines iterator of stream.lines and fs.lines: the lines of
-- a readable's chunks without their terminators ("\n" or "\r\n"), split in Lua
-- that LuaJIT compiles into the loop that reads them.
local stream = require "ebb.stream"
local task = require "ebb.task"
local check = require "ebb.check"
local errors = require "ebb.errors"

local find, sub, byte, concat, format = string.find, string.sub, string.byte, table.concat, string.format
local type, error, setmetatable, getmetatable, pcall, huge = type, error, setmetatable, debug.getmetatable, pcall, math.huge
local ClosedError, LineTooLongError = stream.ClosedError, stream.LineTooLongError

local M = {}

local Lines = {}
local LinesMT = { __name = "Lines", __index = Lines }
M.Lines = LinesMT

local CR = 13
local kind = check.kind
M.OPTIONS = { max_length = kind.count(0), signal = kind.signal }

-- Nothing held any more: the signal's listener goes, and so does the task's
-- hold; an owned source is closed.
local function let_go(self)
  task._unhold(self)
  if self._owns then self._src:close() end
end

local function raise(self, e)
  self._buf, self._pos = "", 1
  self.closed = true
  pcall(let_go, self)
  error(e, 0)
end

local function too_long(self)
  local where = self._name and format(" of %s", self._name) or ""
  raise(self, LineTooLongError(format("line %d%s is longer than max_length (%d bytes)", self.count + 1, where,
    self._max), { line = self.count + 1, max_length = self._max }))
end

-- At the end of its task: closing may wait, so it runs in a task of its own.
local function close_quietly(self) pcall(self.close, self) end
local function release_at_task_end(self)
  self._task = false
  task.spawn(close_quietly, self)
end

-- The first read: from then on the signal is listened to, and the task that
-- reads releases what the lines hold when it ends.
local function bind(self)
  self._bound = true
  local signal = self._signal
  if signal then
    if signal.aborted then raise(self, signal.reason) end
    self._off = signal:on_abort(function(reason)
      self._abort = { reason }
      self._buf, self._pos = "", 1 -- the next line comes through the slow path, which raises
    end)
  end
  if self._owns or signal then self._task = task._hold(self, release_at_task_end) or false end
end

local function ended(self)
  self.ended = true
  let_go(self)
  return nil
end

-- A line that spans chunks, or the first line of the next chunk: reads on.
local function refill(self)
  if self._abort then raise(self, self._abort[1]) end
  if self.closed then error(ClosedError("read from closed lines"), 2) end
  if self.ended then return nil end
  if not self._bound then bind(self) end
  local buf, pos, max = self._buf, self._pos, self._max
  local parts, n, len = nil, 0, #buf - pos + 1
  if len > 0 then parts, n = { sub(buf, pos) }, 1 end
  self._buf, self._pos = "", 1
  while true do
    -- a partial line may end in the "\r" of a "\r\n" to come
    if len > max and (len > max + 1 or byte(parts[n], -1) ~= CR) then too_long(self) end
    local ok, chunk = pcall(self._src.read, self._src, self._signal)
    if not ok then raise(self, chunk) end
    if self._abort then raise(self, self._abort[1]) end -- a source that does not listen to the signal
    if type(chunk) ~= "string" and chunk ~= nil then
      raise(self, errors.new(format("the readable gave a %s where a chunk (a string) goes", type(chunk))))
    end
    if chunk == nil then
      ended(self)
      if n == 0 then return nil end
      self.count = self.count + 1
      return concat(parts, "", 1, n)
    end
    local e = find(chunk, "\n", 1, true)
    if e then
      self._buf, self._pos = chunk, e + 1
      local line
      if n == 0 then line = sub(chunk, 1, e - 1)
      else
        parts[n + 1] = sub(chunk, 1, e - 1)
        line = concat(parts, "", 1, n + 1)
      end
      if byte(line, -1) == CR then line = sub(line, 1, -2) end
      if #line > max then too_long(self) end
      self.count = self.count + 1
      return line
    end
    if #chunk > 0 then
      n = n + 1
      parts = parts or {}
      parts[n] = chunk
      len = len + #chunk
    end
  end
end

-- The iterator: the next line, or nil at the end. Most lines are found in the
-- chunk at hand and cost a find and a sub.
local function next_line(self)
  local buf, pos = self._buf, self._pos
  local e = find(buf, "\n", pos, true)
  if e then
    self._pos = e + 1
    local stop = e - 1
    if stop >= pos and byte(buf, stop) == CR then stop = stop - 1 end
    if stop - pos >= self._max then too_long(self) end
    self.count = self.count + 1
    return sub(buf, pos, stop)
  end
  return refill(self)
end

local function check_lines(self, fname)
  check.self(self, LinesMT, fname, "lines", 2) -- not a tail call: its frame counts in the level
end

function LinesMT.__call(self)
  if getmetatable(self) ~= LinesMT then check_lines(self, "__call") end
  return next_line(self)
end

-- lines() without the for loop: the next line, or nil at the end.
function Lines:next()
  check_lines(self, "next")
  return next_line(self)
end

-- Stops: an owned source (fs.lines' file) is closed; later calls raise.
function Lines:close()
  check_lines(self, "close")
  if self.closed then return end
  self.closed = true
  self._buf, self._pos = "", 1
  let_go(self)
end
LinesMT.__close = Lines.close

-- The bytes read from the source and not handed out as lines yet, handed
-- out now (the lines go on with what the source gives next).
function Lines:rest()
  check_lines(self, "rest")
  local rest = sub(self._buf, self._pos)
  self._buf, self._pos = "", 1
  return rest
end

function LinesMT.__tostring(self)
  check_lines(self, "__tostring")
  local state = self.closed and "closed" or self.ended and "ended" or "open"
  return format("Lines (%s, %d read)", state, self.count)
end

-- new(src, opts, owns [, name]): opts checked by the caller (against M.OPTIONS
-- and its own); owns: closing the lines closes src; name: what errors call the source.
function M.new(src, opts, owns, name)
  return setmetatable({
    _src = src, _owns = owns, _name = name or false,
    _max = opts.max_length or huge, _signal = opts.signal,
    _buf = "", _pos = 1, _bound = false, _off = false, _task = false, _abort = false,
    count = 0, ended = false, closed = false,
  }, LinesMT)
end

return M
