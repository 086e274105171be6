-- Specs for how a run ends: os.exit in a finalizer at close, memory running
-- out in the scheduler, SIGPIPE for ebb and the programs it starts, and
-- output that could not be written.
package.path = "spec/support/?.lua;" .. package.path
local run = require "run_ebb"

local FIX = "spec/fixtures/exit/"
local function fixture(name) return run.quote(FIX .. name) end

-- ebb's stdout into `head -1`; its status comes back on stderr.
local function into_head(args)
  local out, err = run.sh("(" .. run.ebb_cmd(args) .. "; echo \"~ebb:$?\" >&2) | head -1")
  local status = tonumber(err:match("~ebb:(%d+)"))
  return out, err:gsub("~ebb:%d+\n", ""), status
end

describe("the end of a run", function()
  it("os.exit in a finalizer that runs while the state closes exits with its status", function()
    local _, err, status = run.ebb(fixture("exit_in_finalizer.lua"))
    assert.equal("", err)
    assert.equal(3, status)
  end)

  -- ASan reserves far more address space than any ulimit -v would leave it
  local sanitized = run.BIN:find("sanitize", 1, true) ~= nil
  local oom_it = sanitized and pending or it
  oom_it("memory running out in the scheduler is reported, with status 1", function()
    local out, err, status = run.sh("ulimit -v 300000; " .. run.ebb_cmd(fixture("out_of_memory.lua")))
    assert.matches("^memory full\n", out)
    assert.is_nil(err:find("PANIC", 1, true))
    -- where it runs out decides the report: the scheduler's own allocations end
    -- in a fatal error, the script's in an error it could have caught
    assert.is_truthy(err:find("^ebb: fatal error: not enough memory\n") or err:find("^Error: not enough memory\n"), err)
    assert.equal(1, status)
  end)

  describe("a closed stdout", function()
    for _, writer in ipairs { "print", "io.write", "io.stdout:write", "unbuffered" } do
      it("ends a script writing with " .. writer .. " quietly with status 141", function()
        local out, err, status = into_head(fixture("write_forever.lua") .. " " .. run.quote(writer))
        assert.equal("line 1\n", out)
        assert.equal("", err)
        assert.equal(141, status)
      end)
    end
  end)

  it("ebb.stdout writing to a closed stdout ends the run with 141 too", function()
    local out, err, status = into_head("-e 'local out = require(\"ebb\").stdout for i = 1, 2000000 do out:write(\"line \" .. i .. \"\\n\") end os.exit(2)'")
    assert.equal("line 1\n", out)
    assert.equal("", err)
    assert.equal(141, status)
  end)

  it("print and io.write keep their own argument errors, with the caller's line", function()
    local _, err = run.ebb("-e 'io.write({})'")
    assert.matches("^Error: %(command line%):1: bad argument #1 to 'write' %(string expected, got table%)", err)
    _, err = run.ebb("-e 'print(setmetatable({}, { __tostring = function() return {} end }))'")
    assert.matches("^Error: %(command line%):1: 'tostring' must return a string to 'print'", err)
  end)

  it("ebb.stdout's queued output that its reader never takes ends the run with 141", function()
    -- 64 KiB fill the pipe and the rest waits in the queue; the reader exits without reading
    local _, err = run.sh("(" .. run.ebb_cmd("-e 'require(\"ebb\").stdout:write((\"x\"):rep(65536 + 30000))'")
      .. "; echo \"~ebb:$?\" >&2) | sleep 0.2")
    assert.equal("~ebb:141\n", err)
  end)

  it("programs ebb starts get SIGPIPE at its default, not ignored", function()
    local out, err, status = run.ebb(fixture("children_sigpipe.lua"))
    assert.equal("os.execute\tdefault\nio.popen\tdefault\nprocess.run\tdefault\n1\n", out)
    assert.equal("", err)
    assert.equal(0, status)
  end)

  describe("output that cannot be written (a full disk)", function()
    it("by print is reported at exit, with status 1", function()
      local _, err, status = run.ebb("-e 'print(1)' > /dev/full")
      assert.equal("ebb: error writing to standard output: No space left on device\n", err)
      assert.equal(1, status)
    end)

    it("by io.write before os.exit(0) is reported, with status 1", function()
      local _, err, status = run.ebb("-e 'io.write(1) os.exit(0)' > /dev/full")
      assert.equal("ebb: error writing to standard output: No space left on device\n", err)
      assert.equal(1, status)
    end)

    it("that io.write already returned as an error keeps the status the script chose", function()
      local _, err, status = run.ebb("-e 'io.stdout:setvbuf(\"no\") io.stderr:write(select(2, io.write(1)), \"\\n\") os.exit(3)' > /dev/full")
      assert.equal("No space left on device\n", err)
      assert.equal(3, status)
    end)

    it("is not blamed on a read from stdout, which fails as under luajit", function()
      local out, err, status = run.ebb("-e 'print(io.stdout:read() == nil)' > /dev/null")
      assert.equal("", out)
      assert.equal("", err)
      assert.equal(0, status)
    end)
  end)
end)
