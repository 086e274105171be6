-- What a script finds when it starts is what the standalone luajit gives it,
-- though the host has loaded its own modules by then.
package.path = "spec/support/?.lua;" .. package.path
local run = require "run_ebb"

local FIXTURE = "spec/fixtures/compat/loaded_at_start.lua"

describe("the state a script starts in", function()
  it("has in package.loaded only what luajit's has", function()
    local expected, _, lj_status = run.sh("luajit " .. FIXTURE)
    assert.equal(0, lj_status)
    local out, err, status = run.ebb(FIXTURE)
    assert.equal("", err)
    assert.equal(0, status)
    assert.equal(expected, out)
  end)

  it("has the table library without table.new until a require, as luajit's", function()
    local fixture = "spec/fixtures/compat/table_new.lua"
    local expected, _, lj_status = run.sh("luajit " .. fixture)
    assert.equal(0, lj_status)
    local out, err, status = run.ebb(fixture)
    assert.equal("", err)
    assert.equal(0, status)
    assert.equal(expected, out)
  end)

  it("hands out the host's own module instances on require", function()
    local out, err, status = run.ebb([[-e '
      local task = require "ebb.task"
      assert(package.loaded["ebb.task"] == task and require "ebb.task" == task)
      local t = task.spawn(function() return task.current() end)
      print(t:await() == t, task.current() ~= nil)']])
    assert.equal("", err)
    assert.equal(0, status)
    assert.equal("true\ttrue\n", out)
  end)
end)
