-- require behaves as LuaJIT's (lib_package.c), and a module's top level may wait.
local task = require "ebb.task"
local clock = require "ebb.clock"
package.path = "spec/support/?.lua;" .. package.path
local run = require "run_ebb"

local FIXTURES = "spec/fixtures/require/"

describe("require", function()
  local saved_path, saved_loaders, names

  before_each(function()
    saved_path, saved_loaders = package.path, package.loaders
    package.path = FIXTURES .. "?.lua;" .. package.path
    names = {}
  end)

  after_each(function()
    package.path, package.loaders = saved_path, saved_loaders
    for _, name in ipairs(names) do
      package.loaded[name], package.preload[name] = nil, nil
      rawset(_G, name, nil)
    end
  end)

  -- a module that only package.preload knows, removed after the spec
  local function preload(name, fn)
    names[#names + 1] = name
    package.preload[name] = fn
  end
  local function forget(name) names[#names + 1] = name end

  it("gives each module(...) file its own table and global, as luaL_register modules get theirs", function()
    forget("legacy_module")
    forget("other_legacy_module")
    local m = require "legacy_module"
    local o = require "other_legacy_module"
    assert.equal("table", type(m))
    assert.equal(m, rawget(_G, "legacy_module"))
    assert.equal("hello from legacy_module", m.hello())
    assert.equal("bye from other_legacy_module", o.bye())
    assert.is_nil(o.hello)
    -- while it loads, package.loaded holds a light userdata, not a table to fill
    assert.equal("userdata", m.seen_while_loading)
  end)

  it("runs a module(...) file that does not see the globals", function()
    forget("bare_module")
    local m = require "bare_module"
    assert.equal(42, m.answer())
  end)

  it("passes the loader, and a file's chunk, the module name alone", function()
    local got
    preload("one_arg", function(...) got = { n = select("#", ...), ... } end)
    assert.is_true(require "one_arg")
    assert.same({ n = 1, "one_arg" }, got)
    forget("counts_args")
    assert.same({ n = 1, "counts_args" }, require "counts_args")
  end)

  it("lets a luaL_register C module make its own table, which the next module does not see", function()
    -- in a process of its own: busted has loaded lfs here already
    local out, err, status = run.ebb(run.quote(FIXTURES .. "c_module.lua"))
    assert.equal("", err)
    assert.equal(0, status)
    assert.equal("table\ttrue\tfunction\nuserdata\n", out)
  end)

  it("loads again a module that returned false", function()
    local count = 0
    preload("falsy", function() count = count + 1 return false end)
    assert.is_false(require "falsy")
    assert.is_false(require "falsy")
    assert.equal(2, count)
  end)

  it("keeps what the module put in package.loaded when it returns nothing", function()
    preload("self_set", function(name) package.loaded[name] = "set by itself" end)
    assert.equal("set by itself", require "self_set")
  end)

  it("asks the package.loaders table in place at the call", function()
    forget("virtual")
    package.loaders = { function(name) return function(n) return "custom:" .. n end end }
    assert.equal("custom:virtual", require "virtual")
    package.loaders = "not a table"
    assert.has_error(function() require "another" end, "'package.loaders' must be a table")
  end)

  it("gathers the loaders' messages when none finds the module", function()
    package.loaders = { function() return "\n\tfirst" end, function() end, function() return "\n\tsecond" end }
    assert.has_error(function() require "nowhere" end, "module 'nowhere' not found:\n\tfirst\n\tsecond")
  end)

  it("takes a number as the module's name and refuses other types, naming the argument", function()
    package.loaders = {}
    assert.has_error(function() require(5) end, "module '5' not found:")
    package.loaders = saved_loaders
    assert.has_error(function() require() end, "bad argument #1 to 'require' (string expected, got no value)")
    assert.has_error(function() require({}) end, "bad argument #1 to 'require' (string expected, got table)")
  end)

  it("after a module's error, says loop or previous error instead of loading it again", function()
    local count = 0
    preload("flaky", function() count = count + 1 error("first load fails", 0) end)
    assert.has_error(function() require "flaky" end, "first load fails")
    assert.has_error(function() require "flaky" end, "loop or previous error loading module 'flaky'")
    assert.equal(1, count)
  end)

  it("raises a module's error() with no value or NaN as it is", function()
    preload("nil_error", function() error() end)
    preload("nan_error", function() error(0 / 0) end)
    assert.same({ false, nil }, { pcall(require, "nil_error") })
    local ok, e = pcall(require, "nan_error")
    assert.is_false(ok)
    assert.matches("require_spec.lua:%d+: nan$", e)
  end)

  it("says loop or previous error for a module that requires itself", function()
    preload("looping", function(name) return require(name) end)
    assert.has_error(function() require "looping" end, "loop or previous error loading module 'looping'")
  end)

  it("keeps the module's frames in a traceback taken where it raised", function()
    forget("failing_module")
    local ok, tb = xpcall(function() require "failing_module" end, debug.traceback)
    assert.is_false(ok)
    assert.matches("failing_module.lua:1: fail in module", tb, 1, true)
    assert.matches("failing_module.lua:1: in function 'inner'", tb, 1, true)
    assert.matches("failing_module.lua:2: in main chunk", tb, 1, true)
  end)

  describe("of a module whose top level waits", function()
    it("lets a second task wait for the first one's load", function()
      clock.freeze()
      local runs = 0
      preload("slow", function() runs = runs + 1 task.sleep(100) return { value = 42 } end)
      local a = task.spawn(function() return require("slow").value end)
      local b = task.spawn(function() return require("slow").value end)
      task.yield()
      assert.equal("running", b.status)
      clock.advance(100)
      assert.equal(42, a:await())
      assert.equal(42, b:await())
      assert.equal(1, runs)
    end)

    it("tells the waiting task of a failed load as loop or previous error", function()
      clock.freeze()
      preload("slow_fail", function() task.sleep(100) error("slow failure", 0) end)
      local a = task.spawn(function() return require "slow_fail" end)
      local b = task.spawn(function() return pcall(require, "slow_fail") end)
      task.yield()
      local settled = task.spawn(task.all_settled, { a })
      clock.advance(100)
      assert.equal("slow failure", settled:await()[1].error)
      assert.same({ false, "loop or previous error loading module 'slow_fail'" }, { b:await() })
    end)

    it("tells the waiting task of a load whose error was caught, when it next requires", function()
      clock.freeze()
      preload("slow_caught", function() task.sleep(100) error("caught failure", 0) end)
      local a = task.spawn(function() return pcall(require, "slow_caught") end)
      task.yield()
      clock.advance(100)
      assert.same({ false, "caught failure" }, { a:await() })
      assert.has_error(function() require "slow_caught" end, "loop or previous error loading module 'slow_caught'")
    end)

    it("lets a task cancelled while waiting for another's load go", function()
      clock.freeze()
      preload("slow_cancel", function() task.sleep(100) return true end)
      local a = task.spawn(function() return require "slow_cancel" end)
      local b = task.spawn(function() return require "slow_cancel" end)
      task.yield()
      b:cancel()
      task.yield()
      assert.equal("cancelled", b.status)
      clock.advance(100)
      assert.is_true(a:await())
    end)
  end)
end)
