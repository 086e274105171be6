-- abort.any combines a user's controller with abort.timeout(250): whichever
-- aborts first cuts off the request; the timeout's timer does not outlive it.
local task = require "ebb.task"
local abort = require "ebb.abort"
local clock = require "ebb.clock"
local errors = require "ebb.errors"
local core = require "ebb.core"

clock.auto()

local user = abort.controller() -- e.g. a "cancel" button; never pressed here
local signal = abort.any { user.signal, abort.timeout(250) }
local t0 = clock.now()

-- A simulated request that would take 1 s.
local function request(sig)
  task.sleep(1000, sig)
  return "response"
end

local ok, err = pcall(request, signal)
print(("after %.0f ms: ok=%s"):format(clock.now() - t0, tostring(ok)))
print("error: " .. tostring(err))
print("is a TimeoutError: " .. tostring(errors.is(err, errors.TimeoutError)))
print("signal.aborted: " .. tostring(signal.aborted))
print("signal.reason is the error: " .. tostring(signal.reason == err))
print("user signal aborted: " .. tostring(user.signal.aborted))
print("timers left: " .. core.stats().timers)
