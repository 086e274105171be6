-- abort-any: a long-lived parent signal combined with a fresh one per "request".
-- Each iteration: abort.any{parent, c}, one listener; even i aborts c, odd i
-- removes the listener (the request ended). Usage: abort-any.lua [iterations]
local abort = require "ebb.abort"

local n = tonumber(arg and arg[1]) or 100000

local parent = abort.controller()
local fired = 0

for i = 1, n do
  local c = abort.controller()
  local s = abort.any({ parent.signal, c.signal })
  local off = s:on_abort(function() fired = fired + 1 end)
  if i % 2 == 0 then
    c:abort()
  else
    off()
  end
end

print("abort-any " .. n .. " " .. fired)
