-- A heartbeat every 500 ms on task.interval until Ctrl-C: the interval is given
-- ebb.shutdown, so the first SIGINT (or SIGTERM) stops it and the script says so.
-- driven by spec/examples_driven_spec.lua (it sends SIGINT after the second beat)
local ebb = require "ebb"
local task = require "ebb.task"
io.stdout:setvbuf("line") -- each beat is seen at once, through a pipe too

local beats = 0
local heartbeat = task.interval(500, function(tick)
  beats = beats + 1
  print("beat " .. tick)
end, { signal = ebb.shutdown })

local ok, why = pcall(heartbeat.await, heartbeat) -- an interval ends only when stopped
assert(not ok and why == ebb.shutdown.reason)
print(("stopped by %s after %d beats"):format(why.signal, beats))
