-- The thundering herd: 50 clients retry against one contended resource, once per jitter
-- strategy, counting the calls made and the time until the last client got through.
local retry = require "ebb.retry"
local task = require "ebb.task"
local clock = require "ebb.clock"
local errors = require "ebb.errors"

clock.auto() -- virtual time: 43 s of backoff run in a few milliseconds, exactly

local CLIENTS = 50
local WINDOW = 10 -- ms: the resource serves one request, then refuses all others for this long

-- Runs every client against a fresh resource; the total calls and when the last one succeeded.
local function herd(jitter)
  retry.seed(1)
  local calls, free_at = 0, -math.huge
  local function request()
    calls = calls + 1
    local now = clock.now()
    if now < free_at then error(errors.new("busy"), 0) end -- lost the race: try later
    free_at = now + WINDOW
  end
  local clients = {}
  for i = 1, CLIENTS do
    clients[i] = function() retry(request, { retries = math.huge, base = 10, cap = 1000, jitter = jitter }) end
  end
  local t0 = clock.now()
  task.all(clients)
  return calls, clock.now() - t0
end

print(("%-13s %6s %10s"):format("jitter", "calls", "done at"))
for _, jitter in ipairs { "none", "full", "equal", "decorrelated" } do
  local calls, ms = herd(jitter)
  print(("%-13s %6d %7.0f ms"):format(jitter, calls, ms))
end
