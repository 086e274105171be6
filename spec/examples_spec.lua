-- Runs every examples/*.lua with the ebb binary and compares its stdout with
-- examples/expected/<name>.txt; each must exit 0 with nothing on stderr. An
-- example that runs until something outside stops it (a signal) says in its
-- header which spec drives it ("-- driven by spec/x_spec.lua"): that spec runs it.
package.path = "spec/support/?.lua;" .. package.path
local run = require "run_ebb"
local quote, read_file, ebb = run.quote, run.read_file, run.ebb

local function list_examples()
  local p = assert(io.popen("ls examples/*.lua 2>/dev/null"))
  local names = {}
  for line in p:lines() do names[#names + 1] = line:match("([^/]+)%.lua$") end
  p:close()
  table.sort(names)
  return names
end

describe("examples", function()
  local names = list_examples()

  it("exist, each with an expected-output file", function()
    assert.is_true(#names >= 4, "expected at least 4 examples, found " .. #names)
    for _, name in ipairs(names) do
      assert.is_not_nil(read_file("examples/expected/" .. name .. ".txt"),
        "missing examples/expected/" .. name .. ".txt")
    end
  end)

  for _, name in ipairs(names) do
    it(name .. ".lua prints its expected output and exits 0", function()
      local src = assert(read_file("examples/" .. name .. ".lua"))
      assert.is_truthy(src:match("^%-%- [^\n]+\n%-%- [^\n]+\n"),
        name .. ".lua should start with a 2-line header comment")
      local expected = assert(read_file("examples/expected/" .. name .. ".txt"),
        "missing examples/expected/" .. name .. ".txt")
      local driver = src:match("^%-%- [^\n]+\n%-%- [^\n]+\n%-%- driven by (spec/[%w_]+%.lua)")
      if driver then
        local spec = read_file(driver)
        assert.is_truthy(spec and spec:find("\"" .. name .. "\"", 1, true), driver .. " should run " .. name)
        return
      end
      local out, err, status = ebb(quote("examples/" .. name .. ".lua"))
      assert.equal("", err)
      assert.equal(0, status)
      assert.equal(expected, out)
    end)
  end
end)
