-- Scripts see what they see under the standalone luajit: the main chunk's
-- caller, tracebacks, hooks, argument errors and the command line
-- (docs/luajit-differences.md lists what still differs, and why).
package.path = "spec/support/?.lua;" .. package.path
local run = require "run_ebb"
local quote, sh, ebb = run.quote, run.sh, run.ebb

local F = "spec/fixtures/compat/"

-- Runs a fixture under ebb: its output, and stderr when the status is not 0.
local function ebb_fixture(name, args)
  local out, err, status = ebb(quote(F .. name) .. (args and " " .. args or ""))
  assert.equal(0, status, err)
  assert.equal("", err)
  return out
end

describe("as under luajit", function()
  describe("the main chunk", function()
    it("is called from C with nothing below, and runs outside any coroutine it can see", function()
      assert.equal(table.concat({
        "running\tnil",
        "caller\tC\ttrue",
        "as script\ttrue",
        "below main chunk\t6\t\t" .. F .. "main_view.lua:5: in main chunk",
        "after waits\tnil",
      }, "\n") .. "\n", ebb_fixture("main_view.lua"))
    end)

    it("keeps its own frames at the end of a traceback cut short", function()
      assert.equal(F .. "deep_traceback.lua:3: in main chunk\n", ebb_fixture("deep_traceback.lua"))
    end)

    it("reports an uncaught error with the script's frames only", function()
      local _, err, status = ebb("-e 'local function f() error(\"boom\") end f()'")
      assert.equal(1, status)
      assert.equal(table.concat({
        "Error: (command line):1: boom",
        "stack traceback:",
        "\t[C]: in function 'error'",
        "\t(command line):1: in function 'f'",
        "\t(command line):1: in main chunk",
      }, "\n") .. "\n", err)
    end)

    it("gives an error object's traceback the script's frames only", function()
      local code = "local e = require(\"ebb.errors\").new(\"x\") print(e.traceback)"
      local out = ebb("-e " .. quote(code))
      assert.equal("stack traceback:\n\t(command line):1: in main chunk\n", out)
    end)
  end)

  it("shows hooks the script's code, not the host's Lua around it", function()
    assert.equal("[C] " .. F .. "line_hook.lua\ttrue\n", ebb_fixture("line_hook.lua"))
  end)

  it("gives a raising hook the script's line, never one of the host's modules", function()
    local _, err, status = ebb(quote(F .. "raising_hook.lua"))
    assert.equal(1, status)
    assert.matches("^Error: " .. F:gsub("%p", "%%%0") .. "raising_hook.lua:3: hook boom 4\n", err)
  end)

  it("words argument errors of coroutine.resume and wrap as LuaJIT does", function()
    assert.equal(table.concat({
      "false\tbad argument #1 to '?' (function expected, got number)",
      "false\tbad argument #1 to '?' (function expected, got no value)",
      "false\tbad argument #1 to '?' (coroutine expected)",
      F .. "coroutine_args.lua:4: bad argument #1 to 'resume' (coroutine expected)",
    }, "\n") .. "\n", ebb_fixture("coroutine_args.lua"))
  end)

  describe("the command line", function()
    it("with -e only, leaves arg[0] empty and puts the code at arg[-1]", function()
      local out = ebb("-e 'print(arg[0], arg[-1], arg[-2])'")
      assert.equal("nil\tprint(arg[0], arg[-1], arg[-2])\t-e\n", out)
    end)

    it("gives -e chunks no arguments and the script its own", function()
      local out = ebb("-e 'print(select(\"#\", ...))' " .. quote(F .. "init_file.lua") .. " a b")
      assert.equal("0\ninit file ran\n", out)
    end)

    it("takes -eCODE and -lNAME joined, and -l NAME apart, in order", function()
      local with_path = "LUA_PATH=" .. quote(F .. "?.lua") .. " "
      local out, err = sh(with_path .. run.ebb_cmd("'-eprint(1)' -l lib_mod -e 'print(lib_mod)'"))
      assert.equal("", err)
      assert.equal("1\nlib_mod loaded as lib_mod\nnil\n", out)
      out = sh(with_path .. run.ebb_cmd("-llib_mod -e 'print(package.loaded.lib_mod.loaded)'"))
      assert.equal("lib_mod loaded as lib_mod\ntrue\n", out)
    end)

    it("runs LUA_INIT first, as code or as @file", function()
      local out = sh("LUA_INIT='print(\"init code\")' " .. run.ebb_cmd("-e 'print(\"main\")'"))
      assert.equal("init code\nmain\n", out)
      out = sh("LUA_INIT=@" .. F .. "init_file.lua " .. run.ebb_cmd("-e 'print(\"main\")'"))
      assert.equal("init file ran\nmain\n", out)
    end)
  end)
end)
