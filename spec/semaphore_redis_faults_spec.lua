-- The fault harness of semaphore.redis (bench/semaphore_faults.lua), short: processes
-- killed with SIGKILL, waits and holds aborted, the redis-server restarted; the bound
-- on holders holds, seen from outside the semaphore, and every permit is back at the end.
package.path = "spec/support/?.lua;" .. package.path
local process = require "ebb.process"
local BIN = require("run_ebb").BIN

local function faults(args)
  local r = process.run(BIN, { "bench/semaphore_faults.lua", unpack(args) })
  assert.equal("", r.stderr)
  assert.equal(0, r.code, r.stdout)
  assert.matches("most holders at once, seen by the observer: %d+ %(bound 3%): held", r.stdout)
  assert.matches("every permit back", r.stdout)
  return r.stdout
end

describe("semaphore.redis under faults", function()
  it("keeps the bound with processes killed and waits and holds aborted", function()
    local out = faults { "--procs", "4", "--each", "150", "--kills", "2", "--lease", "300" }
    assert.matches("processes killed with SIGKILL: 2", out)
  end)

  it("keeps the bound across a restart of a redis-server that keeps its data", function()
    local out = faults { "--procs", "3", "--each", "100", "--kills", "0", "--lease", "300", "--restart", "aof" }
    assert.matches("rounds done: 300 ", out)
    assert.matches("redis%-server restarted: yes", out)
  end)
end)
