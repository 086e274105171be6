-- Helpers shared by the ebb.retry specs.
local assert = require "luassert"
local clock = require "ebb.clock"
local errors = require "ebb.errors"

local M = {}

-- A random source that always returns r.
function M.const(r) return function() return r end end

-- A function that fails `failures` times (with the error made by make_err(attempt), by
-- default a fresh Error), then returns "ok"; calls[i] = {attempt, clock time}.
function M.flaky(failures, make_err)
  local calls = {}
  return function(attempt)
    calls[#calls + 1] = { attempt = attempt, at = clock.now() }
    if #calls <= failures then
      error(make_err and make_err(attempt) or errors.new("failure " .. attempt), 0)
    end
    return "ok"
  end, calls
end

-- Asserts the delays got are the ones expected, to within rounding.
function M.assert_delays(expected, got)
  assert.equal(#expected, #got)
  for i = 1, #expected do assert.near(expected[i], got[i], 1e-9) end
end

return M
