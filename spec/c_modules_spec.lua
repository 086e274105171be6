-- The C modules (ebb.core, ebb.fs.core...) are what their luaopen functions
-- make: the list is found at build time, they see the host through ebb.h only,
-- and Lua adds nothing to their tables.
package.path = "spec/support/?.lua;" .. package.path
local read_file = require("run_ebb").read_file

-- The C modules, found in the sources as the build finds them: each
-- `int luaopen_ebb_<name>_core(lua_State *L)` at the start of a line.
local function c_modules()
  local names = {}
  for path in io.popen("ls host/*.c bindings/*.c"):lines() do
    for fn in ("\n" .. read_file(path)):gmatch("\nint (luaopen_ebb_[%w_]*core)%(lua_State %*L%)") do
      names[#names + 1] = (fn:gsub("^luaopen_", ""):gsub("_", "."))
    end
  end
  table.sort(names)
  return names
end
local C_MODULES = c_modules()

describe("the C modules", function()
  it("are found in the sources, as the build finds them", function()
    local found = {}
    for _, name in ipairs(C_MODULES) do found[name] = true end
    for _, name in ipairs({ "ebb.core", "ebb.fs.core", "ebb.net.core", "ebb.semaphore.core", "ebb.test.core" }) do
      assert.is_true(found[name], name)
    end
  end)

  it("are each found by require", function()
    for _, name in ipairs(C_MODULES) do
      assert.equal("table", type(require(name)), name)
    end
  end)

  it("include, of the host's headers, ebb.h only", function()
    local wrong, files = {}, 0
    for path in io.popen("ls bindings/*.c bindings/*.h"):lines() do
      files = files + 1
      local src = read_file(path)
      for header in src:gmatch('#include%s*"([^"]+)"') do
        if header:find("host/", 1, true) and header ~= "../host/ebb.h" then wrong[#wrong + 1] = path .. ": " .. header end
        if not header:find("/", 1, true) and not read_file("bindings/" .. header) then
          wrong[#wrong + 1] = path .. ": " .. header .. " (not a header of bindings/)"
        end
      end
    end
    assert.is_true(files >= 10)
    assert.same({}, wrong)
  end)

  it("hold only what C put in them, once their Lua halves are loaded: no Lua function", function()
    for _, name in ipairs(C_MODULES) do
      pcall(require, (name:gsub("%.core$", ""))) -- the Lua half, where there is one
      for k, v in pairs(require(name)) do
        if type(v) == "function" then
          assert.equal("C", debug.getinfo(v, "S").what, name .. "." .. tostring(k) .. " is a Lua function")
        end
      end
    end
  end)
end)
