-- ebb's modules stay clear of what the JIT compiler of the LuaJIT ebb links
-- (Debian 12's 2.1 snapshot of March 2022) records wrongly
-- (docs/luajit-differences.md, "What ebb keeps away from the JIT compiler").
-- The wrong recordings leave values undefined in compiled code: the normal
-- build rarely shows it, a LuaJIT built with assertions stops on it. To run
-- the fixtures under one too, point EBB_LUAJIT_ASSERT at its src/ directory:
--   git checkout of LuaJIT's v2.1 at 2022-03-20, then
--   make CCDEBUG=-g XCFLAGS="-DLUAJIT_ENABLE_GC64 -DLUA_USE_ASSERT -DLUA_USE_APICHECK" BUILDMODE=dynamic
--   ln -s libluajit.so src/libluajit-5.1.so.2
package.path = "spec/support/?.lua;" .. package.path
local run = require "run_ebb"
local quote, sh = run.quote, run.sh

local F = "spec/fixtures/luajit/"
local ASSERTING = os.getenv("EBB_LUAJIT_ASSERT")

local function fixture(name, lib)
  local env = lib and ("LD_LIBRARY_PATH=" .. quote(lib) .. " ") or ""
  return sh(env .. run.ebb_cmd(quote(F .. name)))
end

local IO_FILE_ANSWERS = table.concat({
  "context.is_var: false",
  "gen.is_generator: false",
  "json.is_array: false",
  "Semaphore:release: bad argument #1 to 'release' (semaphore expected, got userdata)",
  "Readable:read: bad argument #1 to 'read' (readable stream expected, got userdata)",
  "DisposableStack:defer: bad argument #1 to 'defer' (DisposableStack expected, got userdata)",
  "retry budget: bad argument #2 to 'retry' (option 'budget' must be a budget (retry.budget, retry.budget.redis, or an object with withdraw and deposit methods), got userdata)",
}, "\n") .. "\n"

describe("the JIT compiler's blind spots", function()
  describe("an io file where an ebb object is checked for", function()
    it("gets the interpreter's answers in compiled code", function()
      local out, err, status = fixture("io_file_checks.lua")
      assert.equal(0, status, err)
      assert.equal(IO_FILE_ANSWERS, out)
    end)

    it("records nothing a LuaJIT with assertions stops on", function()
      if not ASSERTING then
        pending("EBB_LUAJIT_ASSERT is not set: no LuaJIT built with assertions to run under")
        return
      end
      local out, err, status = fixture("io_file_checks.lua", ASSERTING)
      assert.equal(0, status, err)
      assert.equal(IO_FILE_ANSWERS, out)
    end)
  end)
end)
