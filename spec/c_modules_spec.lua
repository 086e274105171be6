-- The C modules (ebb.core, ebb.fs.core...) are what their luaopen functions
-- make: the list is found at build time, and Lua adds nothing to their tables.
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
