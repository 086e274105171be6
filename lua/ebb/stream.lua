-- ebb.stream: the readable and writable protocol every source and sink shares,
-- and pipeline, which moves chunks from one to the other with backpressure.
local core = require "ebb.core"
local errors = require "ebb.errors"
local gen = require "ebb.gen"
local check = require "ebb.check"

local type, error, select, setmetatable, getmetatable, pcall = type, error, select, setmetatable, debug.getmetatable,
  pcall

local stream = {}

local ClosedError = errors.class("StreamClosedError")
stream.ClosedError = ClosedError
stream.LineTooLongError = errors.class("LineTooLongError")

-- ---- readables ----
local Readable = {}
Readable.__index = Readable

-- readable(pull [, close]): pull(signal) returns the next chunk, or nil at the end.
function stream.readable(pull, close)
  check.callable(pull, 1, "readable")
  if close ~= nil then check.callable(close, 2, "readable") end
  return setmetatable({ _pull = pull, _close = close, ended = false, closed = false }, Readable)
end

-- The next chunk; nil once the stream has ended. Waits while none is ready.
function Readable:read(signal)
  if getmetatable(self) ~= Readable then check.self(self, Readable, "read", "readable stream") end
  if signal ~= nil then check.opt_signal(signal, 1, "read") end
  if self.closed then error(ClosedError("read from a closed stream"), 2) end
  if self.ended then return nil end
  local chunk = self._pull(signal)
  if chunk == nil then self.ended = true end
  return chunk
end

function Readable:close()
  check.self(self, Readable, "close", "readable stream")
  if self.closed then return end
  self.closed = true
  if self._close then self._close() end
end
Readable.__close = Readable.close

function Readable:__tostring()
  check.self(self, Readable, "__tostring", "readable stream")
  return "Readable (" .. (self.closed and "closed" or self.ended and "ended" or "open") .. ")"
end

-- for chunk in r:chunks() do ... end
function Readable:chunks(signal)
  check.self(self, Readable, "chunks", "readable stream")
  check.opt_signal(signal, 1, "chunks")
  return function() return self:read(signal) end
end

-- ---- writables ----
local Writable = {}
Writable.__index = Writable

-- writable(push [, {finish=, close=, high_water_mark=}]): push(chunk, signal)
-- takes one chunk; write waits while more than high_water_mark bytes are
-- waiting for push (with one push at a time, that is while one is under way).
local kind = check.kind
local WRITABLE = { finish = kind.callable, close = kind.callable, high_water_mark = kind.whole(0, 2 ^ 30) }

function stream.writable(push, opts)
  check.callable(push, 1, "writable")
  opts = check.options(opts, 2, "writable", WRITABLE)
  return setmetatable({
    _push = push, _finish = opts.finish, _close = opts.close,
    high_water_mark = opts.high_water_mark or 65536,
    finished = false, closed = false, written = 0,
  }, Writable)
end

function Writable:write(chunk, signal)
  if getmetatable(self) ~= Writable then check.self(self, Writable, "write", "writable stream") end
  if self.closed then error(ClosedError("write to a closed stream"), 2) end
  if self.finished then error(ClosedError("write after finish"), 2) end
  if type(chunk) ~= "string" then check.expected(chunk, 1, "write", "string") end
  if signal ~= nil then check.opt_signal(signal, 2, "write") end
  self._push(chunk, signal)
  self.written = self.written + #chunk
end

-- No more chunks: flushes what the sink holds.
function Writable:finish(signal)
  check.self(self, Writable, "finish", "writable stream")
  check.opt_signal(signal, 1, "finish")
  if self.closed then error(ClosedError("finish of a closed stream"), 2) end
  if self.finished then return end
  self.finished = true
  if self._finish then self._finish(signal) end
end

function Writable:close()
  check.self(self, Writable, "close", "writable stream")
  if self.closed then return end
  self.closed = true
  if self._close then self._close() end
end
Writable.__close = Writable.close

function Writable:__tostring()
  check.self(self, Writable, "__tostring", "writable stream")
  return ("Writable (%d bytes written%s%s)"):format(self.written, self.finished and ", finished" or "",
    self.closed and ", closed" or "")
end

-- ---- steps ----
local Transform = {}
Transform.__index = Transform

-- transform(function(yield, chunks) ... end): a step that reads its input as an
-- iterator and yields what goes on (it may keep state, and yield at the end).
function stream.transform(body)
  check.callable(body, 1, "transform")
  return setmetatable({ body = body }, Transform)
end

