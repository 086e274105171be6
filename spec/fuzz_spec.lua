-- Specs for the fuzzer (fuzz/, `make fuzz`): it finds ebb's public surface by
-- itself, and a short seeded run ends cleanly and says what it did.
package.path = "spec/support/?.lua;" .. package.path
local run = require "run_ebb"
local public_modules = require "public_modules"

describe("the fuzzer", function()
  it("finds every public function of every module, and the methods behind an __index function", function()
    local modules = public_modules()
    assert.is_true(#modules >= 16)
    local out, err, status = run.ebb("spec/fixtures/fuzz/surface_check.lua")
    assert.equal("", err)
    assert.equal(0, status)
    assert.equal("modules: " .. table.concat(modules, " ") .. "\n" .. "missing: \n", out)
  end)

  -- A self of the wrong kind is left to `make fuzz`: the quick run keeps to the
  -- other arguments.
  it("makes a short seeded run that ends with its figures", function()
    -- the calls themselves write to stdout and stderr at times
    local _, err, status = run.sh("FUZZ_OWN_SELF=1 " .. run.ebb_cmd("fuzz/fuzz.lua 7 150 /dev/null") .. " </dev/null")
    assert.equal(0, status, err)
    assert.matches("fuzz: seed 7, 150 calls\n", err, 1, true)
    local calls, targets = err:match("fuzz: seed 7: (%d+) calls %(%d+ raised, %d+ unhandled task failures%), (%d+) of %d+ targets called")
    assert.truthy(calls, err)
    assert.truthy(tonumber(calls) >= 150, err)
    assert.truthy(tonumber(targets) > 50, err)
  end)
end)
