-- ebb.signal: OS signals sent for real, to this process (signal.raise) or to a
-- child ebb; every step waits on the event it expects (a line the child
-- printed, a listener's call), never on time.
package.path = "spec/support/?.lua;" .. package.path
local signal = require "ebb.signal"
local task = require "ebb.task"
local abort = require "ebb.abort"
local clock = require "ebb.clock"
local errors = require "ebb.errors"
local process = require "ebb.process"
local stream = require "ebb.stream"
local core = require "ebb.core"
local asserts = require "asserts"
local run = require "run_ebb"
local raised = asserts.raised

local function open_handles() return core.stats().handles end

-- A listener that resolves a future with what it was called with, and the
-- task it ran in, once it has been called `times` times.
local function counting(times)
  local f, calls = task.future(), {}
  return function(name)
    calls[#calls + 1] = name
    if #calls == (times or 1) then f:resolve(calls, task.current()) end
  end, f
end

-- A child ebb running spec/fixtures/signal/<name>.lua: `expect(line)` reads
-- its next line, `kill(sig)` signals it, `finish()` returns its exit code,
-- the signal that ended it and its stderr.
local function child(name, ...)
  local p = process.spawn(run.BIN, { "spec/fixtures/signal/" .. name .. ".lua", ... })
  local lines = stream.lines(p.stdout)
  return {
    expect = function(line) assert.equal(line, lines:next()) end,
    kill = function(sig) p:kill(sig) end,
    finish = function()
      local out = { lines:rest() }
      for line in lines.next, lines do out[#out + 1] = line .. "\n" end
      local err = p.stderr:read() or ""
      local code, sig = p:wait()
      p:close()
      return code, sig, table.concat(out) .. err
    end,
  }
end

describe("ebb.signal", function()
  describe("on", function()
    it("runs the listener in a task of its own for each signal, with the signal's name", function()
      local before = open_handles()
      local fn, called = counting(2)
      local off = signal.on("SIGUSR1", fn)
      assert.equal(before + 1, open_handles())
      signal.raise("SIGUSR1")
      signal.raise("USR1")
      local calls, ran_in = called:await()
      assert.same({ "SIGUSR1", "SIGUSR1" }, calls)
      assert.is_true(task.is_task(ran_in))
      assert.are_not.equal(task.current(), ran_in)
      off()
      assert.equal(before, open_handles())
    end)

    it("calls every listener; off removes one, and a second off does nothing", function()
      local log = {}
      local off_a = signal.on("SIGUSR2", function() log[#log + 1] = "a" end)
      local fn, called = counting()
      local off_b = signal.on("SIGUSR2", fn)
      off_a()
      off_a()
      signal.raise("SIGUSR2")
      called:await()
      task.yield() -- a listener still there would have run by now, beside b
      assert.same({}, log)
      off_b()
    end)

    it("takes HUP for SIGHUP, and a listener may wait", function()
      local done = task.future()
      local off = signal.on("HUP", function(name)
        task.sleep(1)
        done:resolve(name)
      end)
      signal.raise("SIGHUP")
      assert.equal("SIGHUP", done:await())
      off()
    end)

    it("is removed when its signal aborts, and added not at all when it is aborted already", function()
      local before = open_handles()
      local ctl = abort.controller()
      signal.on("SIGWINCH", function() end, { signal = ctl.signal })
      assert.equal(1, require("ebb.abort.core").listeners(ctl.signal))
      ctl:abort()
      assert.equal(before, open_handles())
      assert.equal(0, require("ebb.abort.core").listeners(ctl.signal))
      local off = signal.on("SIGWINCH", function() end, { signal = abort.aborted() })
      assert.equal(before, open_handles())
      off()
    end)
  end)

  describe("wait", function()
    it("returns the name of the signal once it comes, and lets its handle go", function()
      local before = open_handles()
      local t = task.spawn(signal.wait, "SIGUSR1")
      local fn, called = counting()
      local off = signal.on("SIGUSR1", fn) -- the first wait has not started yet: hold it here
      task.yield()
      signal.raise("SIGUSR1")
      called:await()
      assert.equal("SIGUSR1", t:await())
      off()
      assert.equal(before, open_handles())
    end)

    it("raises a TimeoutError when none comes within timeout (virtual time)", function()
      clock.auto()
      local t0 = clock.now()
      local e = raised(signal.wait, "SIGUSR2", { timeout = 5000 })
      assert.is_true(errors.is(e, errors.TimeoutError))
      assert.equal("no SIGUSR2 came within 5000 ms", e.message)
      asserts.elapsed(t0, 5000)
    end)

    it("raises the reason at once when its signal aborts or its task is cancelled", function()
      local before = open_handles()
      local ctl = abort.controller()
      local t = task.spawn(signal.wait, "SIGUSR2", { signal = ctl.signal })
      task.yield()
      local reason = errors.AbortError("enough")
      ctl:abort(reason)
      assert.equal(reason, raised(t.await, t))
      local t2 = task.spawn(signal.wait, "SIGUSR2")
      task.yield()
      t2:cancel()
      pcall(t2.await, t2)
      assert.equal("cancelled", t2.status)
      assert.equal(before, open_handles())
      local gone = errors.AbortError("gone")
      assert.equal(gone, raised(signal.wait, "SIGUSR2", { signal = abort.aborted(gone) }))
    end)
  end)

  describe("SIGINT and SIGTERM", function()
    it("a listener replaces the exit, for every signal; without it the default is back", function()
      local c = child("listen", "SIGINT")
      c.expect("ready")
      c.kill("SIGINT")
      c.expect("listener SIGINT 1")
      c.kill("SIGINT")
      c.expect("listener SIGINT 2")
      c.kill("SIGUSR1")
      c.expect("off")
      c.kill("SIGINT")
      assert.same({ 130, nil, "" }, { c.finish() })
    end)

    it("ebb.shutdown is aborted beside a SIGTERM listener, and the process goes on", function()
      local c = child("listen", "SIGTERM", "shutdown")
      c.expect("ready")
      c.kill("SIGTERM")
      c.expect("shutdown: AbortError: interrupted by SIGTERM")
      c.expect("listener SIGTERM 1")
      c.kill("SIGUSR1")
      c.expect("off")
      c.kill("SIGUSR2")
      assert.same({ 0, nil, "done\n" }, { c.finish() })
    end)
  end)

  describe("other signals", function()
    it("SIGHUP: listened to, it is the listener's; once the last goes, the default ends the process", function()
      local c = child("listen", "SIGHUP")
      c.expect("ready")
      c.kill("SIGHUP")
      c.expect("listener SIGHUP 1")
      c.kill("SIGUSR1")
      c.expect("off")
      c.kill("SIGHUP")
      assert.same({ nil, "SIGHUP", "" }, { c.finish() })
    end)

    it("a listener that raises is an unhandled error each time, and stays", function()
      local c = child("listen", "SIGUSR2", "raise")
      c.expect("ready")
      c.kill("SIGUSR2")
      c.expect("listener SIGUSR2 1")
      c.kill("SIGUSR2")
      c.expect("listener SIGUSR2 2")
      c.kill("SIGUSR1")
      c.expect("off")
      c.kill("SIGUSR2")
      local code, sig, rest = c.finish()
      assert.equal(1, code)
      assert.is_nil(sig)
      assert.matches("^done\n.*boom 1.*boom 2", rest)
    end)

    it("a listener alone does not keep the process alive", function()
      local out, err, status = run.ebb("-e " .. run.quote(
        'require("ebb.signal").on("SIGHUP", print) print("end")'))
      assert.same({ "end\n", "", 0 }, { out, err, status })
    end)
  end)

  describe("bad input", function()
    asserts.each_bad(it, {
      { "a name that is not a string", function() signal.on(1, print) end,
        "bad argument #1 to 'on' %(signal name expected, got number%)" },
      { "an unknown name, listing the accepted ones", function() signal.on("SIGFOO", print) end,
        "bad argument #1 to 'on' %(unknown signal name 'SIGFOO'; accepted: SIGHUP, SIGINT, .*SIGUSR1.*%(the SIG may be left out%)%)" },
      { "SIGKILL", function() signal.wait("SIGKILL") end,
        "bad argument #1 to 'wait' %(SIGKILL cannot be caught: " },
      { "STOP", function() signal.on("STOP", print) end, "%(SIGSTOP cannot be caught" },
      { "SIGPIPE", function() signal.on("SIGPIPE", print) end, "%(SIGPIPE is ebb's own: " },
      { "SIGALRM", function() signal.on("SIGALRM", print) end, "%(SIGALRM is ebb's own: " },
      { "SIGSEGV", function() signal.on("SIGSEGV", print) end, "%(SIGSEGV reports a fault" },
      { "a NUL byte", function() signal.on("SIGHUP\0", print) end,
        "%(signal name must not contain a NUL byte%)" },
      { "fn not a function", function() signal.on("SIGHUP", "x") end,
        "bad argument #2 to 'on' %(function expected, got string%)" },
      { "an unknown option", function() signal.on("SIGHUP", print, { once = true }) end,
        "bad argument #3 to 'on' %(unknown option 'once'; valid options: signal%)" },
      { "a bad timeout", function() signal.wait("SIGHUP", { timeout = -1 }) end,
        "bad argument #2 to 'wait' %(option 'timeout' must be a non%-negative number" },
      { "raise of an unknown name, listing what raise takes", function() signal.raise("SIGNOPE") end,
        "bad argument #1 to 'raise' %(unknown signal name 'SIGNOPE'; accepted: SIGHUP, .*SIGKILL, SIGSTOP" },
    })

    it("wait outside a task says so, and holds nothing", function()
      local ok, e
      local before = open_handles()
      local ctl = abort.controller()
      ctl.signal:on_abort(function() ok, e = pcall(signal.wait, "SIGUSR1") end)
      ctl:abort()
      assert.is_false(ok)
      assert.matches("cannot wait outside a task", e)
      assert.equal(before, open_handles())
    end)
  end)
end)
