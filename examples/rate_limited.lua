-- Rate-limited fetches: twelve jobs share a 5-permit semaphore inside a task.group; the
-- first HTTP error cancels every other job (running or queued), each cleans up, no permit is lost.
local task = require "ebb.task"
local clock = require "ebb.clock"
local errors = require "ebb.errors"
local semaphore = require "ebb.semaphore"
local core = require "ebb.core"

clock.auto()
local t0 = clock.now()
local timers_at_start = core.stats().timers
local function log(fmt, ...) print(("[%3.0f ms] " .. fmt):format(clock.now() - t0, ...)) end

local HttpError = errors.class("HttpError")
local sem = semaphore.new(5) -- at most 5 requests in flight

-- The "network": url -> virtual latency and status (no two responses due at the same instant).
local urls = {
  { "/items/1", 130, 200 }, { "/items/2", 70, 200 }, { "/items/3", 210, 200 },
  { "/items/4", 95, 200 }, { "/items/5", 160, 200 }, { "/items/6", 45, 200 },
  { "/items/7", 40, 503 }, { "/items/8", 85, 200 }, { "/items/9", 175, 200 },
  { "/items/10", 60, 200 }, { "/items/11", 140, 200 }, { "/items/12", 55, 200 },
}

local function fetch(url, latency, status)
  task.sleep(latency) -- a cancelled job's request is cut off here
  if status ~= 200 then error(HttpError("GET " .. url .. " -> HTTP " .. status, { status = status })) end
  return ("<%s: %d bytes>"):format(url, latency * 10)
end

-- One job: wait for a permit, fetch, give the permit back whatever happens.
local function job(url, latency, status)
  local fetching = false
  local ok, res = pcall(sem.with, sem, function()
    fetching = true
    log("%-9s start  (in flight: %d, queued: %d)", url, 5 - sem.available, sem.waiting)
    return fetch(url, latency, status)
  end)
  if ok then
    log("%-9s done   %s", url, res)
    return res
  end
  -- cleanup: the permit is already back (sem:with released it, or it was never taken)
  log("%-9s cleanup: %s (%s), permits free: %d", url,
    fetching and "request cut off" or "never started", tostring(res):match("^[^\n]*"), sem.available)
  error(res, 0)
end

local ok, err = pcall(task.group, function(g)
  for _, u in ipairs(urls) do g:spawn(job, u[1], u[2], u[3]) end
end)

log("group ok: %s", tostring(ok))
log("raised: %s (status %d)", tostring(err), err.status)
log("is an HttpError: %s", tostring(errors.is(err, HttpError)))
log("permits available: %d of 5, waiters: %d", sem.available, sem.waiting)
log("timers left: %d (at start: %d)", core.stats().timers, timers_at_start)
