-- ebb.events_iter: events.iter, the events of one name as an iterator a task
-- loops over, buffered up to a bound, with an explicit policy when it fills.
local getmetatable = debug.getmetatable -- recorded right by the JIT for every value (docs/rules.md)
local check = require "ebb.check"
local core = require "ebb.core"
local events = require "ebb.events"
local errors = require "ebb.errors"
local abort = require "ebb.abort"

local error, select, setmetatable, getmetatable, type, ipairs, newproxy =
  error, select, setmetatable, getmetatable, type, ipairs, newproxy
local add, remove, shown = events._add, events._remove, events._shown
local check_abort, waitlist, raise_if_aborted = core.check_abort, core.waitlist, check.raise_if_aborted

local M = {}

local Iterator = {}
Iterator.__index = Iterator

local DEFAULT_BUFFER = 1024

local function check_iterator(it, fname)
  if getmetatable(it) ~= Iterator then check.self(it, Iterator, fname, "event iterator", 2) end
end

-- ---- the buffer: a ring of `capacity` slots, each an event's arguments ----

local function push(it, ev)
  local cap = it.capacity
  it.slots[(it.first + it.count - 1) % cap + 1] = ev
  it.count = it.count + 1
end

local function shift(it)
  local i = it.first
  local ev = it.slots[i]
  it.slots[i] = nil
  it.first, it.count = i % it.capacity + 1, it.count - 1
  return ev
end

-- Stops listening: what is buffered can still be read.
local function stop(it)
  local recs = it.recs
  it.recs = nil
  if not recs then return end
  for _, rec in ipairs(recs) do remove(rec) end
  if it.detach then
    it.detach()
    it.detach = nil
  end
  it.wl:wake_all()
end

local OVERFLOW = {}

function OVERFLOW.error(it)
  it.failed = events.OverflowError(("more than %d %s events were waiting to be read (option 'overflow' "
    .. "chooses to drop some instead)"):format(it.capacity, shown(it.name)))
  stop(it)
end

function OVERFLOW.drop_oldest(it, ev)
  shift(it)
  push(it, ev)
  it.dropped = it.dropped + 1
end

function OVERFLOW.drop_newest(it)
  it.dropped = it.dropped + 1
end

-- What the emitter holds: the iterator only weakly, so one dropped without
-- close (a loop left by break) stops listening once it is collected.
local function listen(it, emitter, name, close_names, signal)
  local weak = setmetatable({ it }, { __mode = "v" })
  local recs = {}
  local function forget()
    for _, rec in ipairs(recs) do remove(rec) end
  end
  local function on_event(...)
    local self = weak[1]
    if not self then return forget() end
    local ev = { n = select("#", ...), ... }
    if self.count < self.capacity then push(self, ev) else OVERFLOW[self.overflow](self, ev) end
    self.wl:wake_all()
  end
  local function on_close()
    local self = weak[1]
    if not self then return forget() end
    self.ended = true
    stop(self)
  end
  local function on_error(e)
    local self = weak[1]
    if not self then return forget() end
    self.failed = e == nil and errors.new("an 'error' event was emitted with no error") or e
    stop(self)
  end
  recs[1] = add(emitter, name, on_event, false)
  if name ~= "error" then recs[#recs + 1] = add(emitter, "error", on_error, false) end
  for _, close_name in ipairs(close_names) do recs[#recs + 1] = add(emitter, close_name, on_close, false) end
  it.recs = recs
  if signal then -- the signal may outlive the emitter: it holds neither
    it.detach = abort._listen_weakly(signal, it, "sentinel", stop)
  end
end

local OPTIONS = {
  signal = check.kind.signal,
  buffer = check.kind.whole(1),
  overflow = check.kind.one_of("error", "drop_oldest", "drop_newest"),
  close = check.kind.table,
}

function M.iter(emitter, name, opts)
  events._check_emitter(emitter, "iter")
  events._check_name(name, "iter", 2)
  opts = check.options(opts, 3, "iter", OPTIONS)
  local close_names = opts.close or {}
  for i = 1, #close_names do
    if close_names[i] ~= close_names[i] then check.badarg(3, "iter", "option 'close' must list event names") end
  end
  local it = setmetatable({
    name = name, capacity = opts.buffer or DEFAULT_BUFFER, overflow = opts.overflow or "error",
    signal = opts.signal, slots = {}, first = 1, count = 0, dropped = 0,
    wl = waitlist(), failed = nil, ended = false, recs = nil, detach = nil, sentinel = nil,
  }, Iterator)
  if not (opts.signal and opts.signal.aborted) then listen(it, emitter, name, close_names, opts.signal) end
  return it
end

-- The next event's arguments ({ n =, ... }), waiting for one; nil once it ended.
function Iterator:__call()
  check_iterator(self, "__call")
  while true do
    raise_if_aborted(check_abort(self.signal))
    if self.count > 0 then return shift(self) end
    local failed = self.failed
    if failed then
      self.failed = nil
      self.ended = true
      error(failed, 0)
    end
    if self.ended or not self.recs then return nil end
    local ok, reason = self.wl:wait(self.signal)
    if ok == false then
      stop(self)
      self.ended = true
      error(reason, 0)
    end
  end
end

function Iterator:close()
  check_iterator(self, "close")
  stop(self)
  self.ended, self.failed = true, nil
  self.slots, self.first, self.count = {}, 1, 0
end
Iterator.__close = Iterator.close

function Iterator:__tostring()
  check_iterator(self, "__tostring")
  local state = self.recs and "listening" or "ended"
  return ("EventIterator (%s %s, %d buffered, %d dropped)"):format(state, shown(self.name), self.count, self.dropped)
end

return M
