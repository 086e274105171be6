-- Specs for `ebb test` (docs/test.md): runs the binary on the fixture spec files
-- in spec/fixtures/runner/ and checks its output and exit status. The fixtures' names do
-- not contain "_spec", so the main suite does not pick them up; busted runs a file that
-- is named on the command line whatever its name.
package.path = "spec/support/?.lua;" .. package.path
local run = require "run_ebb"
local quote, sh, ebb_cmd = run.quote, run.sh, run.ebb_cmd

local FIXTURES = "spec/fixtures/runner/"

-- Runs `ebb test [options] fixtures...`: stdout, stderr, exit status and the wall time in
-- seconds (measured by the shell, as the host's loop does not run while popen blocks).
local function ebb_test(options, ...)
  local files = {}
  for i, name in ipairs({ ... }) do files[i] = quote(FIXTURES .. name) end
  local cmd = ("s=$(date +%%s%%N); %s; r=$?; e=$(date +%%s%%N); echo \"~elapsed:$(( (e - s) / 1000000 ))\"; exit $r")
    :format(ebb_cmd("test " .. options .. " " .. table.concat(files, " ")))
  local out, err, status = sh(cmd)
  local elapsed
  out = out:gsub("~elapsed:(%d+)\n$", function(ms)
    elapsed = tonumber(ms) / 1000
    return ""
  end)
  return out, err, status, elapsed
end

local function last_line(s)
  return s:match("([^\n]*)\n?$")
end

-- The message busted prints for the spec (or block) named `name` in its error and
-- failure reports: the line after the one holding the full name.
local function reported(out, name)
  local lines = {}
  for line in (out .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  for i = 1, #lines - 1 do
    if lines[i] == name then return lines[i + 1] end
  end
  return nil
end

describe("ebb test", function()
  it("passes specs whose bodies and hooks wait, exits 0 and ends with the summary", function()
    local out, err, status, elapsed = ebb_test("", "passing.lua")
    assert.equal(0, status, out .. err)
    assert.equal("3 passed, 0 failed", last_line(out))
    assert.matches("3 successes / 0 failures / 0 errors", out, 1, true)
    assert.is_true(elapsed < 2, "took " .. elapsed .. " s")
  end)

  it("keeps busted's report and a non-zero status for failures and errors", function()
    local out, err, status = ebb_test("", "failing.lua")
    assert.is_true(status ~= 0 and status ~= 124, "status " .. tostring(status) .. "\n" .. out .. err)
    assert.equal("1 passed, 2 failed", last_line(out))
    assert.matches("1 success / 1 failure / 1 error", out, 1, true)
    assert.matches("Failure -> ", out, 1, true)
    assert.matches("raised-in-body", reported(out, "failing fixture raises") or "", 1, true)
  end)

  it("fails a body that waits past --spec-timeout with a TimeoutError, in time", function()
    local out, err, status, elapsed = ebb_test("--spec-timeout=200", "timeout.lua")
    assert.is_true(status ~= 0 and status ~= 124, "status " .. tostring(status) .. "\n" .. out .. err)
    assert.equal("2 passed, 1 failed", last_line(out))
    local message = reported(out, "timeout fixture waits too long")
    assert.is_not_nil(message, out)
    assert.matches("TimeoutError", message, 1, true)
    assert.matches("200 ms", message, 1, true)
    -- well under both the 3 s the body asks for and the 5 s default limit
    assert.is_true(elapsed < 1.5, "took " .. elapsed .. " s")
  end)

  it("fails a body, or a task it spawned, that never returns to the loop at --spec-timeout, and goes on", function()
    local out, err, status, elapsed = ebb_test("--spec-timeout=200", "busy.lua")
    assert.is_true(status ~= 0 and status ~= 124, "status " .. tostring(status) .. "\n" .. out .. err)
    assert.equal("2 passed, 2 failed", last_line(out))
    for _, name in ipairs({ "never waits", "spawns a task that never waits" }) do
      local message = reported(out, "busy fixture " .. name)
      assert.is_not_nil(message, out)
      assert.matches("the spec did not finish within 200 ms", message, 1, true)
    end
    assert.matches("busy.lua:9: TimeoutError", out, 1, true) -- raised in the body's loop
    assert.is_true(elapsed < 1.5, "took " .. elapsed .. " s")
  end)

  it("ends the run, naming the spec, when a compiled call-free loop outlives the limit twice", function()
    local out, err, status, elapsed = ebb_test("--spec-timeout=200", "compiled_loop.lua")
    assert.is_true(status ~= 0 and status ~= 124, "status " .. tostring(status) .. "\n" .. out .. err)
    assert.matches('ebb test: the spec "compiled loop fixture spins with no call" did not finish within 200 ms,'
      .. " nor 200 ms after its TimeoutError", err, 1, true)
    assert.matches("the run ends here", err, 1, true)
    assert.is_true(elapsed >= 0.4 and elapsed < 1.5, "took " .. elapsed .. " s")
  end)

  it("fails a describe block whose body never returns at --spec-timeout, and goes on", function()
    local out, err, status, elapsed = ebb_test("--spec-timeout=200", "busy_describe.lua")
    assert.is_true(status ~= 0 and status ~= 124, "status " .. tostring(status) .. "\n" .. out .. err)
    assert.equal("1 passed, 1 failed", last_line(out))
    assert.matches("the describe block did not finish within 200 ms", reported(out, "a busy block") or out, 1, true)
    assert.is_true(elapsed < 1.5, "took " .. elapsed .. " s")
  end)

  it("counts a spec's limit from when it starts, even after a block blocked the loop", function()
    local out, err, status = ebb_test("--spec-timeout=1000", "blocked_block.lua")
    assert.equal(0, status, out .. err)
    assert.equal("1 passed, 0 failed", last_line(out))
  end)

  it("takes `--spec-timeout MS` as two arguments too", function()
    local out, _, status, elapsed = ebb_test("--spec-timeout 200", "timeout.lua")
    assert.is_true(status ~= 0 and status ~= 124)
    assert.equal("2 passed, 1 failed", last_line(out))
    assert.is_true(elapsed < 1.5, "took " .. elapsed .. " s")
  end)

  it("refuses a --spec-timeout that is not a positive number", function()
    local _, err, status = ebb_test("--spec-timeout=0", "passing.lua")
    assert.equal(1, status)
    assert.matches("--spec-timeout", err, 1, true)
  end)

  it("refuses a --spec-timeout given no value with its own message", function()
    local out, err, status = sh(ebb_cmd("test " .. quote(FIXTURES .. "passing.lua") .. " --spec-timeout"))
    assert.equal(1, status)
    assert.equal("", out)
    assert.equal("ebb test: --spec-timeout needs a positive number of milliseconds, at most 1e12\n", err)
  end)

  it("reports each failure at the line that raised it, as busted does under luajit", function()
    local out = ebb_test("-o plainTerminal --verbose", "located.lua")
    local F = "spec/fixtures/runner/located.lua"
    assert.equal(F .. ":6: Expected objects to be equal.", reported(out, "located assertion after a wait"))
    assert.equal(F .. ":9: plain failure", reported(out, "located string error"))
    assert.equal(F .. ":12: {", reported(out, "located table error"))
    assert.equal(F .. ":15: Nil error", reported(out, "located nil error"))
    assert.matches("\tspec/fixtures/runner/located.lua:12: in function <" .. F .. ":11>", out, 1, true)
    -- raised in ebb's own frames: placed at the spec's line that called ebb
    assert.matches("\t" .. F .. ":18: in function <" .. F .. ":17>", out, 1, true)
    assert.matches("\t" .. F .. ":22: in function <" .. F .. ":20>", out, 1, true)
    assert.equal("1 passed, 6 failed", last_line(out))
  end)

  it("gives specs arg as the interpreter does: ebb at arg[-1]", function()
    local out = ebb_test("", "located.lua")
    assert.matches("arg[-1]=" .. run.BIN .. " arg[0]=test\n", out, 1, true)
  end)

  it("lists the specs with --list, without running them or a summary line", function()
    local out, err, status = ebb_test("--list", "located.lua")
    assert.equal("", err)
    assert.equal(0, status)
    assert.equal(table.concat({
      "spec/fixtures/runner/located.lua:4: located assertion after a wait",
      "spec/fixtures/runner/located.lua:8: located string error",
      "spec/fixtures/runner/located.lua:11: located table error",
      "spec/fixtures/runner/located.lua:14: located nil error",
      "spec/fixtures/runner/located.lua:17: located bad argument to ebb",
      "spec/fixtures/runner/located.lua:20: located awaited task",
      "spec/fixtures/runner/located.lua:24: located sees the interpreter at arg[-1]",
    }, "\n") .. "\n", out)
  end)

  it("refuses a --spec-timeout that is not finite or too large", function()
    for _, v in ipairs { "inf", "nan", "1e13" } do
      local out, err, status = ebb_test("--spec-timeout=" .. v, "passing.lua")
      assert.equal(1, status, out .. err)
      assert.matches("--spec-timeout needs a positive number of milliseconds", err, 1, true)
    end
  end)

  it("fails a spec that leaves a task running, and cancels the task", function()
    local out, err, status = ebb_test("", "leftover.lua")
    assert.is_true(status ~= 0 and status ~= 124, "status " .. tostring(status) .. "\n" .. out .. err)
    assert.equal("1 passed, 1 failed", last_line(out))
    -- placed where the spec was declared, not in the host's runner
    assert.matches("^spec/fixtures/runner/leftover.lua:5: the spec left 1 task",
      reported(out, "leftover fixture leaves a task behind") or "")
    -- the task saw its cancellation while the next spec ran
    assert.matches("leftover cleanup: false AbortError", out, 1, true)
  end)

  it("closes what a spec left open, passing or failing, and says what it was and where it was made", function()
    local out, err, status = ebb_test("", "leaked_handles.lua")
    assert.is_true(status ~= 0 and status ~= 124, "status " .. tostring(status) .. "\n" .. out .. err)
    assert.equal("2 passed, 3 failed", last_line(out))
    local left = reported(out, "leaked handles fixture leaves a listener") or ""
    assert.matches("the spec left 1 task%(s%) running: Task #%d+ %(running, made by listen at "
      .. "spec/fixtures/runner/leaked_handles.lua:8%) %(they were cancelled%); "
      .. "1 handle%(s%) open: tcp listener 127%.0%.0%.1:%d+ %(they were closed%)", left)
    assert.matches("failed-on-purpose", reported(out, "leaked handles fixture leaves a listener and fails") or "", 1, true)
    -- the next specs could bind the ports: the listeners were closed
    assert.is_nil(reported(out, "leaked handles fixture binds the port the listener had"))
    assert.is_nil(reported(out, "leaked handles fixture binds the port the failing spec's listener had"))
    -- the ebb function is named even when it was called through pcall
    assert.matches("made by listen at spec/fixtures/runner/leaked_handles.lua:25",
      reported(out, "leaked handles fixture leaves a listener made through pcall") or "", 1, true)
  end)

  it("runs a spec's before_each hooks, body and after_each hooks as one unit, and a block from setup to teardown", function()
    local out, err, status = ebb_test("", "hooks_passing.lua")
    assert.equal(0, status, out .. err)
    assert.equal("8 passed, 0 failed", last_line(out))
  end)

  it("fails a spec whose before_each left a server open, names it and its accept loop, and closes it", function()
    local out, err, status = ebb_test("", "hooks_leak.lua")
    assert.is_true(status ~= 0 and status ~= 124, "status " .. tostring(status) .. "\n" .. out .. err)
    assert.equal("1 passed, 1 failed", last_line(out))
    local F = "spec/fixtures/runner/hooks_leak.lua"
    assert.matches("^" .. F .. ":11: the spec left 1 task%(s%) running: Task #%d+ %(running, made by listen at "
      .. F .. ":8%) %(they were cancelled%); 1 handle%(s%) open: tcp listener 127%.0%.0%.1:%d+ %(they were closed%)$",
      reported(out, "before_each leak fixture leaves the server of its before_each") or "")
    assert.is_nil(reported(out, "after the before_each leak binds the port the server had"))
  end)

  it("fails a block whose setup left a server open once the block ends, and closes it", function()
    local out, err, status = ebb_test("", "hooks_setup_leak.lua")
    assert.is_true(status ~= 0 and status ~= 124, "status " .. tostring(status) .. "\n" .. out .. err)
    assert.equal("2 passed, 1 failed", last_line(out))
    local F = "spec/fixtures/runner/hooks_setup_leak.lua"
    assert.matches("^" .. F .. ":6: the describe block left 1 task%(s%) running: Task #%d+ %(running, made by listen at "
      .. F .. ":8%) %(they were cancelled%); 1 handle%(s%) open: tcp listener 127%.0%.0%.1:%d+ %(they were closed%)$",
      reported(out, "setup leak fixture") or "")
    assert.is_nil(reported(out, "setup leak fixture passes while the server listens"))
    assert.is_nil(reported(out, "after the setup leak binds the port the server had"))
  end)

  it("runs after_each after a failing before_each, then closes what it left without blaming it twice and resets the clock", function()
    local out, err, status = ebb_test("", "hooks_failing.lua")
    assert.is_true(status ~= 0 and status ~= 124, "status " .. tostring(status) .. "\n" .. out .. err)
    assert.equal("1 passed, 1 failed", last_line(out))
    assert.matches("after_each ran after the failed before_each\n", out, 1, true)
    assert.is_nil(out:find("the skipped body ran", 1, true))
    assert.equal("spec/fixtures/runner/hooks_failing.lua:11: before-each-boom",
      reported(out, "failing before_each fixture before_each"))
    assert.is_nil(out:find(" left ", 1, true))
    assert.is_nil(reported(out, "after the failing before_each binds the port the server had, in real time"))
  end)

  it("counts what an abort listener fired by a timer makes as the spec's that added the listener", function()
    local out, err, status = ebb_test("", "listener_leak.lua")
    assert.is_true(status ~= 0 and status ~= 124, "status " .. tostring(status) .. "\n" .. out .. err)
    assert.equal("1 passed, 1 failed", last_line(out))
    assert.matches("the spec left 1 task%(s%) running: Task #%d+ %(running, made by spawn at "
      .. "spec/fixtures/runner/listener_leak.lua:9%) %(they were cancelled%)$",
      reported(out, "listener leak fixture has a listener that spawns a task when its timeout fires") or "")
    assert.matches("listener's task ended: false AbortError", out, 1, true)
  end)

  it("fails a spec during which a task fails unhandled, with the task's message", function()
    local out, err, status = ebb_test("", "unhandled.lua")
    assert.is_true(status ~= 0 and status ~= 124, "status " .. tostring(status) .. "\n" .. out .. err)
    assert.equal("1 passed, 1 failed", last_line(out))
    assert.matches("unhandled-boom-1", reported(out, "unhandled fixture has a task that fails while it waits") or "", 1, true)
  end)

  it("fails the spec whose body spawned a failing task and returned at once, not the next one", function()
    local out, err, status = ebb_test("", "unhandled_at_return.lua")
    assert.is_true(status ~= 0 and status ~= 124, "status " .. tostring(status) .. "\n" .. out .. err)
    assert.equal("1 passed, 1 failed", last_line(out))
    assert.matches("unhandled-boom-2", reported(out, "unhandled at return fixture spawns a failing task and returns") or "", 1, true)
    assert.is_nil(reported(out, "unhandled at return fixture runs after it"))
  end)

  it("fails a spec during which an abort listener raises", function()
    local out, err, status = ebb_test("", "listener.lua")
    assert.is_true(status ~= 0 and status ~= 124, "status " .. tostring(status) .. "\n" .. out .. err)
    assert.equal("1 passed, 2 failed", last_line(out))
    assert.matches("listener-boom-1", reported(out, "listener fixture aborts with a failing listener") or "", 1, true)
    assert.matches("listener-boom-2",
      reported(out, "listener fixture has a timeout signal with a failing listener") or "", 1, true)
  end)

  it("resets the clock to real after each spec", function()
    local out, err, status, elapsed = ebb_test("", "clock.lua")
    assert.equal(0, status, out .. err)
    assert.equal("4 passed, 0 failed", last_line(out))
    assert.is_true(elapsed < 2, "took " .. elapsed .. " s")
  end)

  it("loads ebb's modules once for the run, across spec files", function()
    local out, err, status = ebb_test("", "shared_one.lua", "shared_two.lua")
    assert.equal(0, status, out .. err)
    assert.equal("2 passed, 0 failed", last_line(out))
    -- and the second file alone does fail, so the check above can fail
    local out2, _, status2 = ebb_test("", "shared_two.lua")
    assert.is_true(status2 ~= 0 and status2 ~= 124)
    assert.equal("0 passed, 1 failed", last_line(out2))
  end)

  it("counts an error raised in a describe block as failed", function()
    local out, err, status = ebb_test("", "describe_error.lua")
    assert.is_true(status ~= 0 and status ~= 124, "status " .. tostring(status) .. "\n" .. out .. err)
    assert.equal("1 passed, 1 failed", last_line(out))
    assert.matches("describe-boom", reported(out, "a broken block") or "", 1, true)
  end)

  it("sums the counts over several files", function()
    local out, _, status = ebb_test("--spec-timeout=200", "passing.lua", "failing.lua", "timeout.lua")
    assert.is_true(status ~= 0 and status ~= 124)
    assert.equal("6 passed, 3 failed", last_line(out))
  end)

  it("selects files by --pattern in a folder", function()
    local out, err, status = ebb_test("--pattern=^shared_", "")
    assert.equal(0, status, out .. err)
    assert.equal("2 passed, 0 failed", last_line(out))
  end)
end)
