-- ebb.abort: AbortController and AbortSignal with DOM semantics; the signals
-- themselves (listeners, any, timeout) live in C.
local getmetatable = debug.getmetatable -- recorded right by the JIT for every value (docs/rules.md)
local core = require "ebb.abort.core"
local errors = require "ebb.errors"
local check = require "ebb.check"

local abort = {}

local Controller = {}
Controller.__index = Controller

function Controller:abort(reason)
  check.self(self, Controller, "abort", "controller")
  if self.signal.aborted then return end
  if reason == nil then reason = errors.AbortError() end
  core.abort(self.signal, reason)
end

function Controller:__tostring()
  check.self(self, Controller, "__tostring", "controller")
  return "AbortController (" .. (self.signal.aborted and "aborted" or "not aborted") .. ")"
end

function abort.controller()
  return setmetatable({ signal = core.new_signal() }, Controller)
end

function abort.aborted(reason)
  if reason == nil then reason = errors.AbortError() end
  return core.aborted(reason)
end

abort.timeout = core.timeout
abort.any = core.any

abort.is_signal = check.is_signal

-- For ebb's modules: a signal that aborts with signal's reason (signal may be
-- nil) or with a TimeoutError once ms have passed, and the function that
-- disarms the time limit. (An abort.any over an abort.timeout would keep the
-- timeout armed for the whole ms, and the process alive. Here the timeout only
-- has a listener, and taken off, it no longer holds the process: a weak timer,
-- as a Node timer unref'd.)
function abort._deadline(ms, signal)
  local limited = core.new_signal()
  local off = core.timeout(ms):on_abort(function(reason) core.abort(limited, reason) end)
  return signal and core.any { signal, limited } or limited, off
end

local function disarmed(disarm, ok, ...)
  disarm()
  if not ok then error((...), 0) end
  return ...
end

-- For ebb's modules: fn(x, s), s as abort._deadline's, disarmed as soon as fn ends.
function abort._within(ms, signal, fn, x)
  local s, disarm = abort._deadline(ms, signal)
  return disarmed(disarm, pcall(fn, x, s))
end

-- For ebb's modules: signal's abort calls on_abort(owner, reason) while owner
-- lives, and holds owner only weakly, so a long-lived signal neither keeps
-- owner alive nor keeps a listener once owner is collected (a sentinel in
-- owner[key] lets go of it). Returns the listener's off, which disarms the
-- sentinel too.
local function let_go(sentinel) getmetatable(sentinel).off() end

function abort._listen_weakly(signal, owner, key, on_abort)
  local weak = setmetatable({ owner }, { __mode = "v" })
  local sentinel = newproxy(true)
  local mt = getmetatable(sentinel)
  local off = signal:on_abort(function(reason)
    mt.__gc = nil
    local o = weak[1]
    if o ~= nil then on_abort(o, reason) end
  end)
  mt.__gc, mt.off = let_go, off
  owner[key] = sentinel
  return function()
    mt.__gc = nil
    off()
  end
end

return abort
