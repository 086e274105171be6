-- Retry with full jitter: transient failures are retried after random, growing delays,
-- a PermanentError is never retried, and an abort signal cuts a retry loop short.
local retry = require "ebb.retry"
local task = require "ebb.task"
local abort = require "ebb.abort"
local clock = require "ebb.clock"
local errors = require "ebb.errors"

clock.auto()    -- virtual time: the delays take no real time and the times printed are exact
retry.seed(42)  -- the jitter draws are repeatable, so the output is too

local PermanentError = errors.class("PermanentError")
local t0 = clock.now()
local function at() return ("[%5.0f ms]"):format(clock.now() - t0) end

-- A fake endpoint: answers each request with the next status of `statuses`, then 200.
local function endpoint(path, statuses)
  local n = 0
  return function(attempt)
    n = n + 1
    local status = statuses[n] or 200
    print(at(), ("GET %s (attempt %d) -> %d"):format(path, attempt, status))
    if status >= 500 then error(errors.new("server error " .. status)) end
    if status >= 400 then error(PermanentError("client error " .. status)) end -- a 4xx will not change
    return "data from " .. path
  end
end

local function options(extra)
  local o = {
    retries = 5, base = 100, cap = 2000, jitter = "full",
    should_retry = function(err) return not errors.is(err, PermanentError) end,
    on_retry = function(err, attempt, ms)
      print(at(), ("  %s: retry %d in %.0f ms"):format(err.message, attempt + 1, ms))
    end,
  }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local function report(ok, v) print(at(), ok and ("ok: " .. v) or ("gave up: " .. tostring(v))) end

-- 1. Two transient failures, then success.
report(pcall(retry, endpoint("/flaky", { 503, 502 }), options()))

-- 2. A permanent error: raised at once, unchanged, with no retry.
report(pcall(retry, endpoint("/missing", { 404 }), options()))

-- 3. A service that stays down; the user gives up 1.5 s in, during a backoff sleep.
local ctl = abort.controller()
task.delay(1500, function()
  print(at(), "user: stop")
  ctl:abort(errors.AbortError("the user stopped waiting"))
end)
report(pcall(retry, endpoint("/down", { 503, 503, 503, 503, 503, 503 }), options { signal = ctl.signal }))
