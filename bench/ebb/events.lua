-- events: the patterns guide's fix for listeners leaking on a long-lived emitter,
-- emitter:on("data", handler, { signal = signal }), as users write it: per
-- iteration a controller, a new closure as the listener, one event, then the
-- abort that removes the listener. Usage: events.lua [iterations]
local events = require "ebb.events"
local abort = require "ebb.abort"

local n = tonumber(arg and arg[1]) or 1000000

local emitter = events.new() -- lives for the whole run
local sum = 0

for i = 1, n do
  local controller = abort.controller()
  emitter:on("data", function(x) sum = sum + x end, { signal = controller.signal })
  emitter:emit("data", i)
  controller:abort()
end

print("events " .. n .. " " .. sum .. " " .. emitter:listener_count("data"))
