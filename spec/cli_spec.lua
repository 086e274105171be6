-- Specs for the host's command line, exit statuses, error reports and signals,
-- as the API contract ("The host", "ebb (the aggregate)") describes them.
package.path = "spec/support/?.lua;" .. package.path
local run = require "run_ebb"
local BIN, quote, sh, ebb_cmd, ebb = run.BIN, run.quote, run.sh, run.ebb_cmd, run.ebb

-- A scratch directory for the scripts of this file.
local dir
local function script(name, src)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "wb"))
  f:write(src)
  f:close()
  return path
end

-- Where `needle` (plain) appears after "stack traceback:" in `err`.
local function traceback_mentions(err, needle)
  local at = err:find("stack traceback:", 1, true)
  return at ~= nil and err:find(needle, at, true) ~= nil
end

describe("the ebb command line", function()
  lazy_setup(function()
    local p = assert(io.popen("mktemp -d"))
    dir = p:read("*l")
    p:close()
    assert(dir and dir ~= "", "mktemp -d failed")
  end)

  lazy_teardown(function()
    if dir then os.execute("rm -rf " .. quote(dir)) end
  end)

  describe("running scripts", function()
    it("gives a script `arg` and `...` as the standalone lua does", function()
      local path = script("args.lua", [[
print("0=" .. tostring(arg[0]), "1=" .. tostring(arg[1]), "2=" .. tostring(arg[2]), "#=" .. #arg)
print("-1=" .. tostring(arg[-1] ~= nil))
print("n=" .. select("#", ...), ...)
]])
      local out, err, status = ebb(quote(path) .. " a b")
      assert.equal("", err)
      assert.equal(0, status)
      assert.equal(("0=%s\t1=a\t2=b\t#=2\n-1=true\nn=2\ta\tb\n"):format(path), out)
    end)

    it("passes arguments with spaces and empty ones unchanged", function()
      local path = script("args2.lua", 'print(select("#", ...)) for i = 1, #arg do print("[" .. arg[i] .. "]") end\n')
      local out, _, status = ebb(quote(path) .. " 'x y' '' z")
      assert.equal(0, status)
      assert.equal("3\n[x y]\n[]\n[z]\n", out)
    end)

    it("runs -e CODE", function()
      local out, err, status = ebb("-e 'print(1+1)'")
      assert.equal("", err)
      assert.equal(0, status)
      assert.equal("2\n", out)
    end)

    it("runs several -e chunks in order, in one state", function()
      local out, _, status = ebb("-e 'x = 20' -e 'print(x + 1)'")
      assert.equal(0, status)
      assert.equal("21\n", out)
    end)

    it("reads the script from stdin with -", function()
      local out, err, status = sh("echo 'print(42)' | " .. ebb_cmd("-"))
      assert.equal("", err)
      assert.equal(0, status)
      assert.equal("42\n", out)
    end)

    it("passes arguments after - to the stdin script", function()
      local out, _, status = sh("echo 'print(select(\"#\", ...), ...)' | " .. ebb_cmd("- a b"))
      assert.equal(0, status)
      assert.equal("2\ta\tb\n", out)
    end)

    it("prints a version with -v, the one require('ebb').version holds", function()
      local out, _, status = ebb("-v")
      assert.equal(0, status)
      assert.matches("^ebb %d+%.%d+", out)
      local v = ebb("-e 'print(require(\"ebb\").version)'")
      v = v:gsub("\n$", "")
      assert.is_true(#v > 0)
      assert.is_truthy(out:find(v, 1, true), "-v output " .. out .. " lacks version " .. v)
    end)

    it("prints usage with -h", function()
      local out, _, status = ebb("-h")
      assert.equal(0, status)
      assert.matches("usage: ebb", out)
      assert.matches("%-e", out)
    end)

    it("runs a file whose first line is #!/usr/bin/env ebb", function()
      local path = script("shebang.lua", "#!/usr/bin/env ebb\nprint('shebang ok', ...)\n")
      local out, err, status = ebb(quote(path) .. " x")
      assert.equal("", err)
      assert.equal(0, status)
      assert.equal("shebang ok\tx\n", out)
    end)

    it("runs the script inside a task: it may wait at top level", function()
      local out, err, status = ebb([[-e 'local task = require "ebb.task"; task.sleep(20); print(task.current() ~= nil)']])
      assert.equal("", err)
      assert.equal(0, status)
      assert.equal("true\n", out)
    end)
  end)

  describe("exit status", function()
    it("is 0 when the script ends normally", function()
      local _, err, status = ebb("-e 'local x = 1'")
      assert.equal("", err)
      assert.equal(0, status)
    end)

    it("is n after os.exit(n)", function()
      local out, _, status = ebb("-e 'print(\"before\") os.exit(3) print(\"after\")'")
      assert.equal(3, status)
      assert.equal("before\n", out)
    end)

    it("is n after os.exit(n) inside a task while other tasks sleep, at once", function()
      local path = script("exit_in_task.lua", [[
local task = require "ebb.task"
task.spawn(function() task.sleep(10000) print("sleeper woke") end)
task.spawn(function() task.sleep(20) io.stdout:write("exiting\n") io.stdout:flush() os.exit(3) end)
task.sleep(10000)
print("main woke")
]])
      local out, _, status = ebb(quote(path))
      assert.equal(3, status) -- 124 would mean it waited for the sleepers
      assert.equal("exiting\n", out)
    end)

    it("is 0 after os.exit(true) and 1 after os.exit(false)", function()
      local _, _, s1 = ebb("-e 'os.exit(true)'")
      local _, _, s2 = ebb("-e 'os.exit(false)'")
      assert.equal(0, s1)
      assert.equal(1, s2)
    end)
  end)

  describe("uncaught errors", function()
    it("exit 1 with Error: message and a traceback at the raising line", function()
      local path = script("plain.lua", "local x = 1\nerror('plain boom')\n")
      local out, err, status = ebb(quote(path))
      assert.equal(1, status)
      assert.equal("", out)
      assert.is_truthy(err:find("Error: ", 1, true), err)
      assert.is_truthy(err:find("plain boom", 1, true), err)
      assert.is_true(traceback_mentions(err, "plain.lua:2:"), err)
    end)

    it("print the class name and message of an error object", function()
      local path = script("classed.lua", [[
local errors = require "ebb.errors"
local ConfigError = errors.class("ConfigError")
error(ConfigError("bad port 99999"))
]])
      local _, err, status = ebb(quote(path))
      assert.equal(1, status)
      assert.is_truthy(err:find("ConfigError: bad port 99999", 1, true), err)
      assert.is_true(traceback_mentions(err, "classed.lua:3:"), err)
    end)

    it("print every 'caused by:' line of an errors.wrap chain", function()
      local path = script("chain.lua", [[
local errors = require "ebb.errors"
local root = errors.new("disk full", { name = "IOError" })
local mid = errors.wrap(root, "could not save")
error(errors.wrap(mid, "request failed"))
]])
      local _, err, status = ebb(quote(path))
      assert.equal(1, status)
      local a = err:find("Error: request failed", 1, true)
      local b = err:find("caused by: Error: could not save", 1, true)
      local c = err:find("caused by: IOError: disk full", 1, true)
      assert.is_truthy(a and b and c, err)
      assert.is_true(a < b and b < c, err)
      assert.is_true(traceback_mentions(err, "chain.lua:4:"), err)
    end)

    it("keep the raising line when raised after a task.sleep", function()
      local path = script("after_wait.lua", [[
local task = require "ebb.task"
task.sleep(10)
task.yield()
error("after sleep")
]])
      local _, err, status = ebb(quote(path))
      assert.equal(1, status)
      assert.is_truthy(err:find("after sleep", 1, true), err)
      assert.is_true(traceback_mentions(err, "after_wait.lua:4:"), err)
    end)

    it("keep the raising line of an error object raised after a wait", function()
      local path = script("after_wait_obj.lua", [[
local task = require "ebb.task"
local errors = require "ebb.errors"
task.sleep(10)
error(errors.wrap(errors.new("inner"), "outer after sleep"))
]])
      local _, err, status = ebb(quote(path))
      assert.equal(1, status)
      assert.is_truthy(err:find("Error: outer after sleep", 1, true), err)
      assert.is_truthy(err:find("caused by: Error: inner", 1, true), err)
      assert.is_true(traceback_mentions(err, "after_wait_obj.lua:4:"), err)
    end)

    it("raised in a spawned task and re-raised by t:await() point at the task's line", function()
      local path = script("in_child.lua", [[
local task = require "ebb.task"
local t = task.spawn(function()
  task.sleep(10)
  error("in child")
end)
t:await()
print("not reached")
]])
      local out, err, status = ebb(quote(path))
      assert.equal(1, status)
      assert.equal("", out)
      assert.is_truthy(err:find("in child", 1, true), err)
      assert.is_true(traceback_mentions(err, "in_child.lua:4:"), err)
    end)

    it("of a wrapped error object in a spawned task keep its cause chain through await", function()
      local path = script("in_child_obj.lua", [[
local task = require "ebb.task"
local errors = require "ebb.errors"
local t = task.spawn(function()
  task.sleep(10)
  error(errors.wrap(errors.new("timeout talking to db", { name = "DbError" }), "query failed"))
end)
t:await()
]])
      local _, err, status = ebb(quote(path))
      assert.equal(1, status)
      assert.is_truthy(err:find("Error: query failed", 1, true), err)
      assert.is_truthy(err:find("caused by: DbError: timeout talking to db", 1, true), err)
      assert.is_true(traceback_mentions(err, "in_child_obj.lua:5:"), err)
    end)
  end)

  describe("tasks at exit", function()
    it("a failed task nobody awaits is reported and the status is 1; main still completes", function()
      local path = script("unhandled.lua", [[
local task = require "ebb.task"
task.spawn(function()
  task.sleep(10)
  error("nobody awaits me")
end)
task.sleep(50)
print("main done")
]])
      local out, err, status = ebb(quote(path))
      assert.equal(1, status)
      assert.equal("main done\n", out)
      assert.is_truthy(err:find("nobody awaits me", 1, true), err)
      assert.is_true(traceback_mentions(err, "unhandled.lua:4:"), err)
    end)

    it("an unawaited failure is reported with its cause chain", function()
      local path = script("unhandled_chain.lua", [[
local task = require "ebb.task"
local errors = require "ebb.errors"
task.spawn(function()
  error(errors.wrap(errors.new("root cause"), "top failure"))
end)
print("main done")
]])
      local out, err, status = ebb(quote(path))
      assert.equal(1, status)
      assert.equal("main done\n", out)
      assert.is_truthy(err:find("Error: top failure", 1, true), err)
      assert.is_truthy(err:find("caused by: Error: root cause", 1, true), err)
    end)

    it("a cancelled task nobody awaits is not an unhandled error", function()
      local path = script("cancelled.lua", [[
local task = require "ebb.task"
local t = task.spawn(function() task.sleep(10000) end)
task.sleep(10)
t:cancel()
task.sleep(10)
print(t.status)
]])
      local out, err, status = ebb(quote(path))
      assert.equal("", err)
      assert.equal(0, status)
      assert.equal("cancelled\n", out)
    end)

    it("the process waits for spawned tasks still sleeping", function()
      local path = script("waits.lua", [[
local task = require "ebb.task"
task.spawn(function()
  task.sleep(100)
  print("child woke")
end)
task.delay(150, function() print("delayed ran") end)
print("main done")
]])
      local out, err, status = ebb(quote(path))
      assert.equal("", err)
      assert.equal(0, status)
      assert.equal("main done\nchild woke\ndelayed ran\n", out)
    end)
  end)

  describe("scripts that cannot run", function()
    it("a syntax error: status 1 with the message", function()
      local path = script("syntax.lua", "local x = = 1\n")
      local out, err, status = ebb(quote(path))
      assert.equal(1, status)
      assert.equal("", out)
      assert.is_truthy(err:find("syntax.lua:1:", 1, true), err)
      assert.is_truthy(err:find("unexpected symbol", 1, true), err)
    end)

    it("a syntax error in -e code: status 1 with the message", function()
      local _, err, status = ebb("-e 'local x = = 1'")
      assert.equal(1, status)
      assert.is_truthy(err:find("unexpected symbol", 1, true), err)
    end)

    it("a missing script file: status 1 with a clear message", function()
      local missing = dir .. "/no_such_script.lua"
      local out, err, status = ebb(quote(missing))
      assert.equal(1, status)
      assert.equal("", out)
      assert.is_truthy(err:find("no_such_script.lua", 1, true), err)
      assert.is_truthy(err:lower():find("no such file", 1, true) or err:lower():find("cannot open", 1, true), err)
    end)

    it("an unknown option: status 1 with usage", function()
      local _, err, status = ebb("--frobnicate")
      assert.equal(1, status)
      assert.is_truthy(err:find("frobnicate", 1, true), err)
      assert.is_truthy(err:find("usage", 1, true), err)
    end)
  end)

  describe("signals", function()
    local with_signals = run.with_signals

    local function listening_code(ready, after)
      return ([[
local ebb = require "ebb"
local task = require "ebb.task"
ebb.shutdown:on_abort(function(reason)
  print("listener: " .. tostring(reason)); io.stdout:flush()
end)
io.open(%q, "w"):close()
%s
]]):format(ready, after)
    end

    it("the first SIGTERM aborts ebb.shutdown: its listener runs and the script ends", function()
      local ready = dir .. "/ready_term1"
      local code = listening_code(ready, [[
local ok = pcall(task.sleep, 3000, ebb.shutdown)
print("sleep cut: " .. tostring(not ok), "aborted: " .. tostring(ebb.shutdown.aborted))]])
      local out = with_signals("-e " .. quote(code), ready, { "TERM" })
      assert.equal("listener: AbortError: interrupted by SIGTERM\nsleep cut: true\taborted: true\nstatus=0\n", out)
    end)

    it("the first SIGINT aborts ebb.shutdown too", function()
      local ready = dir .. "/ready_int1"
      local code = listening_code(ready, "pcall(task.sleep, 3000, ebb.shutdown) print('done')")
      local out = with_signals("-e " .. quote(code), ready, { "INT" })
      assert.matches("^listener: AbortError: [^\n]*SIGINT[^\n]*\ndone\nstatus=0\n$", out)
    end)

    it("a second SIGTERM exits at once with 143", function()
      local ready = dir .. "/ready_term2"
      local code = listening_code(ready, "pcall(task.sleep, 3000) print('not reached')")
      local out = with_signals("-e " .. quote(code), ready, { "TERM", "TERM" })
      assert.equal("listener: AbortError: interrupted by SIGTERM\nstatus=143\n", out)
    end)

    it("a second SIGINT exits at once with 130", function()
      local ready = dir .. "/ready_int2"
      local code = listening_code(ready, "pcall(task.sleep, 3000) print('not reached')")
      local out = with_signals("-e " .. quote(code), ready, { "INT", "INT" })
      assert.equal("listener: AbortError: interrupted by SIGINT\nstatus=130\n", out)
    end)

    it("a script that does not listen exits with 130 on SIGINT", function()
      local ready = dir .. "/ready_nolisten"
      local code = ("io.open(%q, 'w'):close() require('ebb.task').sleep(3000) print('not reached')"):format(ready)
      local out = with_signals("-e " .. quote(code), ready, { "INT" })
      assert.equal("status=130\n", out)
    end)

    it("a script that does not listen exits with 143 on SIGTERM", function()
      local ready = dir .. "/ready_nolisten_term"
      local code = ("io.open(%q, 'w'):close() require('ebb.task').sleep(3000) print('not reached')"):format(ready)
      local out = with_signals("-e " .. quote(code), ready, { "TERM" })
      assert.equal("status=143\n", out)
    end)
  end)

  describe("require 'ebb'", function()
    it("holds version and shutdown, and loads modules on first use", function()
      local code = [[
local ebb = require "ebb"
print(type(ebb.version), #ebb.version > 0)
print(require("ebb.abort").is_signal(ebb.shutdown), ebb.shutdown.aborted)
print(rawget(ebb, "clock") == nil, package.loaded["ebb.clock"] == nil)
print(ebb.clock == require "ebb.clock", rawget(ebb, "clock") ~= nil)
print(ebb.abort == require "ebb.abort", ebb.errors == require "ebb.errors", ebb.task == require "ebb.task")
print(ebb.no_such_module)
]]
      local out, err, status = ebb("-e " .. quote(code))
      assert.equal("", err)
      assert.equal(0, status)
      assert.equal("string\ttrue\ntrue\tfalse\ntrue\ttrue\ntrue\ttrue\ntrue\ttrue\ttrue\nnil\n", out)
    end)
  end)

  describe("waiting where no task can wait", function()
    it("task.sleep in an abort listener run by ctl:abort() raises a clear error", function()
      local code = [[
local abort = require "ebb.abort"
local task = require "ebb.task"
local ctl = abort.controller()
ctl.signal:on_abort(function()
  local ok, e = pcall(task.sleep, 10)
  print("ok=" .. tostring(ok))
  print("error=" .. tostring(e))
end)
ctl:abort()
print("main continues")
]]
      local out, _, status = ebb("-e " .. quote(code))
      assert.are_not.equal(124, status) -- not a hang
      assert.matches("^ok=false\nerror=[^\n]+\nmain continues\n$", out)
      local msg = out:match("error=([^\n]*)")
      -- clear: says that waiting is not possible here, not LuaJIT's internals
      assert.is_truthy(msg:lower():find("wait", 1, true), "unclear error: " .. msg)
      assert.is_falsy(msg:find("C-call boundary", 1, true), "unclear error: " .. msg)
    end)

    it("task.sleep in a listener fired by a timer raises a clear error", function()
      local code = [[
local abort = require "ebb.abort"
local task = require "ebb.task"
abort.timeout(10):on_abort(function()
  local ok, e = pcall(task.sleep, 10)
  print("ok=" .. tostring(ok))
  print("error=" .. tostring(e))
end)
task.sleep(50)
print("main continues")
]]
      local out, _, status = ebb("-e " .. quote(code))
      assert.equal(0, status)
      assert.matches("^ok=false\nerror=[^\n]+\nmain continues\n$", out)
      local msg = out:match("error=([^\n]*)")
      assert.is_truthy(msg:lower():find("wait", 1, true), "unclear error: " .. msg)
    end)

    it("an uncaught wait in a listener ends the run with the error, not a hang", function()
      local code = [[
local abort = require "ebb.abort"
local task = require "ebb.task"
local ctl = abort.controller()
ctl.signal:on_abort(function() task.sleep(10) end)
ctl:abort()
]]
      local _, err, status = ebb("-e " .. quote(code))
      assert.are_not.equal(124, status)
      assert.are_not.equal(0, status)
      assert.is_truthy(err:lower():find("wait", 1, true), "unclear error: " .. err)
    end)
  end)
end)
