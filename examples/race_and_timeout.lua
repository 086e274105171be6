-- task.race takes the fastest of three mirrors and cancels the others;
-- task.timeout cuts off a call that takes too long with a TimeoutError.
local task = require "ebb.task"
local clock = require "ebb.clock"
local errors = require "ebb.errors"

clock.auto()
local t0 = clock.now()
local function log(fmt, ...) print(("[%4.0f ms] " .. fmt):format(clock.now() - t0, ...)) end

local function mirror(name, latency)
  return function()
    local ok, err = pcall(task.sleep, latency)
    if not ok then
      log("%s: cancelled (%s)", name, tostring(err))
      error(err, 0)
    end
    log("%s: answered after %d ms", name, latency)
    return "package.tar.gz from " .. name, latency
  end
end

local body, latency = task.race {
  mirror("eu.mirror", 120),
  mirror("us.mirror", 80),
  mirror("asia.mirror", 300),
}
log("race winner: %s (%d ms)", body, latency)

-- A fast call finishes within its time limit...
local v = task.timeout(500, function() task.sleep(50); return "quick answer" end)
log("timeout(500) fast call: %s", v)

-- ...a slow one is cancelled (its cleanup runs) and TimeoutError is raised.
local ok, err = pcall(task.timeout, 200, function()
  local ok2, e = pcall(task.sleep, 5000)
  if not ok2 then log("slow call: cancelled, cleaning up") error(e, 0) end
  return "slow answer"
end)
log("timeout(200) slow call: ok=%s", tostring(ok))
log("error: %s", tostring(err))
log("is a TimeoutError: %s", tostring(errors.is(err, errors.TimeoutError)))
