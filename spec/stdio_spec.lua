-- ebb.stdin, ebb.stdout, ebb.stderr, seen from outside: a child ebb with its
-- standard streams as pipes, files or /dev/null.
package.path = "spec/support/?.lua;" .. package.path
local run = require "run_ebb"
local fs = require "ebb.fs"

local quote = run.quote

-- build/ebb -e SCRIPT, with the shell redirections or pipes in `around`
-- ("%s" is the command); stdout, stderr, status.
local function ebb_e(script, around)
  local cmd = run.ebb_cmd("-e " .. quote("local ebb = require 'ebb'; " .. script))
  return run.sh(around and around:format(cmd) or cmd)
end

local function tmpfile(content)
  local p = os.tmpname()
  if content then fs.write_file(p, content) end
  return p
end

describe("ebb standard streams", function()
  it("keeps print and ebb.stdout:write in order, on a pipe and on a file", function()
    local script = [[
      print("one")
      ebb.stdout:write("two\n")
      io.write("three\n")
      ebb.stdout:write("four\n")
      print("five")
      ebb.stderr:write("err1\n")
      io.stderr:write("err2\n")
      ebb.stderr:write("err3\n")
    ]]
    local out, err, status = ebb_e(script)
    assert.equal("one\ntwo\nthree\nfour\nfive\n", out)
    assert.equal("err1\nerr2\nerr3\n", err)
    assert.equal(0, status)
    local p = tmpfile()
    out, err, status = ebb_e(script, "%s > " .. quote(p))
    assert.equal("", out)
    assert.equal("one\ntwo\nthree\nfour\nfive\n", run.read_file(p))
    assert.equal(0, status)
    os.remove(p)
  end)

  it("flushes what was written to a slow reader's pipe before exiting", function()
    local script = [[
      for i = 1, 64 do ebb.stdout:write(("%02d"):format(i % 100) .. ("z"):rep(32766)) end
      print("tail")
    ]]
    local out, err = ebb_e(script, "{ %s; echo \"status $?\" >&2; } | { sleep 1; wc -c; }")
    assert.equal(64 * 32768 + 5, tonumber(out))
    assert.equal("status 0\n", err)
  end)

  it("reads 1 MiB through ebb.stdin from a pipe and from a file, intact", function()
    local parts = {}
    for i = 1, 65536 do parts[i] = ("%015d\n"):format(i) end
    local data = table.concat(parts) -- 1 MiB
    local src = tmpfile(data)
    local script = [[
      local n, chunks = 0, 0
      for chunk in ebb.stdin:chunks() do
        n = n + #chunk
        chunks = chunks + 1
        ebb.stdout:write(chunk)
      end
      ebb.stderr:write(("%d bytes\n"):format(n))
      assert(ebb.stdin:read() == nil)
    ]]
    local out, err, status = ebb_e(script, "cat " .. quote(src) .. " | %s")
    assert.equal(0, status)
    assert.equal("1048576 bytes\n", err)
    assert.equal(#data, #out)
    assert.equal(data, out)
    out, err, status = ebb_e(script, "%s < " .. quote(src))
    assert.equal(0, status)
    assert.equal("1048576 bytes\n", err)
    assert.equal(data, out)
    os.remove(src)
  end)

  it("works with /dev/null as stdin and stdout", function()
    local out, err, status = ebb_e([[
      assert(ebb.stdin:read() == nil)
      ebb.stdout:write(("x"):rep(100000))
      print("printed")
      ebb.stderr:write("ok\n")
    ]], "%s < /dev/null > /dev/null")
    assert.equal("", out)
    assert.equal("ok\n", err)
    assert.equal(0, status)
  end)

  it("does not grow its buffer when writing to a pipe whose reader is slow", function()
    local script = [[
      local most, blocked = 0, 0
      for _ = 1, 256 do -- 16 MiB through a 64 KiB pipe
        ebb.stdout:write(("y"):rep(65536))
        local _, queued = ebb.stdout:buffered()
        most = math.max(most, queued)
      end
      ebb.stderr:write(("queued at most %d, hwm %d\n"):format(most, ebb.stdout.high_water_mark))
    ]]
    local out, err = ebb_e(script, "{ %s; echo \"status $?\" >&2; } | { sleep 1; wc -c; }")
    assert.equal(256 * 65536, tonumber(out))
    local most, hwm = err:match("queued at most (%d+), hwm (%d+)\n")
    assert.is_truthy(most, err)
    assert.is_true(tonumber(most) <= tonumber(hwm) + 65536, err)
    assert.matches("status 0\n$", err)
  end)

  it("lets a writer to stdout wait without stopping other tasks", function()
    local script = [[
      local task = require "ebb.task"
      local ticks = 0
      local ticker = task.spawn(function()
        while true do ticks = ticks + 1; task.yield() end
      end)
      for _ = 1, 64 do ebb.stdout:write(("t"):rep(65536)) end
      ticker:cancel()
      ebb.stderr:write(ticks > 0 and "ticked\n" or "never ticked\n")
    ]]
    local out, err = ebb_e(script, "{ %s; } | { sleep 1; wc -c; }")
    assert.equal(64 * 65536, tonumber(out))
    assert.equal("ticked\n", err)
  end)

  it("does not leave the shell's pipe non-blocking", function()
    -- the reader of ebb's stdin, and the command after ebb, share the pipes' file descriptions
    local out, _, status = run.sh(("printf 'abc' | { %s; grep flags /proc/self/fdinfo/0 /proc/self/fdinfo/1; } | cat")
      :format(run.ebb_cmd("-e " .. quote("local ebb = require 'ebb'; ebb.stdout:write(ebb.stdin:read() .. '\\n')"))))
    assert.equal(0, status)
    local lines = {}
    for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.equal("abc", lines[1])
    assert.equal(3, #lines)
    for i = 2, 3 do
      local flags = tonumber(lines[i]:match("flags:%s*(%d+)"), 8)
      assert.is_truthy(flags, lines[i])
      assert.equal(0, bit.band(flags, 2048), lines[i]) -- O_NONBLOCK
    end
  end)

  it("gives the same stream on each access, and stdin is only readable", function()
    local out, err, status = ebb_e([[
      assert(ebb.stdout == ebb.stdout)
      assert(ebb.stdin.readable and not ebb.stdin.writable)
      assert(ebb.stdout.writable and not ebb.stdout.readable)
      local ok, e = pcall(ebb.stdin.write, ebb.stdin, "x")
      assert(not ok and tostring(e):find("not writable"), tostring(e))
      ok, e = pcall(ebb.stdout.read, ebb.stdout)
      assert(not ok and tostring(e):find("not readable"), tostring(e))
      print("fine")
    ]], "true | %s")
    assert.equal("fine\n", out)
    assert.equal("", err)
    assert.equal(0, status)
  end)
end)
