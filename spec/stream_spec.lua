package.path = "spec/support/?.lua;" .. package.path
local stream = require "ebb.stream"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local fs = require "ebb.fs"
local task = require "ebb.task"
local raised = require("asserts").raised -- calls fn(...), which must raise; returns what it raised

local source = require("stream_support").source -- a readable over a list of chunks, logging its close

-- A writable that collects, logging its finish and close.
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

  it("given a signal, listens to it and reaches a stage that waits on something else", function()
    require("ebb.clock").auto()
    local ctl, out, log = abort.controller(), {}, {}
    local src = stream.readable(function() task.sleep(10000) return "late" end,
      function() log[#log + 1] = "src closed" end)
    local t0 = require("ebb.clock").now()
    task.delay(10, function()
      assert.is_true(require("ebb.abort.core").watched(ctl.signal))
      ctl:abort(errors.Error("stop"))
    end)
    local e = raised(stream.pipeline, src, sink(out, log), { signal = ctl.signal })
    assert.equal("stop", e.message)
    assert.equal(t0 + 10, require("ebb.clock").now())
    assert.same({}, out)
    assert.same({ "src closed", "dst closed" }, log)
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

  describe("fs.writer", function()
    local function slow_source(n, size, log)
      local i = 0
      return stream.readable(function()
        i = i + 1
        if i > n then return nil end
        return string.char(64 + i % 26):rep(size)
      end, function() log[#log + 1] = "src closed" end)
    end

    it("writes many chunks in order, small and larger than high_water_mark", function()
      local p = os.tmpname()
      local w = fs.writer(p, { high_water_mark = 8 })
      local parts = {}
      for i = 1, 500 do
        local chunk = tostring(i):rep(i % 7 == 0 and 5 or 1)
        parts[#parts + 1] = chunk
        w:write(chunk)
      end
      w:write("")
      w:finish()
      assert.equal(table.concat(parts), fs.read_file(p))
      fs.unlink(p)
    end)

    it("raises a failed write as a SystemError, and writes nothing after it", function()
      local w = fs.writer("/dev/full")
      local e = raised(function()
        for _ = 1, 10 do w:write(("x"):rep(65536)) end
        w:finish()
      end)
      assert.is_true(errors.is(e, fs.SystemError))
      assert.equal("ENOSPC", e.code)
      assert.equal("write", e.syscall)
      w:close()
    end)

    it("raises the failure in a pipeline, after closing every stage", function()
      local log = {}
      local e = raised(stream.pipeline, slow_source(20, 65536, log), fs.writer("/dev/full"))
      assert.equal("ENOSPC", e.code)
      assert.same({ "src closed" }, log)
    end)

    it("stops writing when the pipeline is aborted, and closes the file", function()
      local p = os.tmpname()
      local ctl = abort.controller()
      local n = 0
      local src = stream.readable(function()
        n = n + 1
        if n == 50 then ctl:abort("enough") end
        return ("z"):rep(4096)
      end)
      local e = raised(stream.pipeline, src, fs.writer(p), { signal = ctl.signal })
      assert.equal("enough", e)
      local size = fs.stat(p).size
      assert.is_true(size <= 50 * 4096 and size % 4096 == 0)
      fs.unlink(p)
    end)

    it("lets a task writing a file be cancelled, and the file still closes", function()
      local p = os.tmpname()
      local w = fs.writer(p)
      local t = task.spawn(function()
        while true do w:write(("q"):rep(65536)) end
      end)
      task.sleep(5)
      t:cancel("stop")
      assert.equal("stop", raised(t.await, t))
      w:close()
      assert.equal(0, fs.stat(p).size % 65536)
      fs.unlink(p)
    end)
  end)

  describe("bad input", function()
    local cases = {
      { "pipeline(5, sink)", function() stream.pipeline(5, sink({}, {})) end, "readable stream expected" },
      { "pipeline(src)", function() stream.pipeline(source({}, {})) end, "a source and a sink" },
      { "pipeline(src, 5, sink)", function() stream.pipeline(source({}, {}), 5, sink({}, {})) end, "function or stream.transform" },
      { "readable(5)", function() stream.readable(5) end, "function expected" },
      { "write(5)", function() sink({}, {}):write(5) end, "string expected" },
      { "fs.reader(5)", function() fs.reader(5) end, "path: string expected" },
      { "fs.reader(p, {high_water_mark=0})", function() fs.reader("/tmp", { high_water_mark = 0 }) end, "high_water_mark" },
    }
    for _, c in ipairs(cases) do
      it(c[1], function() assert.matches(c[3], tostring(raised(c[2]))) end)
    end

    it("refuses a signal that is not one at read, chunks, write and finish, before the source sees it", function()
      local seen = {}
      local r = stream.readable(function(sig) seen[#seen + 1] = sig end)
      local w = stream.writable(function(_, sig) seen[#seen + 1] = sig end,
        { finish = function(sig) seen[#seen + 1] = sig end })
      local where = "stream_spec.lua:%d+: "
      assert.matches(where .. "bad argument #1 to 'read' %(abort signal expected, got number%)",
        tostring(raised(function() r:read(5) end)))
      assert.matches(where .. "bad argument #1 to 'chunks' %(abort signal expected, got string%)",
        tostring(raised(function() r:chunks("x") end)))
      assert.matches(where .. "bad argument #2 to 'write' %(abort signal expected, got number%)",
        tostring(raised(function() w:write("ab", 5) end)))
      assert.matches(where .. "bad argument #1 to 'finish' %(abort signal expected, got table%)",
        tostring(raised(function() w:finish({}) end)))
      assert.same({}, seen)
      assert.is_false(w.finished)
      assert.equal(0, w.written)
    end)
  end)
end)
