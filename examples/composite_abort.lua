-- Composite abort: abort.any of a timeout, a user's controller and a parent signal cuts off
-- task.sleep(ms, signal); three runs, each won by a different input, and no timer outlives one.
local task = require "ebb.task"
local clock = require "ebb.clock"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local core = require "ebb.core"

clock.auto()
local timers_at_start = core.stats().timers

-- timeout OR user cancellation OR parent abort: no timer to clear, no listener to remove.
local function composite_abort(timeout_ms, parent_signal)
  local user = abort.controller()
  local signal = abort.any { abort.timeout(timeout_ms), user.signal, parent_signal }
  return signal, user
end

-- The work: a 300 ms request that listens to the signal.
local function work(signal)
  task.sleep(300, signal)
  return "response"
end

local function run(title, timeout_ms, setup)
  local t0 = clock.now()
  local parent = abort.controller() -- e.g. the server's shutdown signal
  local signal, user = composite_abort(timeout_ms, parent.signal)
  local trigger = setup and setup(user, parent) -- a task that aborts one input, or nil
  local ok, err = pcall(work, signal)
  if trigger then trigger:await() end
  print(("%s (timeout %d ms):"):format(title, timeout_ms))
  print(("  after %.0f ms: ok=%s, %s"):format(clock.now() - t0, tostring(ok),
    ok and err or ("%s: %s"):format(err.name, err.message)))
  if not ok then
    local winner = err == user.signal.reason and "the user's controller"
      or err == parent.signal.reason and "the parent signal"
      or errors.is(err, errors.TimeoutError) and "the timeout" or "?"
    print(("  won by %s; the error is signal.reason: %s"):format(winner, tostring(err == signal.reason)))
  end
end

-- A timeout that lost the race is watched by nothing: it no longer keeps the
-- process alive, and it is not counted among the live timers.
local function check_timers()
  print(("  timers left: %d (at start: %d)"):format(core.stats().timers, timers_at_start))
end

run("run 1, cut by the timeout", 100)
check_timers()

run("run 2, cut by the user", 500, function(user)
  return task.delay(60, function()
    user:abort(errors.AbortError("the user pressed cancel"))
  end)
end)
check_timers()

run("run 3, cut by the parent", 500, function(_, parent)
  return task.delay(80, function()
    parent:abort(errors.AbortError("the server is shutting down"))
  end)
end)
check_timers()
