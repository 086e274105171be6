-- ebb.ratelimit_line: the line of takes waiting on a local rate limiter: first come,
-- first served. Only the first in line asks for tokens; the others wait until the
-- one ahead of them has taken its tokens or given up. And the arguments of take.
local core = require "ebb.core"
local check = require "ebb.check"
local errors = require "ebb.errors"
local clock_now = require("ebb.clock.core").now

local error, pcall, format = error, pcall, string.format
local check_abort, waitlist, raise_if_aborted = core.check_abort, core.waitlist, check.raise_if_aborted

local M = {}

-- A limiter's line lives in its own fields: _first, _last (indexes into
-- _waiters), _queued (the tokens the waiting takes want).
function M.init(limiter)
  limiter._waiters, limiter._first, limiter._last, limiter._queued, limiter._spare = {}, 1, 0, 0, {}
  return limiter
end

-- Waiters out of the line are kept for the next takes that wait (a waitlist each).
local function spare(limiter, w)
  local list = limiter._spare
  list[#list + 1] = w
end

function M.empty(limiter) return limiter._first > limiter._last end

function M.waiting(limiter)
  local n, w = 0, limiter._waiters
  for i = limiter._first, limiter._last do
    if not w[i].gone then n = n + 1 end
  end
  return n
end

-- w leaves the line; when it was first, the next one still waiting is woken.
local function leave(limiter, w)
  w.gone = true
  limiter._queued = limiter._queued - w.n
  local waiters, i = limiter._waiters, limiter._first
  if waiters[i] ~= w then return end
  while i <= limiter._last and waiters[i].gone do
    spare(limiter, waiters[i])
    waiters[i] = nil
    i = i + 1
  end
  if i > limiter._last then
    limiter._first, limiter._last = 1, 0
    return
  end
  limiter._first = i
  waiters[i].wl:wake_all()
end

local function timed_out(timeout)
  error(errors.TimeoutError(format("no tokens within %s ms", tostring(timeout))), 0)
end
M.timed_out = timed_out

-- Waits for w's turn, then asks attempt(limiter, n, signal) for the tokens until it
-- gives them (it returns nil), sleeping the ms it returns in between.
-- ms: what a first attempt, made before w joined the line, said to wait.
local function wait_turn(limiter, w, attempt, signal, timeout, deadline, ms)
  while true do
    if ms == nil and limiter._waiters[limiter._first] == w then
      ms = attempt(limiter, w.n, signal)
      if not ms then return end
    end
    if deadline then
      local left = deadline - clock_now()
      if left <= 0 then timed_out(timeout) end
      if not ms or left < ms then ms = left end
    end
    local ok, reason = w.wl:wait(signal, ms)
    raise_if_aborted(ok, reason)
    ms = nil
  end
end

-- take(limiter, n, signal, timeout, attempt): n tokens for the calling task,
-- in line behind every take already waiting.
function M.take(limiter, n, signal, timeout, attempt)
  raise_if_aborted(check_abort(signal))
  local ms
  if limiter._first > limiter._last then -- nobody waits: no line to join unless refused
    ms = attempt(limiter, n, signal)
    if not ms then return end
  end
  local list = limiter._spare
  local w = list[#list]
  if w then
    list[#list] = nil
    w.n, w.gone = n, false
  else
    w = { n = n, wl = waitlist(), gone = false }
  end
  local last = limiter._last + 1
  limiter._last = last
  limiter._waiters[last] = w
  limiter._queued = limiter._queued + n
  local ok, err = pcall(wait_turn, limiter, w, attempt, signal, timeout, timeout and clock_now() + timeout, ms)
  leave(limiter, w)
  if not ok then error(err, 0) end
end

-- The arguments of take: (n, signal), (n, {signal=, timeout=}), (signal), (opts) or ().
local TAKE = { signal = check.kind.signal, timeout = check.kind.ms }

function M.take_args(a, b, burst, fname)
  local n, at = 1, 2
  if type(a) == "number" then
    n = a
    check.whole(n, 1, fname, "n", 1, check.MAX_WHOLE, 2)
    if n > burst then
      check.badarg(1, fname, format("n must be at most the burst (%d), got %d", burst, n), 2)
    end
  elseif a ~= nil then
    if b ~= nil then check.expected(a, 1, fname, "number", 2) end
    b, at = a, 1
  end
  if b == nil then return n end
  if check.is_signal(b) then return n, b end
  if type(b) ~= "table" then check.expected(b, at, fname, "abort signal or table of options", 2) end
  check.options(b, at, fname, TAKE, 2)
  return n, b.signal, b.timeout
end

return M
