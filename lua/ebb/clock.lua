-- ebb.clock: the one clock every timer of the host uses, real or virtual.
-- freeze/advance for exact tests; auto jumps to the next timer when idle.
local core = require "ebb.clock.core"
local sched = require "ebb.core"
local check = require "ebb.check"

local clock = {}

clock.now = core.now

function clock.freeze() core.set_mode("frozen") end
function clock.auto() core.set_mode("auto") end
function clock.real() core.set_mode("real") end
function clock.mode() return core.mode() end

-- Virtual time goes no further: a deadline (now plus at most 1e12 ms) then
-- stays below 2^53, where a double still holds every millisecond.
local LIMIT = 2 ^ 52

-- Runs every ready task, then fires the due timers in deadline order with
-- ready tasks run after each; time reads each timer's deadline as it fires.
function clock.advance(ms)
  check.ms(ms, 1, "advance", "ms")
  if core.mode() == "real" then
    error("clock.advance needs a virtual clock: call clock.freeze() or clock.auto() first", 2)
  end
  local target = core.now() + ms
  if target > LIMIT then
    check.badarg(1, "advance", ("ms: would take the clock past 2^52 ms (now %.17g)"):format(core.now()))
  end
  check.raise_if_aborted(sched.settle())
  while core.step(target) do check.raise_if_aborted(sched.settle()) end
  core.set_now(target)
end

-- Milliseconds until the next timer fires, or nil when none is armed.
function clock.next_timer()
  local d = core.next_deadline()
  return d and math.max(0, d - core.now())
end

return clock
