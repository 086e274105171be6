-- ebb.events: the event emitter (Node's EventEmitter): listeners called in
-- order by emit, removed by their off function, after one call, or by a signal.
local getmetatable = debug.getmetatable -- recorded right by the JIT for every value (docs/rules.md)
local check = require "ebb.check"
local errors = require "ebb.errors"
local core = require "ebb.core"
local host = require "ebb.host"

local type, error, xpcall, select, setmetatable, getmetatable, tostring, unpack =
  type, error, xpcall, select, setmetatable, getmetatable, tostring, unpack
local traced, is_signal, is_callable = host.traced, check.is_signal, check.is_callable
local check_abort, waitlist, raise_if_aborted = core.check_abort, core.waitlist, check.raise_if_aborted
local clock_now = require("ebb.clock.core").now
local listen = require("ebb.abort.core").listen

local events = {}

local Emitter = {}
Emitter.__index = Emitter

local DEFAULT_MAX = 10 -- as Node's defaultMaxListeners

local function check_emitter(em, fname)
  if getmetatable(em) ~= Emitter then check.self(em, Emitter, fname, "emitter", 2) end
end

-- Any value a table can be keyed by: a string, or a table used as a private name.
local function check_name(name, fname, n)
  if name == nil or name ~= name then
    check.badarg(n or 1, fname, "event name expected, got " .. (name == nil and "nil" or "NaN"), 2)
  end
end

local function shown(name) return type(name) == "string" and "'" .. name .. "'" or tostring(name) end

-- ---- the lists: each name's listeners are an array { n =, emitting =, rec... };
-- a list being emitted is never changed: a change copies it (emit's snapshot). ----

local function writable_list(em, name)
  local lists = em._lists
  local list = lists[name]
  if list == nil then
    list = em._spare or { n = 0, emitting = 0 }
    em._spare = false
    lists[name] = list
  elseif list.emitting > 0 then
    local copy = { n = list.n, emitting = 0 }
    for i = 1, list.n do copy[i] = list[i] end
    lists[name], list = copy, copy
  end
  return list
end

-- Takes rec out of its emitter's list and off its signal; false when it was out.
local function remove(rec)
  local em, name = rec.emitter, rec.name
  if not em then return false end
  rec.emitter = false
  local list = writable_list(em, name)
  local n = list.n
  for i = n, 1, -1 do -- the latest first: a listener added last is most often the first to go
    if list[i] == rec then
      for j = i, n - 1 do list[j] = list[j + 1] end
      list[n] = nil
      break
    end
  end
  n = n - 1
  list.n = n
  if n == 0 then -- kept for the next name that gets a listener: one listener at a time makes no table
    em._lists[name] = nil
    em._spare = list
  end
  em._count = em._count - 1
  local detach = rec.detach
  if detach then
    rec.detach = false
    detach()
  end
  return true
end

local function warn_leak(em, name, n)
  local warned = em._warned
  if not warned then
    warned = {}
    em._warned = warned
  end
  if warned[name] then return end
  warned[name] = true
  io.stderr:write(("ebb: warning: possible listener leak: %d listeners for event %s on one emitter, "
    .. "above its limit of %d (emitter:set_max_listeners(n) raises it, 0 for no limit)\n")
    :format(n, shown(name), em._max))
end

-- Adds fn; returns its record: { fn, emitter (false once removed), name, detach
-- (what takes it off its signal, or false) [, once, fired] }. Four fields, as
-- most are: each listener added is a table made.
local function add(em, name, fn, once, detach)
  local rec = { fn = fn, emitter = em, name = name, detach = detach }
  if once then rec.once, rec.fired = true, false end
  local list = writable_list(em, name)
  local n = list.n + 1
  list[n], list.n = rec, n
  em._count = em._count + 1
  if n > em._max and em._max > 0 then warn_leak(em, name, n) end
  return rec
end

local function noop() return false end

local ON = { signal = check.kind.signal, once = check.kind.boolean }

-- on(name, fn [, opts]) -> off
function Emitter:on(name, fn, opts)
  check_emitter(self, "on")
  check_name(name, "on")
  if not is_callable(fn) then check.callable(fn, 2, "on") end
  local signal, once
  if opts ~= nil then
    check.options(opts, 3, "on", ON)
    signal, once = opts.signal, opts.once
  end
  local rec
  local function off() return remove(rec) end
  -- the signal holds the listener only while it is on the emitter: removing it detaches it
  local detach = false
  if signal then
    detach = listen(signal, off)
    if not detach then return noop end -- aborted already: nothing is added
  end
  rec = add(self, name, fn, once, detach)
  return off
end

function Emitter:off(name, fn)
  check_emitter(self, "off")
  check_name(name, "off")
  check.callable(fn, 2, "off")
  local list = self._lists[name]
  if list == nil then return false end
  for i = list.n, 1, -1 do
    if list[i].fn == fn then return remove(list[i]) end
  end
  return false
end

function Emitter:remove_all_listeners(name)
  check_emitter(self, "remove_all_listeners")
  local names = {}
  if name ~= nil then
    names[1] = name
  else
    for k in pairs(self._lists) do names[#names + 1] = k end
  end
  for _, k in ipairs(names) do
    local list = self._lists[k]
    while list do
      remove(list[list.n])
      list = self._lists[k]
    end
  end
end

function Emitter:listener_count(name)
  check_emitter(self, "listener_count")
  check_name(name, "listener_count")
  local list = self._lists[name]
  return list and list.n or 0
end

-- The functions listening to name now, in the order they are called.
function Emitter:listeners(name)
  check_emitter(self, "listeners")
  check_name(name, "listeners")
  local list, fns = self._lists[name], {}
  for i = 1, list and list.n or 0 do fns[i] = list[i].fn end
  return fns
end

function Emitter:event_names()
  check_emitter(self, "event_names")
  local names = {}
  for name in pairs(self._lists) do names[#names + 1] = name end
  return names
end

function Emitter:set_max_listeners(n)
  check_emitter(self, "set_max_listeners")
  self._max = check.whole(n, 1, "set_max_listeners", "n", 0, check.MAX_WHOLE)
end

-- ---- emit ----

local function report(e, name)
  host.report_listener_error(e, "an event listener for " .. shown(name))
end

-- As Node: an 'error' event nobody listens to raises its error.
local function unhandled_error(e)
  if e == nil then e = errors.new("an 'error' event was emitted with no listener for it") end
  error(e, 0)
end

-- Calls the listeners there were when it began, in the order they were added.
function Emitter:emit(name, ...)
  check_emitter(self, "emit")
  local list = self._lists[name]
  if list == nil then
    if name == "error" then unhandled_error((...)) end
    check_name(name, "emit")
    return false
  end
  list.emitting = list.emitting + 1
  for i = 1, list.n do
    local rec = list[i]
    if rec.once then
      if rec.fired then goto next end
      rec.fired = true
      remove(rec)
    end
    do
      local ok, e = xpcall(rec.fn, traced, ...)
      if not ok then
        -- a listener that waited in a task cancelled meanwhile: the cancel goes on up
        local live, reason = check_abort()
        if live == false and reason == e then
          list.emitting = list.emitting - 1
          error(e, 0)
        end
        report(e, name)
      end
    end
    ::next::
  end
  list.emitting = list.emitting - 1
  return true
end

-- ---- once: waits in the calling task ----

local ONCE = { signal = check.kind.signal, timeout = check.kind.ms }

-- opts are checked by once: this is tail-called, so a check here would not
-- know the caller's line.
local function wait_for(em, name, opts)
  local signal, timeout
  if opts ~= nil then signal, timeout = opts.signal, opts.timeout end
  raise_if_aborted(check_abort(signal))
  local wl, got, failed = waitlist(), nil, nil
  local rec = add(em, name, function(...)
    got = { n = select("#", ...), ... }
    wl:wake_all()
  end, true)
  local on_error = name ~= "error" and add(em, "error", function(e)
    failed = { e }
    wl:wake_all()
  end, true)
  local deadline = timeout and clock_now() + timeout
  local ok, reason = true, nil
  while not got and not failed do
    ok, reason = wl:wait(signal, deadline and math.max(0, deadline - clock_now()))
    if ok ~= true then break end
  end
  remove(rec)
  if on_error then remove(on_error) end
  if ok == nil then error(errors.TimeoutError("no " .. shown(name) .. " event within " .. timeout .. " ms"), 3) end
  raise_if_aborted(ok, reason)
  if failed then error(failed[1], 0) end
  return unpack(got, 1, got.n)
end

local ONCE_LISTENER = { signal = check.kind.signal }

-- once(name, fn [, opts]) -> off: a listener called once; once(name [, opts]) -> ...: waits.
function Emitter:once(name, fn, opts)
  check_emitter(self, "once")
  check_name(name, "once")
  if fn == nil or type(fn) == "table" and not is_callable(fn) then
    if fn ~= nil then check.options(fn, 2, "once", ONCE) end
    return wait_for(self, name, fn)
  end
  if not is_callable(fn) then check.badarg(2, "once", "function or table of options expected, got " .. type(fn)) end
  if opts ~= nil then
    check.options(opts, 3, "once", ONCE_LISTENER)
  end
  return Emitter.on(self, name, fn, { signal = opts and opts.signal, once = true })
end

function Emitter:__tostring()
  check_emitter(self, "__tostring")
  local names = 0
  for _ in pairs(self._lists) do names = names + 1 end
  return ("EventEmitter (%d listener%s, %d event%s)"):format(self._count, self._count == 1 and "" or "s",
    names, names == 1 and "" or "s")
end

function events.new()
  return setmetatable({ _lists = {}, _count = 0, _max = DEFAULT_MAX, _warned = false, _spare = false }, Emitter)
end

function events.is_emitter(v) return getmetatable(v) == Emitter end

-- for internal use by ebb.events_iter
events._add, events._remove, events._check_emitter, events._check_name, events._shown =
  add, remove, check_emitter, check_name, shown

function events.iter(emitter, name, opts)
  return require("ebb.events_iter").iter(emitter, name, opts)
end

events.OverflowError = errors.class("EventOverflowError")

return events
