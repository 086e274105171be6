-- Specs for how uncaught errors and unhandled task failures are reported: any
-- error value, including one whose __tostring raises, nil and NaN, and the
-- traceback of where a plain error was first raised, across re-raises.
package.path = "spec/support/?.lua;" .. package.path
local run = require "run_ebb"

local FIX = "spec/fixtures/errors/"
local function ebb_fixture(name) return run.ebb(run.quote(FIX .. name)) end

-- The lines of the traceback in `err` that name `file`'s line `n`.
local function traceback_has_line(err, file, n)
  local at = err:find("stack traceback:", 1, true)
  return at ~= nil and err:find(file .. ":" .. n .. ":", at, true) ~= nil
end

describe("error reports", function()
  describe("an error whose __tostring raises", function()
    it("is still reported, with what its __tostring raised, and the status is 1", function()
      local _, err, status = ebb_fixture("tostring_raises.lua")
      assert.equal(1, status)
      assert.matches("__tostring raised: [^\n]*boom in tostring", err)
      assert.is_true(traceback_has_line(err, "tostring_raises.lua", 2))
    end)

    it("in a failed task nobody awaits is reported, and the next failure too", function()
      local _, err, status = ebb_fixture("task_tostring_raises.lua")
      assert.equal(1, status)
      assert.matches("unhandled error in a task:\n[^\n]*__tostring raised: [^\n]*boom in tostring", err)
      assert.matches("second failure", err)
    end)

    it("in a REPL input is shown and the session goes on", function()
      local out, err, status = run.ebb("-i < " .. run.quote(FIX .. "repl_input.txt"))
      assert.matches("^Error: %(userdata whose __tostring raised: [^\n]*ts%)\n", err)
      assert.equal("alive\n", out)
      assert.equal(0, status)
    end)

    it("as an error object's cause prints the error and its cause line", function()
      local _, err, status = ebb_fixture("cause_tostring_raises.lua")
      assert.equal(1, status)
      assert.matches("Error: outer\ncaused by: [^\n]*__tostring raised: [^\n]*bad cause", err)
    end)

    it("as an error object's message prints the error with what its __tostring raised", function()
      local _, err, status = ebb_fixture("message_tostring_raises.lua")
      assert.equal(1, status)
      assert.matches("^Error: %(table whose __tostring raised: [^\n]*bad message%)\n", err)
      assert.is_true(traceback_has_line(err, "message_tostring_raises.lua", 2))
    end)
  end)

  it("an uncaught error() with no value, or true, is printed with its traceback", function()
    for code, shown in pairs { ["error()"] = "Error: nil", ["error(true)"] = "Error: true" } do
      local _, err, status = run.ebb("-e " .. run.quote(code))
      assert.equal(1, status)
      assert.equal(shown .. "\nstack traceback:\n\t[C]: in function 'error'\n\t(command line):1: in main chunk\n", err)
    end
  end)

  it("error() with no value and error(NaN) keep their value through require and await", function()
    local out, err, status = ebb_fixture("nil_errors.lua")
    assert.equal("", err)
    assert.equal(0, status)
    assert.equal("require\t2\tnil\nawait nil\tfalse\tnil\nawait nan\tfalse\ttrue\n", out)
  end)

  it("an abort listener's error is reported with the traceback of where it was raised", function()
    local code = "local c = require('ebb.abort').controller()\n"
      .. "local function listener() error('in listener') end\n"
      .. "c.signal:on_abort(listener) c:abort() print('after')"
    local out, err, status = run.ebb("-e " .. run.quote(code))
    assert.equal("after\n", out)
    assert.equal(1, status)
    assert.matches("^ebb: error in an abort listener:\nError: %(command line%):2: in listener\nstack traceback:\n", err)
    assert.matches("\t(command line):2: in function <(command line):2>\n", err, 1, true)
  end)

  describe("a plain error re-raised", function()
    it("after pcall and a wait shows where it was raised, not the re-raise", function()
      local _, err, status = ebb_fixture("reraise.lua")
      assert.equal(1, status)
      assert.matches("^Error: [^\n]*reraise.lua:3: boom\n", err)
      assert.is_true(traceback_has_line(err, "reraise.lua", 3))
      assert.is_false(traceback_has_line(err, "reraise.lua", 7))
    end)

    it("by coroutine.wrap shows the line in the coroutine's body", function()
      local _, err, status = ebb_fixture("reraise_wrap.lua")
      assert.equal(1, status)
      assert.is_true(traceback_has_line(err, "reraise_wrap.lua", 4))
    end)

    it("made where no script ran (a timeout's, by its timer) shows where it was raised", function()
      local _, err, status = ebb_fixture("timeout_raised.lua")
      assert.equal(1, status)
      local split = assert(err:find("\nTimeoutError", err:find("stack traceback:", 1, true), true), err)
      local task_report, main_report = err:sub(1, split), err:sub(split + 1)
      assert.matches("^ebb: unhandled error in a task:\nTimeoutError", task_report)
      assert.is_true(traceback_has_line(task_report, "timeout_raised.lua", 2))
      assert.is_true(traceback_has_line(task_report, "timeout_raised.lua", 3))
      assert.is_true(traceback_has_line(main_report, "timeout_raised.lua", 2))
      assert.is_true(traceback_has_line(main_report, "timeout_raised.lua", 5))
    end)

    it("by a server's handler stops at the handler: the server's own frames do not show", function()
      local out, err, status = ebb_fixture("handler_fails.lua")
      assert.equal(1, status)
      assert.equal("500\n", out)
      assert.is_true(traceback_has_line(err, "handler_fails.lua", 2))
      assert.is_true(traceback_has_line(err, "handler_fails.lua", 3))
      assert.no.matches("ebb/", err)
      assert.no.matches("'pcall'", err)
    end)

    it("by a failing task shows where the task first raised it", function()
      local _, err, status = ebb_fixture("reraise_task.lua")
      assert.equal(1, status)
      assert.is_true(traceback_has_line(err, "reraise_task.lua", 4))
      assert.is_false(traceback_has_line(err, "reraise_task.lua", 6))
    end)
  end)
end)
