-- ebb.abort: AbortController and AbortSignal with DOM semantics; the signals
-- themselves (listeners, any, timeout) live in C.
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

return abort
