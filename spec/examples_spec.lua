-- Runs every examples/*.lua with the ebb binary and compares its stdout with
-- examples/expected/<name>.txt; each must exit 0 with nothing on stderr.
local BIN = os.getenv("EBB_BIN") or "./build/ebb"

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- Runs a shell command: its stdout, stderr and exit status.
local function sh(cmd)
  local errf = os.tmpname()
  local p = assert(io.popen("(" .. cmd .. ") 2>" .. quote(errf) .. "; echo \"~status:$?\""))
  local out = p:read("*a")
  p:close()
  local status
  out = out:gsub("~status:(%d+)\n$", function(n)
    status = tonumber(n)
    return ""
  end)
  local err = read_file(errf) or ""
  os.remove(errf)
  return out, err, status
end

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
      local out, err, status = sh("timeout -k 1 4 " .. quote(BIN) .. " " .. quote("examples/" .. name .. ".lua"))
      assert.equal("", err)
      assert.equal(0, status)
      assert.equal(expected, out)
    end)
  end
end)
