package.path = "spec/support/?.lua;" .. package.path
local stream = require "ebb.stream"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local fs = require "ebb.fs"
local raised = require("asserts").raised -- calls fn(...), which must raise; returns what it raised

-- A readable over a list of chunks, and a writable that collects; both log closes.
local function source(chunks, log)
  local i = 0
  return stream.readable(function()
    i = i + 1
    return chunks[i]
  end, function() log[#log + 1] = "src closed" end)
end

local function sink(out, log)
  return stream.writable(function(chunk) out[#out + 1] = chunk end, {
    finish = function() log[#log + 1] = "dst finished" end,
    close = function() log[#log + 1] = "dst closed" end,
  })
end

describe("ebb.stream", function()
  it("moves every chunk through function steps, in order", function()
    local out, log = {}, {}
    stream.pipeline(source({ "a", "b", "c" }, log),
      function(c) return c:upper() end,
      function(c) return c, c end, -- every value it returns goes on
      function(c) if c ~= "B" then return c end end, -- nothing: dropped
      sink(out, log))
    assert.same({ "A", "A", "C", "C" }, out)
    assert.same({ "dst finished", "src closed", "dst closed" }, log)
  end)

  it("runs a transform that keeps state and yields at the end", function()
    local out, log = {}, {}
    local count = stream.transform(function(yield, chunks)
      local n = 0
      for c in chunks do
        n = n + #c
        yield(c)
      end
      yield("total " .. n)
    end)
    stream.pipeline(source({ "ab", "cde" }, log), count, sink(out, log))
    assert.same({ "ab", "cde", "total 5" }, out)
  end)

  it("closes every stage and raises the first error unchanged", function()
    local out, log = {}, {}
    local boom = errors.new("bad chunk")
    local e = raised(stream.pipeline, source({ "ok", "bad", "never" }, log),
      function(c) if c == "bad" then error(boom) end return c end, sink(out, log))
    assert.equal(boom, e)
    assert.same({ "ok" }, out)
    assert.same({ "src closed", "dst closed" }, log)
  end)

  it("stops on an abort and raises its reason", function()
    local out, log = {}, {}
    local e = raised(stream.pipeline, source({ "a" }, log), sink(out, log), { signal = abort.aborted("stop") })
    assert.equal("stop", e)
    assert.same({}, out)
    assert.same({ "src closed", "dst closed" }, log)
  end)

  it("refuses a write after finish, and reads and writes after close", function()
    local w = sink({}, {})
    w:write("x")
    w:finish()
    assert.matches("write after finish", tostring(raised(w.write, w, "y")))
    local r = source({ "a" }, {})
    r:close()
    assert.matches("closed", tostring(raised(r.read, r)))
  end)

  it("copies a file through a transform with fs.reader and fs.writer", function()
    local p = os.tmpname()
    local data = ("0123456789abcdef"):rep(50000)
    fs.write_file(p, data)
    stream.pipeline(fs.reader(p, { high_water_mark = 4096 }), function(c) return c:upper() end, fs.writer(p .. ".out"))
    assert.equal(data:upper(), fs.read_file(p .. ".out"))
    fs.unlink(p)
    fs.unlink(p .. ".out")
  end)

  describe("bad input", function()
    local cases = {
      { "pipeline(5, sink)", function() stream.pipeline(5, sink({}, {})) end, "readable stream expected" },
      { "pipeline(src)", function() stream.pipeline(source({}, {})) end, "a source and a sink" },
      { "pipeline(src, 5, sink)", function() stream.pipeline(source({}, {}), 5, sink({}, {})) end, "function or stream.transform" },
      { "readable(5)", function() stream.readable(5) end, "function expected" },
      { "write(5)", function() sink({}, {}):write(5) end, "string expected" },
      { "fs.reader(5)", function() fs.reader(5) end, "path string expected" },
      { "fs.reader(p, {high_water_mark=0})", function() fs.reader("/tmp", { high_water_mark = 0 }) end, "high_water_mark" },
    }
    for _, c in ipairs(cases) do
      it(c[1], function() assert.matches(c[3], tostring(raised(c[2]))) end)
    end
  end)
end)
