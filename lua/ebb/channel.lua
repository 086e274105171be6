-- ebb.channel: bounded channels between tasks. send waits while the buffer is
-- full (capacity 0: until a receiver takes the value), recv while it is empty.
local core = require "ebb.core"
local errors = require "ebb.errors"
local check = require "ebb.check"

local waitlist, check_abort = core.waitlist, core.check_abort
local error, setmetatable = error, setmetatable

local channel = {}
local Channel = {}
Channel.__index = Channel

local ClosedError = errors.class("ChannelClosedError")
channel.ClosedError = ClosedError

-- FIFO queues of values or waiting parties: O(1) push and shift.
local function push(q, v)
  local t = q.tail + 1
  q.tail = t
  q[t] = v
end

local function shift(q)
  local h = q.head
  if h >= q.tail then return nil end
  h = h + 1
  q.head = h
  local v = q[h]
  q[h] = nil
  if h == q.tail then q.head, q.tail = 0, 0 end
  return v
end

local function unshift(q, v) -- a value given back goes first again
  if q.head > 0 then
    q[q.head] = v
    q.head = q.head - 1
  else
    for i = q.tail, 1, -1 do q[i + 1] = q[i] end
    q[1] = v
    q.tail = q.tail + 1
  end
end

local function queue() return { head = 0, tail = 0 } end
local function size(q) return q.tail - q.head end

-- The first party still waiting (aborted ones left the queue by marking).
local function first_waiting(q)
  local p = shift(q)
  while p and p.gone do p = shift(q) end
  return p
end

local function check_channel(ch, fname)
  check.self(ch, Channel, fname, "channel", 2)
end


-- Hands v to the first waiting receiver; false when none waits.
local function hand_to_receiver(ch, v)
  local r = first_waiting(ch.receivers)
  if not r then return false end
  r.value, r.done = v, true
  r.wl:wake_all()
  return true
end

function Channel:send(v, signal)
  check_channel(self, "send")
  if v == nil then check.badarg(1, "send", "a value expected: nil means closed to a receiver") end
  check.opt_signal(signal, 2, "send")
  check.raise_if_aborted(check_abort(signal))
  if self.closed then error(ClosedError("send on a closed channel"), 2) end
  if hand_to_receiver(self, v) then return end -- a receiver waited: the buffer was empty
  if size(self.buffer) < self.capacity then
    push(self.buffer, v)
    return
  end
  local s = { value = v, done = false, gone = false, wl = waitlist() }
  push(self.senders, s)
  local ok, reason = s.wl:wait(signal)
  if s.done then return end -- taken, even if an abort came right after: it was sent
  if ok == false then
    s.gone = true
    error(reason, 0)
  end
  error(ClosedError("the channel was closed while sending"), 2)
end

-- The next value; nil once the channel is closed and drained.
function Channel:recv(signal)
  check_channel(self, "recv")
  check.opt_signal(signal, 1, "recv")
  check.raise_if_aborted(check_abort(signal))
  if size(self.buffer) > 0 then
    local v = shift(self.buffer)
    -- room now (a value given back may have filled it past capacity): the
    -- first sender's value moves in
    local s = size(self.buffer) < self.capacity and first_waiting(self.senders)
    if s then
      push(self.buffer, s.value)
      s.done = true
      s.wl:wake_all()
    end
    return v
  end
  local s = first_waiting(self.senders) -- capacity 0: take it from the sender
  if s then
    s.done = true
    s.wl:wake_all()
    return s.value
  end
  if self.closed then return nil end
  local r = { value = nil, done = false, gone = false, wl = waitlist() }
  push(self.receivers, r)
  local ok, reason = r.wl:wait(signal)
  if ok == false then
    -- handed a value, then aborted: it goes to the next receiver, else back
    -- to the front of the buffer
    if r.done then
      if not hand_to_receiver(self, r.value) then unshift(self.buffer, r.value) end
    else
      r.gone = true
    end
    error(reason, 0)
  end
  return r.value
end

function Channel:close()
  check_channel(self, "close")
  if self.closed then return end
  self.closed = true
  local p = first_waiting(self.receivers)
  while p do
    p.wl:wake_all()
    p = first_waiting(self.receivers)
  end
  p = first_waiting(self.senders)
  while p do
    p.wl:wake_all()
    p = first_waiting(self.senders)
  end
end

-- for v in ch:iter() do ... end: receives until the channel is closed and drained.
function Channel:iter(signal)
  check_channel(self, "iter")
  check.opt_signal(signal, 1, "iter")
  return function() return self:recv(signal) end
end

function Channel:__tostring()
  check_channel(self, "__tostring")
  return ("Channel (%d of %d buffered%s)"):format(size(self.buffer), self.capacity, self.closed and ", closed" or "")
end

function channel.new(capacity)
  if capacity == nil then capacity = 0 end
  check.whole(capacity, 1, "new", "capacity", 0, check.MAX_WHOLE)
  return setmetatable({
    capacity = capacity, closed = false,
    buffer = queue(), senders = queue(), receivers = queue(),
  }, Channel)
end

return channel
