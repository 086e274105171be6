-- SIGINT and SIGTERM reach a script however it is busy: with nothing listening
-- the first ends it at once (130/143); with ebb.shutdown listened to, the
-- running code is interrupted where it runs; a second signal always exits.
package.path = "spec/support/?.lua;" .. package.path
local run = require "run_ebb"

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. run.quote(dir)) == 0)
local count = 0

-- Runs fixture `name` with its ready file, sends the signals, and returns
-- what it printed and "status=N".
local function signalled(name, signals, extra, feed)
  count = count + 1
  local ready = dir .. "/ready" .. count
  local args = run.quote("spec/fixtures/interrupt/" .. name .. ".lua") .. " " .. run.quote(ready)
    .. (extra and " " .. extra or "")
  return run.with_signals(args, ready, signals, feed)
end

describe("a signal while the script is busy", function()
  teardown(function() os.execute("rm -rf " .. run.quote(dir)) end)

  describe("with nothing listening, the first one ends it at once", function()
    it("SIGTERM in a loop that never waits: 143", function()
      assert.equal("status=143\n", signalled("busy", { "TERM" }))
    end)

    it("SIGINT in a loop that never waits: 130", function()
      assert.equal("status=130\n", signalled("busy", { "INT" }))
    end)

    it("SIGINT in a loop LuaJIT has compiled, that no hook reaches: 130", function()
      assert.equal("status=130\n", signalled("compiled_loop", { "INT" }))
    end)

    it("SIGTERM while blocked in a C call (io.read): 143", function()
      assert.equal("status=143\n", signalled("blocked_read", { "TERM" }, nil, "sleep 3"))
    end)

    it("SIGINT while two tasks wake each other endlessly: 130", function()
      assert.equal("status=130\n", signalled("ping_pong", { "INT" }))
    end)
  end)

  describe("with ebb.shutdown listened to", function()
    it("the listener runs at once and the cancellation reaches the running code", function()
      assert.equal("listener: AbortError: interrupted by SIGTERM\n"
        .. "busy loop: AbortError: interrupted by SIGTERM\n"
        .. "the script's hook kept: true\nstatus=0\n", signalled("busy_listening", { "TERM" }))
    end)

    it("a second signal exits at once", function()
      assert.equal("listener: AbortError: interrupted by SIGINT\nstatus=130\n",
        signalled("busy_listening", { "INT", "INT" }, "keep"))
    end)

    it("a pipeline given the signal is aborted, and the scope's disposers run", function()
      assert.equal("cleanup: before the writer closed\ncleanup: scope deferred ran\nstatus=130\n",
        signalled("pipeline_shutdown", { "INT" }))
    end)
  end)
end)
