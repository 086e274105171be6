-- ebb.task_interval: task.interval, a function called in a task of its own at
-- the planned times start + k*ms, so it never drifts; ticks whose time passed
-- while the loop or the function itself was busy are skipped, never run in a
-- burst. Loaded the first time task.interval is called (ebb.task holds a stub
-- for it).
local task = require "ebb.task"
local check = require "ebb.check"
local check_abort = require("ebb.core").check_abort
local clock_now = require("ebb.clock.core").now

local type, tostring, setmetatable, ceil, min = type, tostring, setmetatable, math.ceil, math.min
local MAX_WHOLE = check.MAX_WHOLE
local sleep = task.sleep

local M = {}

local OPTIONS = { signal = check.kind.signal }

-- The first tick whose planned time (start + n*ms) is not past at `now`. A
-- period too small for the clock's precision overflows the count: it stops
-- at 2^53, past which tick numbers are not told apart anyway.
local function first_due(start, ms, now)
  local n = min(ceil((now - start) / ms), MAX_WHOLE)
  if start + n * ms < now then n = n + 1 end -- (now - start) / ms rounded down
  return n
end

-- The interval's task: sleeps to each planned time, then calls fn(k) there.
-- A tick whose time passed (fn still running, the loop busy) is skipped; one
-- due less than half a period after the last call began waits until then, so
-- calls never bunch up. Every tick waits, even one already due, so a function
-- slower than the period still lets the loop run between two calls.
local function run(start, ms, fn)
  local k, began, half = 0, nil, ms / 2
  while true do
    local now = clock_now()
    k = k + 1
    local at = start + k * ms
    if at < now then
      k = first_due(start, ms, now)
      at = start + k * ms
    end
    if began and at < began + half then at = began + half end
    local wait = at - now
    sleep(wait > 0 and wait or 0)
    began = clock_now()
    fn(k)
  end
end

-- The hook told when the interval's task ends, however it ends: the signal's
-- listener goes with it.
local Unlisten = {}
Unlisten.__index = Unlisten
function Unlisten:settled() self.off() end

local function check_period(ms)
  if type(ms) ~= "number" then
    check.badarg(1, "interval", "ms: number of milliseconds expected, got " .. type(ms), 2)
  end
  if not (ms > 0 and ms <= check.MAX_MS) then
    check.badarg(1, "interval", "ms must be a positive number of milliseconds, at most 1e12, got "
      .. tostring(ms), 2)
  end
end

function M.interval(ms, fn, opts)
  check_period(ms)
  check.callable(fn, 2, "interval")
  local signal = opts ~= nil and check.options(opts, 3, "interval", OPTIONS).signal
  if signal then check.raise_if_aborted(check_abort(signal)) end
  local start = clock_now()
  if not signal then return task.spawn(run, start, ms, fn) end
  local hook = setmetatable({}, Unlisten)
  local t = task._deferred(hook, run, start, ms, fn)
  hook.off = signal:on_abort(function(reason) t:cancel(reason) end)
  task._start(t)
  return t
end

return M
