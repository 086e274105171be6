-- The C modules (ebb.core, ebb.fs.core...) are what their luaopen functions
-- make: the list is found at build time, they see the host through ebb.h only,
-- and Lua adds nothing to their tables.
package.path = "spec/support/?.lua;" .. package.path
local read_file = require("run_ebb").read_file

local C_MODULES = {
  "ebb.core", "ebb.abort.core", "ebb.clock.core", "ebb.fs.core", "ebb.iostream.core",
  "ebb.net.core", "ebb.process.core", "ebb.repl.core", "ebb.semaphore.core", "ebb.test.core",
}

describe("the C modules", function()
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

  it("hold only what C put in them: no Lua function", function()
    for _, name in ipairs(C_MODULES) do
      for k, v in pairs(require(name)) do
        if type(v) == "function" then
          assert.equal("C", debug.getinfo(v, "S").what, name .. "." .. tostring(k) .. " is a Lua function")
        end
      end
    end
  end)
end)
