-- Bad input of every kind, the same rule everywhere: an error that names the
-- argument ("bad argument #N to 'fname' (...)"), never a crash, a string cut
-- short at a NUL byte, or a number that poisons the state it reaches.
package.path = "spec/support/?.lua;" .. package.path
local each_bad = require("asserts").each_bad
local run = require "run_ebb"
local fs, net, process = require "ebb.fs", require "ebb.net", require "ebb.process"
local task, abort, clock = require "ebb.task", require "ebb.abort", require "ebb.clock"
local semaphore, stream = require "ebb.semaphore", require "ebb.stream"
local http = require "ebb.http"

local NUL = "bad argument #%d+ to '[%w_]+' %(.*NUL byte"

describe("bad input", function()
  describe("a wrong self in C metamethods and methods", function()
    it("raises bad argument #1 for every one of them, never crashes", function()
      local out, err, status = run.ebb("spec/fixtures/input/wrong_self.lua")
      assert.equal("", err)
      assert.equal(0, status)
      local checked = tonumber(out:match("^done\t(%d+)\n$"))
      assert.is_truthy(checked, "calls that did not raise bad argument #1:\n" .. out)
      assert.is_true(checked >= 15)
    end)
  end)

  describe("strings with a NUL byte for C", function()
    local path = os.tmpname()
    fs.write_file(path, "data")
    each_bad(it, {
      { "fs.open", function() fs.open(path .. "\0junk") end, NUL },
      { "fs.open flags", function() fs.open(path, "r\0x") end, NUL },
      { "fs.stat", function() fs.stat(path .. "\0") end, NUL },
      { "fs.unlink", function() fs.unlink(path .. "\0.bak") end, NUL },
      { "fs.rename from", function() fs.rename(path .. "\0x", path .. "2") end, NUL },
      { "fs.rename to", function() fs.rename(path, path .. "\0x") end, NUL },
      { "fs.mkdir", function() fs.mkdir(path .. "\0/d") end, NUL },
      { "fs.rmdir", function() fs.rmdir(path .. "\0/d") end, NUL },
      { "fs.lstat", function() fs.lstat(path .. "\0") end, NUL },
      { "fs.readdir", function() fs.readdir("/tmp\0/x") end, NUL },
      { "fs.read_file", function() fs.read_file(path .. "\0") end, NUL },
      { "fs.write_file", function() fs.write_file(path .. "\0x", "d") end, NUL },
      { "fs.reader", function() fs.reader(path .. "\0") end, NUL },
      { "fs.writer", function() fs.writer(path .. "\0x") end, NUL },
      { "net.connect", function() net.connect("127.0.0.1\0evil.example", 1) end, NUL },
      { "net.listen", function() net.listen("127.0.0.1\0x", 0, print) end, NUL },
      { "net.resolve", function() net.resolve("localhost\0evil.example") end, NUL },
      { "process.spawn command", function() process.spawn("true\0x", {}) end, NUL },
      { "process.spawn argument", function() process.spawn("echo", { "a\0b" }) end, NUL },
      { "signal.on", function() require("ebb.signal").on("SIGHUP\0", print) end, NUL },
      { "signal.wait", function() require("ebb.signal").wait("USR1\0") end, NUL },
      { "process.spawn env", function() process.spawn("true", {}, { env = { A = "1\0B=2" } }) end, "NUL byte" },
      { "process.spawn cwd", function() process.spawn("true", {}, { cwd = "/\0tmp" }) end,
        "bad argument #3 to 'spawn' %(option 'cwd' must not contain a NUL byte%)" },
      { "http.fetch ca_file", function() http.fetch("https://127.0.0.1:1/", { ca_file = "/etc/ssl\0x" }) end,
        "bad argument #2 to 'fetch' %(option 'ca_file' must not contain a NUL byte%)" },
      { "http.listen", function() http.listen("127.0.0.1\0x", 0, print) end, NUL },
      { "process kill_signal", function() process.spawn("true", {}, { kill_signal = "SIGTERM\0" }) end, "kill_signal" },
    })
    it("a field's name is whole: a NUL byte does not end it early", function()
      local signal = abort.aborted("why")
      assert.is_true(signal.aborted)
      assert.is_nil(signal["aborted\0x"])
      assert.is_nil(signal["reason\0"])
      local f = fs.open(path)
      assert.is_number(f.fd)
      assert.is_nil(f["fd\0junk"])
      assert.is_nil(f["closed\0"])
      f:close()
    end)
    it("leaves the file the truncated name would have reached", function()
      pcall(fs.unlink, path .. "\0.bak")
      assert.equal("data", fs.read_file(path))
      fs.unlink(path)
    end)
  end)

  describe("numbers that are not finite or out of range", function()
    local f = fs.open("/etc/hostname")
    each_bad(it, {
      { "file.read(42)", function() f.read(42) end, "bad argument #1 to 'read' %(file expected, got number%)" },
      { "file.stat({})", function() f.stat({}) end, "bad argument #1 to 'stat' %(file expected, got table%)" },
      { "file:stat(5)", function() f:stat(5) end, "bad argument #1 to 'stat' %(abort signal expected, got number%)" },
      { "fs.stat(p, 5)", function() fs.stat("/tmp", 5) end, "bad argument #2 to 'stat' %(abort signal expected" },
      { "file:read(nan)", function() f:read(0 / 0) end, "bad argument #1 to 'read' %(n must be a whole number" },
      { "file:read(0)", function() f:read(0) end, "n must be a whole number from 1 to 1073741824, got 0" },
      { "file:read(1, nan)", function() f:read(1, 0 / 0) end, "bad argument #2 to 'read' %(offset must be" },
      { "file:read(1, 1e300)", function() f:read(1, 1e300) end, "offset must be a whole number from 0 to" },
      { "file:read(1, -1)", function() f:read(1, -1) end, "offset must be" },
      { "file:write('x', inf)", function() f:write("x", math.huge) end, "bad argument #2 to 'write' %(offset" },
      { "fs.open mode nan", function() fs.open("/tmp/x", "r", 0 / 0) end, "mode must be a whole number" },
      { "fs.reader hwm inf", function() fs.reader("/etc/hostname", { high_water_mark = math.huge }) end,
        "option 'high_water_mark' must be a whole number" },
      { "task.sleep(inf)", function() task.sleep(math.huge) end, "bad argument #1 to 'sleep' %(ms must be" },
      { "task.sleep(nan)", function() task.sleep(0 / 0) end, "ms must be a non%-negative number" },
      { "task.delay(1e13)", function() task.delay(1e13, print) end, "at most 1e12" },
      { "abort.timeout(inf)", function() abort.timeout(math.huge) end, "bad argument #1 to 'timeout' %(ms must be" },
      { "clock.advance(inf)", function() clock.freeze() clock.advance(math.huge) end,
        "bad argument #1 to 'advance' %(ms must be" },
      { "semaphore.new(2^53 + 2)", function() semaphore.new(2 ^ 53 + 2) end,
        "permits must be a whole number from 0 to 9007199254740992" },
      { "sem:acquire(inf)", function() semaphore.new(1):acquire(math.huge) end, "n must be a whole number" },
      { "net.connect port 1e300", function() net.connect("127.0.0.1", 1e300) end, "port must be a whole number" },
      { "net.listen backlog nan", function() net.listen("127.0.0.1", 0, print, { backlog = 0 / 0 }) end,
        "option 'backlog' must be a whole number" },
      { "process hwm nan", function() process.spawn("true", {}, { high_water_mark = 0 / 0 }) end,
        "option 'high_water_mark' must be a whole number" },
      { "queue push timeout inf", function() require("ebb.queue").new(1):push(print, { timeout = math.huge }) end,
        "bad argument #2 to 'push' %(option 'timeout' must be" },
      { "future await timeout inf", function() task.future():await({ timeout = math.huge }) end,
        "bad argument #1 to 'await' %(option 'timeout' must be" },
      { "task.timeout(inf)", function() task.timeout(math.huge, print) end, "bad argument #1 to 'timeout' %(ms must be" },
      { "stream.writable hwm nan", function() stream.writable(print, { high_water_mark = 0 / 0 }) end,
        "option 'high_water_mark' must be a whole number" },
    })
    it("a huge advance leaves the clock as it was", function()
      clock.freeze()
      local before = clock.now()
      pcall(clock.advance, math.huge)
      assert.equal(before, clock.now())
      clock.advance(5)
      assert.equal(before + 5, clock.now())
    end)
    it("advances that add up past 2^52 ms are refused, so the clock keeps every millisecond", function()
      local out, err, status = run.ebb("spec/fixtures/input/clock_limit.lua")
      assert.equal("", err)
      assert.equal(0, status)
      assert.matches("^[^\n]*bad argument #1 to 'advance' %(ms: would take the clock past 2%^52 ms[^\n]*\n"
        .. "within\ttrue\nafter 4\tfalse\nafter 5\ttrue\n$", out)
    end)
    it("large semaphores count exactly and print in full", function()
      local s = semaphore.new(2 ^ 31)
      assert.equal("Semaphore (2147483648 of 2147483648 free, 0 waiting)", tostring(s))
      s = semaphore.new(2 ^ 53)
      s:acquire(1)
      assert.equal(2 ^ 53 - 1, s.available)
    end)
  end)

  describe("errors that name the argument, not an internal 'attempt to ...'", function()
    local function never_called() error("not reached") end
    -- fn(p) with a child that is reaped whatever fn does; fn's error is raised
    local function with_child(fn)
      local p = process.spawn("true", {}, { stdin = "ignore", stdout = "ignore", stderr = "ignore" })
      local ok, e = pcall(fn, p)
      p:wait()
      if not ok then error(e, 0) end
    end
    each_bad(it, {
      { "task.shield(nil)", function() task.shield(nil) end, "bad argument #1 to 'shield' %(function expected, got nil%)" },
      { "fs.mkdir(p, 5)", function() fs.mkdir("/tmp/never", 5) end,
        "bad argument #2 to 'mkdir' %(table of options expected, got number%)" },
      { "fs.write_file(p, d, 'junk')", function() fs.write_file("/tmp/never", "d", "junk") end,
        "bad argument #3 to 'write_file' %(table of options expected, got string%)" },
      { "net.resolve(h, true)", function() net.resolve("localhost", true) end,
        "bad argument #2 to 'resolve' %(table of options expected, got boolean%)" },
      { "stream.writable(f, 5)", function() stream.writable(never_called, 5) end,
        "bad argument #2 to 'writable' %(table of options expected, got number%)" },
      { "stream.readable(f, 42)", function() stream.readable(never_called, 42) end,
        "bad argument #2 to 'readable' %(function expected, got number%)" },
      { "readable.read(42)", function() stream.readable(never_called).read(42) end,
        "bad argument #1 to 'read' %(readable stream expected, got number%)" },
      { "writable.finish('x')", function() stream.writable(never_called).finish("x") end,
        "bad argument #1 to 'finish' %(writable stream expected, got string%)" },
      { "process wait(nil)", function() with_child(function(p) p.wait(nil) end) end,
        "bad argument #1 to 'wait' %(process expected, got nil%)" },
      { "process wait(5)", function() with_child(function(p) p:wait(5) end) end,
        "bad argument #1 to 'wait' %(abort signal expected, got number%)" },
      { "channel iter(5)", function() require("ebb.channel").new(1):iter(5) end,
        "bad argument #1 to 'iter' %(abort signal expected, got number%)" },
      { "process stdout:chunks(5)", function()
        local p = process.spawn("true", {}, { stdin = "ignore", stderr = "ignore" })
        local ok, e = pcall(p.stdout.chunks, p.stdout, 5)
        p:close()
        p:wait()
        if not ok then error(e, 0) end
      end,
        "bad argument #1 to 'chunks' %(abort signal expected, got number%)" },
      { "process close({})", function() with_child(function(p) p.close({}) end) end,
        "bad argument #1 to 'close' %(process expected, got table%)" },
      { "pipeline signal 5", function() stream.pipeline(stream.readable(never_called), stream.writable(never_called),
        { signal = 5 }) end, "bad argument #3 to 'pipeline' %(option 'signal' must be an abort signal, got number%)" },
    })

    it("every public function and method given nonsense (810+ calls)", function()
      local out, err, status = run.ebb("spec/fixtures/input/sweep.lua")
      assert.equal(0, status, err)
      local lines = {}
      for line in out:gmatch("[^\n]+") do
        if line:find("^BAD ") or line:find("attempt to", 1, true) then lines[#lines + 1] = line end
      end
      assert.same({}, lines)
      assert.is_true(tonumber(out:match("calls\t(%d+)")) >= 810)
    end)
  end)

  it("points at the caller's line, through every layer of checks", function()
    local assert_bad = require("asserts").bad_at("bad_input_spec%.lua")
    local f = fs.open("/etc/hostname")
    local src, dst = stream.readable(print), stream.writable(print)
    assert_bad(function() fs.stat(5) end, "bad argument #1 to 'stat'")
    assert_bad(function() fs.open("/tmp\0") end, "bad argument #1 to 'open'")
    assert_bad(function() fs.reader("/etc/hostname", { high_water_mark = 0 }) end, "bad argument #2 to 'reader'")
    assert_bad(function() f:read(0 / 0) end, "bad argument #1 to 'read'")
    assert_bad(function() f.read(5) end, "bad argument #1 to 'read'")
    assert_bad(function() net.connect("127.0.0.1\0", 1) end, "bad argument #1 to 'connect'")
    assert_bad(function() net.connect("127.0.0.1", 1, { backlog = 0 / 0 }) end, "bad argument #3 to 'connect'")
    assert_bad(function() task.sleep(math.huge) end, "bad argument #1 to 'sleep'")
    assert_bad(function() task.shield(5) end, "bad argument #1 to 'shield'")
    assert_bad(function() stream.pipeline(src, dst, { signal = 5 }) end, "bad argument #3 to 'pipeline'")
    assert_bad(function() src.read(5) end, "bad argument #1 to 'read'")
    assert_bad(function() require("ebb.queue").new(1):push(print, { timeout = 1 / 0 }) end, "bad argument #2 to 'push'")
    assert_bad(function() require("ebb.channel").new(-1) end, "bad argument #1 to 'new'")
    assert_bad(function() semaphore.new(1):acquire(0) end, "bad argument #1 to 'acquire'")
    assert_bad(function() process.spawn("true\0") end, "bad argument #1 to 'spawn'")
    assert_bad(function() process.spawn("true", {}, { env = { A = "\0" } }) end, "bad argument #3 to 'spawn'")
    assert_bad(function() require("ebb.gen").paginate(print, { interval = 1 / 0 }) end, "bad argument #2 to 'paginate'")
    assert_bad(function() require("ebb.context").new(5) end, "bad argument #1 to 'new'")
    assert_bad(function() clock.advance(1 / 0) end, "bad argument #1 to 'advance'")
    f:close()
  end)

  it("names the public function and counts a method's arguments after self, whatever half checks", function()
    local assert_bad = require("asserts").bad_at("bad_input_spec%.lua")
    local queue, channel = require "ebb.queue", require "ebb.channel"
    local server = net.listen("127.0.0.1", 0, function() end)
    local conn = net.connect("127.0.0.1", server.port)
    local signal = abort.controller().signal
    assert_bad(function() queue.new(1):idle(5) end, "bad argument #1 to 'idle' %(abort signal expected, got number%)$")
    assert_bad(function() conn:read(5) end, "bad argument #1 to 'read' %(abort signal expected, got number%)$")
    assert_bad(function() conn:write("x", 5) end, "bad argument #2 to 'write' %(abort signal expected, got number%)$")
    assert_bad(function() conn:finish(5) end, "bad argument #1 to 'finish' %(abort signal expected, got number%)$")
    assert_bad(function() fs.open("/etc/hostname", "q") end,
      "bad argument #2 to 'open' %(flags must be \"r\", \"r%+\", .* or \"ax%+\", got q%)$")
    assert_bad(function() fs.read_file("/etc/hostname", { signal = signal }) end,
      "bad argument #2 to 'read_file' %(abort signal expected, got table%)$")
    assert_bad(function() channel.new(1):recv(5) end, "bad argument #1 to 'recv' %(abort signal expected, got number%)$")
    assert_bad(function() channel.new(1):send(1, 5) end, "bad argument #2 to 'send' %(abort signal expected, got number%)$")
    assert_bad(function() process.spawn("") end, "bad argument #1 to 'spawn' %(command must not be empty%)$")
    assert_bad(function() task.future().resolve({}, 1) end, "bad argument #1 to 'resolve' %(future expected, got table%)$")
    assert_bad(function() task.future().reject(5) end, "bad argument #1 to 'reject' %(future expected, got number%)$")
    assert_bad(function() signal:on_abort(5) end, "bad argument #1 to 'on_abort' %(function expected, got number%)$")
    assert_bad(function() abort.any({ signal, 5 }) end, "bad argument #1 to 'any' %(item 2 is not an abort signal%)$")
    conn:close()
    server:close()
  end)

  it("a C function is named by its public name when called through pcall or a local", function()
    local function said(...)
      local ok, e = pcall(...)
      assert.is_false(ok)
      return e:match("bad argument #%d+ to '([^']*)'"), e:match("^spec/bad_input_spec%.lua:%d+: ") ~= nil
    end
    local signal = abort.controller().signal
    assert.same({ "timeout", true }, { said(abort.timeout, -1) })
    assert.same({ "any", true }, { said(abort.any, 5) })
    assert.same({ "on_abort", true }, { said(signal.on_abort, signal, 5) })
    assert.same({ "new", true }, { said(semaphore.new, -1) })
    local after = abort.timeout
    assert.same({ "timeout", true }, { said(function() after(-1) end) })
    -- a method counts its arguments after self however it is called
    local e = select(2, pcall(signal.on_abort, signal, 5))
    assert.matches("bad argument #1 to 'on_abort' %(function expected, got number%)$", e)
  end)

  it("C and Lua word the same check the same way", function()
    local function said(fn, ...) return tostring(select(2, pcall(fn, ...))):match("%((.*)%)$") end
    local f = fs.open("/etc/hostname")
    local fs_core, task_core = require "ebb.fs.core", require "ebb.core"
    for _, n in ipairs { 0 / 0, math.huge, 0, 1.5, "x" } do
      assert.equal(said(fs_core.read, f, n), said(f.read, f, n))
    end
    for _, ms in ipairs { 0 / 0, -math.huge, 1e13, -1, {} } do
      assert.equal(said(task_core.sleep, ms), said(task.sleep, ms))
    end
    assert.equal(said(fs_core.stat, "/tmp\0x"), said(fs.stat, "/tmp\0x"))
    assert.equal(said(fs_core.stat, 5), said(fs.stat, 5))
    f:close()
  end)

  it("one mistake reads the same whichever half checks it, placed at the caller's line", function()
    local channel = require "ebb.channel"
    local function said(call)
      local ok, e = pcall(call)
      assert.is_false(ok)
      local at, fname, words = e:match("^(.-): bad argument #1 to '([%w_]+)' %((.*)%)$")
      assert.matches("spec/bad_input_spec%.lua:%d+$", at)
      return words, fname
    end
    -- abort.timeout's duration is checked in C, task.sleep's and clock.advance's in Lua
    for _, ms in ipairs { -1, 0 / 0, math.huge, 1e13, "1", {} } do
      local words, fname = said(function() abort.timeout(ms) end)
      assert.equal("timeout", fname)
      assert.equal(words, said(function() task.sleep(ms) end))
      assert.equal(words, said(function() clock.advance(ms) end))
    end
    -- semaphore.new's permits are checked in C, channel.new's capacity in Lua
    for _, n in ipairs { -1, 1.5, 2 ^ 53 + 2, 0 / 0, "x" } do
      local words = said(function() semaphore.new(n) end)
      assert.equal((words:gsub("^permits", "capacity")), said(function() channel.new(n) end))
    end
  end)

  describe("what the arguments mean", function()
    it("a pipeline's options left nil are no options, not the sink", function()
      local got = {}
      local n = 0
      local src = stream.readable(function() n = n + 1 if n < 3 then return "x" end end)
      local dst = stream.writable(function(chunk) got[#got + 1] = chunk end)
      local opts
      stream.pipeline(src, dst, opts)
      assert.same({ "x", "x" }, got)
    end)

    it("a file's read and write errors name its path", function()
      local e = select(2, pcall(fs.write_file, "/dev/full", "x"))
      assert.equal("/dev/full", e.path)
      assert.matches("ENOSPC: .*, write '/dev/full'$", e.message)
      e = select(2, pcall(fs.read_file, "/tmp"))
      assert.equal("/tmp", e.path)
      assert.matches("EISDIR: .*, read '/tmp'$", e.message)
      local w = fs.writer("/dev/full")
      w:write("a")
      e = select(2, pcall(w.finish, w))
      assert.equal("/dev/full", e.path)
      w:close()
    end)
  end)
end)
