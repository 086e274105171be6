-- Cancellation is cooperative: a task sleeping 10 s is cancelled after 100 ms,
-- its sleep raises the reason, and its cleanup still runs before it ends.
local task = require "ebb.task"
local abort = require "ebb.abort"
local clock = require "ebb.clock"

clock.auto() -- virtual time: the output (and the times in it) are exact

local ctl = abort.controller()
local t0 = clock.now()
local function at() return ("[%4.0f ms]"):format(clock.now() - t0) end

local sleeper = task.spawn(function()
  print(at(), "sleeper: going to sleep for 10 s")
  local ok, err = pcall(task.sleep, 10000, ctl.signal)
  -- finally-style: this cleanup runs whether the sleep ended or was cut off
  print(at(), "sleeper: cleanup runs (sleep completed: " .. tostring(ok) .. ")")
  if not ok then error(err, 0) end -- re-raise: the task ends with the reason
  return "slept"
end)

task.spawn(function()
  task.sleep(100)
  print(at(), "controller: aborting")
  ctl:abort(require("ebb.errors").AbortError("the user pressed stop"))
end)

local ok, reason = pcall(sleeper.await, sleeper)
print(at(), "await ok: " .. tostring(ok))
print(at(), "reason: " .. tostring(reason))
print(at(), "signal.reason is the same object: " .. tostring(reason == ctl.signal.reason))