function Transform:__tostring()
  check.self(self, Transform, "__tostring", "stream.transform")
  return "Transform"
end

local function is_readable(v) return type(v) == "table" and type(v.read) == "function" end
local function is_writable(v) return type(v) == "table" and type(v.write) == "function" end

local function close_quietly(s)
  if type(s) == "table" and type(s.close) == "function" then pcall(s.close, s) end
end

-- ---- the pull side: the steps before the last transform ----

-- An iterator over what a function step makes of the chunks from `input`:
-- every value it returns goes on, in order (nil values are skipped). The
-- first is handed on at once; only a step that returns more keeps a list.
local function map_step(fn, input)
  local pending, i, n = nil, 1, 0
  local function first_of(v, ...)
    local more = select("#", ...)
    if more > 0 then pending, i, n = { ... }, 1, more end
    return v
  end
  return function()
    while true do
      while i <= n do
        local v = pending[i]
        i = i + 1
        if v ~= nil then return v end
      end
      local chunk = input()
      if chunk == nil then return nil end
      local v = first_of(fn(chunk))
      if v ~= nil then return v end
    end
  end
end

-- ---- the push side: the steps after it, and the sink ----

-- out(v) for a function step: each value it returns goes to `out`, in order.
local function push_each(out, v, ...)
  if v ~= nil then out(v) end
  if select("#", ...) > 0 then return push_each(out, ...) end
end

local function push_step(fn, out)
  return function(chunk) return push_each(out, fn(chunk)) end
end

local PIPELINE = { signal = kind.signal }

-- pipeline(src, step..., dst [, {signal=}]): moves every chunk from src through
-- the steps into dst, then finishes dst. On an error or an abort anywhere,
-- every stage is closed and the first error raised, unchanged.
-- The last transform runs in the pipeline's own coroutine (gen._push) and
-- hands each chunk on from its yield; the transforms before it are generators
-- it pulls from.
function stream.pipeline(...)
  local n = select("#", ...)
  local args = { ... }
  local opts
  if n >= 3 and (args[n] == nil or type(args[n]) == "table" and getmetatable(args[n]) == nil
      and not is_writable(args[n])) then -- the options, given or left nil
    opts = args[n]
    n = n - 1
  end
  if n < 2 then check.badarg(1, "pipeline", "a source and a sink expected") end
  local src, dst = args[1], args[n]
  if not is_readable(src) then check.expected(src, 1, "pipeline", "readable stream") end
  if not is_writable(dst) then check.expected(dst, n, "pipeline", "writable stream") end
  local signal = check.options(opts, n + 1, "pipeline", PIPELINE).signal
  local last = 1 -- the last transform's place, 1 for none
  for k = 2, n - 1 do
    local step = args[k]
    if getmetatable(step) == Transform then last = k
    elseif type(step) ~= "function" then check.expected(step, k, "pipeline", "function or stream.transform") end
  end
  local gens = {}
  local input = function() return src:read(signal) end
  for k = 2, last - 1 do
    local step = args[k]
    if type(step) == "function" then
      input = map_step(step, input)
    else
      local g = gen.new(step.body, input)
      gens[#gens + 1] = g
      input = function() return g:next() end
    end
  end
  local out = function(chunk) dst:write(chunk, signal) end
  for k = n - 1, last + 1, -1 do out = push_step(args[k], out) end
  local function move()
    if last > 1 then gen._push(args[last].body, out, input)
    else
      for chunk in input do out(chunk) end
    end
    if dst.finish then dst:finish(signal) end
  end
  local aborted, reason = core.check_abort(signal)
  local ok, err = false, reason
  if aborted ~= false then
    -- given a signal, the chunks move in a task of their own that its abort
    -- cancels: a stage waiting on something else (a source's own sleep) is
    -- reached, and the signal counts as listened to while the pipeline runs
    if signal then ok, err = pcall(require("ebb.task")._abortable, signal, move)
    else ok, err = pcall(move) end
  end
  for i = #gens, 1, -1 do pcall(gens[i].close, gens[i]) end
  close_quietly(src)
  close_quietly(dst)
  if not ok then error(err, 0) end
end

stream.is_readable = is_readable
stream.is_writable = is_writable

-- lines(readable [, {max_length=, signal=}]): the lines of the chunks read, in ebb.stream_lines.
function stream.lines(readable, opts)
  if not is_readable(readable) then check.expected(readable, 1, "lines", "readable stream") end
  local lines = require "ebb.stream_lines"
  opts = check.options(opts, 2, "lines", lines.OPTIONS)
  return lines.new(readable, opts, false)
end

return stream
