local worker = require "ebb.worker"

-- The nice value of the thread that reads it (field 19 of its stat, after the name).
local NICE_OF_THREAD = [[return function()
  local f = assert(io.open("/proc/thread-self/stat"))
  local stat = f:read("*a")
  f:close()
  local fields = {}
  for field in stat:match("%) (.*)$"):gmatch("%S+") do fields[#fields + 1] = field end
  return tonumber(fields[17])
end]]

describe("ebb.worker's nice option", function()
  local process_nice = loadstring(NICE_OF_THREAD)()()

  it("runs the workers that many nice levels below the process, 10 by default", function()
    for _, case in ipairs({ { nil, 10 }, { 0, 0 }, { 5, 5 }, { 19, 19 } }) do
      local pool = worker.pool { size = 1, nice = case[1] }
      assert.equal(math.min(19, process_nice + case[2]), pool:run(NICE_OF_THREAD))
      pool:close()
    end
    assert.equal(process_nice, loadstring(NICE_OF_THREAD)()()) -- the loop's thread is left as it was
  end)

  it("is a whole number from 0 to 19", function()
    for _, bad in ipairs({ -1, 20, 2.5 }) do
      local ok, e = pcall(worker.pool, { nice = bad })
      assert.is_false(ok)
      assert.equal("bad argument #1 to 'pool' (option 'nice' must be a whole number from 0 to 19, got " .. bad .. ")", e)
    end
    assert.has_error(function() worker.pool { nice = "5" } end,
      "bad argument #1 to 'pool' (option 'nice': number expected, got string)")
  end)
end)
