-- Assertion helpers shared by the specs.
local assert = require "luassert"

local M = {}

-- Returns assert_bad(fn, pattern): asserts fn raises an error matching `pattern`,
-- positioned at the spec file whose name matches `file` (a Lua pattern).
function M.bad_at(file)
  return function(fn, pattern)
    local ok, err = pcall(fn)
    assert.is_false(ok, "expected an error")
    assert.equal("string", type(err))
    assert.matches(pattern, err)
    assert.matches("^[^\n]*" .. file .. ":%d+: ", err)
  end
end

-- Asserts that the clock reads `ms` after t0 (now, if given, else clock.now()).
-- Virtual time readings are floats on a real-time base: compared to within rounding.
function M.elapsed(t0, ms, now)
  assert.near(t0 + ms, now or require("ebb.clock").now(), 1e-6)
end

-- Calls fn(...), which must raise; returns what it raised.
function M.raised(fn, ...)
  local ok, e = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return e
end

-- One spec per case {name, fn, pattern}: fn must raise an error matching pattern.
-- (`it` is passed in: busted gives it to spec files, not to modules.)
function M.each_bad(it, cases)
  for _, c in ipairs(cases) do
    it(c[1], function()
      local ok, e = pcall(c[2])
      assert.is_false(ok, "expected an error")
      assert.matches(c[3], tostring(e))
    end)
  end
end

return M
