-- retry-inline: 100,000 retry calls one after another, each of an inline
-- function that fails twice with error("x") before it succeeds, zero delay.
local retry = require "ebb.retry"

local N = tonumber(arg[1]) or 100000
local attempts, ok = 0, 0

for _ = 1, N do
  local failures = 0
  ok = ok + retry(function()
    attempts = attempts + 1
    if failures < 2 then
      failures = failures + 1
      error("x")
    end
    return 1
  end, { retries = 3, base = 0, jitter = "none" })
end

print("retry-inline " .. ok .. " " .. attempts)
