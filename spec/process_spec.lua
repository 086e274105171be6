package.path = "spec/support/?.lua;" .. package.path
local io_support = require "io_support"
local read_all, started = io_support.read_all, io_support.started
local process = require "ebb.process"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local task = require "ebb.task"
local scope = require "ebb.scope"
local asserts = require "asserts"
local run = require "run_ebb"
local raised = asserts.raised -- calls fn(...), which must raise; returns what it raised
local assert_bad = asserts.bad_at("process_spec%.lua")

describe("ebb.process", function()
  it("pipes data through cat: write stdin, finish, read stdout", function()
    local p = process.spawn("cat", {})
    assert.is_number(p.pid)
    assert.equal("cat", p.command)
    assert.is_false((p:status()))
    assert.matches("^Process %(cat, pid %d+, running%)$", tostring(p))
    assert.is_true(p.stdin.writable and not p.stdin.readable)
    assert.is_true(p.stdout.readable and not p.stdout.writable)
    local reader = task.spawn(read_all, p.stdout)
    p.stdin:write("hello ")
    p.stdin:write("cat")
    p.stdin:finish()
    assert.equal("hello cat", reader:await())
    assert.equal("", read_all(p.stderr))
    assert.same({ 0 }, { p:wait() })
    assert.same({ true, 0 }, { p:status() })
    assert.matches("exited 0%)$", tostring(p))
    p:close()
  end)

  it("gives the exit code, and stderr apart from stdout", function()
    local p = process.spawn("sh", { "-c", "echo out; echo err >&2; exit 3" })
    assert.equal("out\n", read_all(p.stdout))
    assert.equal("err\n", read_all(p.stderr))
    local code, sig = p:wait()
    assert.equal(3, code)
    assert.is_nil(sig)
    assert.equal(3, p:wait()) -- again: the same, at once
    p:close()
  end)

  it("reports a child ended by a signal with a nil code and the signal's name", function()
    local p = process.spawn("sleep", { "30" })
    assert.is_true(p:kill())
    local code, sig = p:wait()
    assert.is_nil(code)
    assert.equal("SIGTERM", sig)
    assert.same({ true, nil, "SIGTERM" }, { p:status() })
    assert.equal(3, select("#", p:status()))
    assert.is_false(p:kill()) -- after it exited
    assert.matches("exited SIGTERM%)$", tostring(p))
    p:close()
    local q = process.spawn("sleep", { "30" }, { stdin = "ignore", stdout = "ignore", stderr = "ignore" })
    assert.is_true(q:kill("KILL"))
    assert.same({ nil, "SIGKILL" }, { q:wait() })
    local r = process.spawn("sleep", { "30" })
    assert.is_true(r:kill(2))
    assert.same({ nil, "SIGINT" }, { r:wait() })
    r:close()
    assert_bad(function() r:kill("SIGNOPE") end, "bad argument #1 to 'kill' %(signal name .* expected, got SIGNOPE%)")
    assert_bad(function() r:kill(true) end, "bad argument #1 to 'kill'")
  end)

  it("runs in cwd, with env replacing the environment", function()
    local res = process.run("sh", { "-c", "pwd; echo \"[$EBB_X][$EBB_N][$HOME]\"" },
      { cwd = "/", env = { EBB_X = "x y", EBB_N = 42, PATH = os.getenv("PATH") } })
    assert.equal("/\n[x y][42][]\n", res.stdout)
    assert.equal(0, res.code)
    assert.is_nil(res.signal)
    -- without env, the child inherits ours
    assert.equal((os.getenv("HOME") or "") .. "\n", process.run("sh", { "-c", "echo $HOME" }).stdout)
    local e = raised(process.spawn, "pwd", {}, { cwd = "/no/such/dir" })
    assert.is_true(errors.is(e, errors.SystemError))
    assert.equal("ENOENT", e.code)
  end)

  it("turns number arguments into strings", function()
    assert.equal("1 2.5 x\n", process.run("echo", { 1, 2.5, "x" }).stdout)
    assert.equal("\n", process.run("echo").stdout) -- no arguments at all
  end)

  it("raises ENOENT as a SystemError naming the command", function()
    local e = raised(process.spawn, "no-such-command-for-ebb", { "a" })
    assert.is_true(errors.is(e, errors.SystemError))
    assert.equal("ENOENT", e.code)
    assert.equal("spawn", e.syscall)
    assert.equal("no-such-command-for-ebb", e.path)
    assert.equal("ENOENT: no such file or directory, spawn no-such-command-for-ebb", e.message)
    assert.equal("ENOENT", raised(process.run, "no-such-command-for-ebb").code)
  end)

  it("names the bad argument and option", function()
    assert_bad(function() process.spawn(nil) end, "bad argument #1 to 'spawn' %(command string expected, got nil%)")
    assert_bad(function() process.spawn("") end, "bad argument #1 to 'spawn'")
    assert_bad(function() process.spawn("echo", "hi") end, "bad argument #2 to 'spawn' %(table of arguments expected, got string%)")
    assert_bad(function() process.spawn("echo", { "a", {} }) end, "bad argument #2 to 'spawn' %(argument 2 must be a string, got table%)")
    assert_bad(function() process.spawn("echo", { true }) end, "argument 1 must be a string, got boolean")
    assert_bad(function() process.spawn("echo", {}, "x") end, "bad argument #3 to 'spawn' %(table of options expected, got string%)")
    assert_bad(function() process.spawn("echo", {}, { env = "A=1" }) end, "bad argument #3 to 'spawn' %(option 'env' must be a table, got string%)")
    assert_bad(function() process.spawn("echo", {}, { env = { A = {} } }) end, "option 'env' must map names to strings")
    assert_bad(function() process.spawn("echo", {}, { env = { "A=1" } }) end, "option 'env' must map names to strings")
    assert_bad(function() process.spawn("echo", {}, { cwd = 1 }) end, "bad argument #3 to 'spawn' %(option 'cwd' must be a string")
    assert_bad(function() process.spawn("echo", {}, { stdout = "file" }) end,
      "bad argument #3 to 'spawn' %(option 'stdout' must be \"pipe\", \"inherit\" or \"ignore\", got file%)")
    assert_bad(function() process.spawn("echo", {}, { stdin = 0 }) end, "option 'stdin' must be")
    assert_bad(function() process.spawn("echo", {}, { kill_signal = "SIGFOO" }) end,
      "bad argument #3 to 'spawn' %(option 'kill_signal' must be a signal name or number, got SIGFOO%)")
    assert_bad(function() process.spawn("echo", {}, { signal = "now" }) end,
      "bad argument #3 to 'spawn' %(option 'signal' must be an abort signal, got string%)")
    assert_bad(function() process.spawn("echo", {}, { high_water_mark = 0 }) end, "option 'high_water_mark' must be a whole number")
    assert_bad(function() process.run("echo", {}, 7) end, "bad argument #3 to 'run' %(table of options expected, got number%)")
    assert_bad(function() process.run("echo", {}, { stderr = "x" }) end, "bad argument #3 to 'run' %(option 'stderr' must be")
    for _, mode in ipairs { "ignore", "inherit" } do -- refused before anything starts
      assert_bad(function() process.run("/no/such/cmd", {}, { stdin = mode, input = "x" }) end,
        "bad argument #3 to 'run' %(options 'input' and 'stdin' conflict: input needs stdin \"pipe\", got \"" .. mode .. "\"%)")
    end
    assert.equal("x", process.run("cat", {}, { stdin = "pipe", input = "x" }).stdout)
  end)

  describe("killing", function()
    it("kills the child when a task waiting for it is cancelled", function()
      local p = process.spawn("sleep", { "30" })
      local waiter = started(p.wait, p)
      assert.equal("running", waiter.status)
      waiter:cancel()
      local ok, e = pcall(waiter.await, waiter)
      assert.is_false(ok)
      assert.is_true(errors.is(e, errors.AbortError))
      assert.same({ nil, "SIGTERM" }, { p:wait() })
      p:close()
    end)

    it("kills the child when the wait's signal aborts, and raises its reason", function()
      local p = process.spawn("sleep", { "30" })
      assert.equal("now", raised(p.wait, p, abort.aborted("now")))
      assert.same({ nil, "SIGTERM" }, { p:wait() })
      p:close()
    end)

    it("kills the child with kill_signal when opts.signal aborts", function()
      local ctl = abort.controller()
      local p = process.spawn("sleep", { "30" }, { signal = ctl.signal, kill_signal = "SIGKILL" })
      local waiter = started(p.wait, p)
      ctl:abort("stop")
      assert.same({ nil, "SIGKILL" }, { waiter:await() })
      p:close()
    end)

    it("starts nothing given a signal already aborted, or in a task already cancelled: raises the reason", function()
      local ctl = abort.controller()
      ctl:abort("stopped before")
      local marker = os.tmpname()
      os.remove(marker)
      assert.equal("stopped before", raised(process.spawn, "touch", { marker }, { signal = ctl.signal }))
      local spawner = started(function()
        task.current():cancel("cancelled before")
        return process.spawn("touch", { marker })
      end)
      assert.equal("cancelled before", select(2, pcall(spawner.await, spawner)))
      assert.equal("stopped before", raised(process.run, "touch", { marker }, { signal = ctl.signal }))
      assert.is_nil(io.open(marker)) -- no child ran
    end)

    it("kills the child when the task that spawned it is cancelled", function()
      local p
      local spawner = started(function()
        p = process.spawn("sleep", { "30" })
        task.future():await() -- forever
      end)
      spawner:cancel()
      assert.is_false((pcall(spawner.await, spawner)))
      assert.same({ nil, "SIGTERM" }, { p:wait() })
      p:close()
    end)

    it("leaves the child alone once the spawning task has ended normally", function()
      local p = task.spawn(function() return process.spawn("sh", { "-c", "read x; echo got $x" }) end):await()
      p.stdin:write("line\n")
      p.stdin:finish()
      assert.equal("got line\n", read_all(p.stdout))
      assert.same({ 0 }, { p:wait() })
      p:close()
    end)

    it("is killed and its pipes closed by close, as a scope disposes of it", function()
      local p
      scope.run(function(s)
        p = s:use(process.spawn("sleep", { "30" }))
      end)
      assert.is_true(p.stdin.closed and p.stdout.closed and p.stderr.closed)
      assert.same({ nil, "SIGTERM" }, { p:wait() })
      p:close() -- again: nothing
    end)
  end)

  describe("stdio modes", function()
    it("has no stream for \"ignore\", and the child runs without one", function()
      local p = process.spawn("sh", { "-c", "echo lost; cat; echo err >&2" },
        { stdin = "ignore", stdout = "ignore" })
      assert.is_nil(p.stdin)
      assert.is_nil(p.stdout)
      assert.equal("err\n", read_all(p.stderr))
      assert.same({ 0 }, { p:wait() })
      p:close()
      local res = process.run("echo", { "x" }, { stdout = "ignore" })
      assert.equal("", res.stdout)
    end)

    it("shares ebb's own streams with \"inherit\"", function()
      local script = [[
        local process = require "ebb.process"
        io.write("before\n")
        local p = process.spawn("sh", { "-c", "echo inherited; echo to-err >&2; cat" },
          { stdout = "inherit", stderr = "inherit" })
        assert(p.stdout == nil and p.stderr == nil)
        p.stdin:write("from stdin\n")
        p.stdin:finish()
        assert(p:wait() == 0)
        p:close()
        io.write("after\n")
      ]]
      local out, err, status = run.ebb("-e " .. run.quote(script))
      assert.equal("before\ninherited\nfrom stdin\nafter\n", out)
      assert.equal("to-err\n", err)
      assert.equal(0, status)
    end)
  end)

  describe("large data", function()
    it("loses no byte of several MiB of output read slowly, with the pipe's buffer bounded", function()
      local p = process.spawn("seq", { 1, 600000 }, { high_water_mark = 4096 })
      local parts, most, n = {}, 0, 0
      for chunk in p.stdout:chunks() do
        parts[#parts + 1] = chunk
        n = n + 1
        most = math.max(most, (p.stdout:buffered()))
        if n % 3 == 0 then task.yield() end
      end
      local expect = {}
      for i = 1, 600000 do expect[i] = i end
      local got = table.concat(parts)
      assert.equal(#table.concat(expect, "\n") + 1, #got)
      assert.equal(table.concat(expect, "\n") .. "\n", got)
      assert.is_true(most <= 4096 + 65536, "buffered at most " .. most)
      assert.same({ 0 }, { p:wait() })
      p:close()
    end)

    it("runs a command with input larger than the pipes hold", function()
      local input = ("line of input\n"):rep(300000) -- 4.2 MB
      local res = process.run("cat", {}, { input = input })
      assert.equal(0, res.code)
      assert.equal(#input, #res.stdout)
      assert.equal(input, res.stdout)
      assert.equal("", res.stderr)
      res = process.run("sh", { "-c", "wc -c; echo done >&2; exit 4" }, { input = "12345" })
      assert.same({ code = 4, stdout = "5\n", stderr = "done\n" }, res)
    end)

    it("gives a SystemError (EPIPE) for input the child does not read", function()
      local e = raised(process.run, "true", {}, { input = ("x"):rep(2 ^ 22) })
      assert.is_true(errors.is(e, errors.SystemError), tostring(e))
      assert.equal("EPIPE", e.code)
    end)
  end)
end)
