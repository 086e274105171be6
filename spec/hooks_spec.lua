-- The hooks between C and Lua are listed once, in host/hooks.h: start-up
-- fails before any script runs when ebb.boot leaves one unset, and the Lua
-- side sets no name the list lacks (a typo would go unnoticed until it
-- mattered: an unset on_shutdown makes SIGINT exit at once).
package.path = "spec/support/?.lua;" .. package.path
local run = require "run_ebb"

local function listed_hooks()
  local hooks = {}
  for name, required in run.read_file("host/hooks.h"):gmatch('X%(%u[%u_]*, "([%w_]+)", ([01])%)') do
    hooks[#hooks + 1] = { name = name, required = required == "1" }
  end
  return hooks
end

local function set_in_lua()
  local names = {}
  for path in io.popen("ls lua/ebb/*.lua"):lines() do
    local src = run.read_file(path)
    for name in src:gmatch("private%.([%w_]+)%s*=[^=]") do names[name] = path end
    for name in src:gmatch("function private%.([%w_]+)") do names[name] = path end
  end
  return names
end

describe("the host's hooks", function()
  it("are listed in host/hooks.h", function()
    assert.is_true(#listed_hooks() >= 15)
  end)

  it("are each set by the Lua side, and it sets no other", function()
    local set, listed = set_in_lua(), {}
    for _, h in ipairs(listed_hooks()) do
      listed[h.name] = true
      assert.is_truthy(set[h.name], "no Lua module sets the hook " .. h.name)
    end
    for name, path in pairs(set) do
      assert.is_truthy(listed[name], path .. " sets private." .. name .. ", which host/hooks.h does not list")
    end
  end)

  it("stop start-up, before the script runs, when a required one is missing", function()
    local checked = 0
    for _, h in ipairs(listed_hooks()) do
      if h.required then
        local out, err, status = run.sh("EBB_TEST_UNSET_HOOK=" .. h.name .. " " .. run.ebb_cmd("-e 'print(1)'"))
        assert.equal("", out)
        assert.equal(70, status)
        assert.equal("ebb: start-up failed: a hook is missing: ebb.boot sets no hook '" .. h.name
          .. "' (host/hooks.h lists them)\n", err)
        checked = checked + 1
      end
    end
    assert.is_true(checked >= 15)
  end)

  it("are all there in a normal start", function()
    local out, err, status = run.ebb("-e 'print(1)'")
    assert.equal("", err)
    assert.equal(0, status)
    assert.equal("1\n", out)
  end)
end)
