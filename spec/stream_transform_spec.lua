-- Specs for stream.transform in stream.pipeline: the order in which chunks move through
-- transforms and function steps, what a transform's body sees when a stage after it
-- or before it fails, its context values, and its yield's checks.
package.path = "spec/support/?.lua;" .. package.path
local stream = require "ebb.stream"
local gen = require "ebb.gen"
local task = require "ebb.task"
local abort = require "ebb.abort"
local clock = require "ebb.clock"
local errors = require "ebb.errors"
local context = require "ebb.context"
local raised = require("asserts").raised

local source = require("stream_support").source -- a readable over a list of chunks, logging its close

-- A writable calling push, logging its close.
local function sink(push, log)
  return stream.writable(push, { close = function() log[#log + 1] = "dst closed" end })
end

-- A transform passing each chunk on, logging its cleanup and what ended it.
local function logged_pass(log)
  return stream.transform(function(yield, chunks)
    local ok, e = pcall(function()
      for c in chunks do yield(c) end
    end)
    local why = not ok and (errors.is(e, gen.CloseRequest) and "CloseRequest" or tostring(e))
    log[#log + 1] = ok and "body returned" or ("body ended by " .. why)
    if not ok then error(e, 0) end
  end)
end

describe("stream.transform in a pipeline", function()
  it("writes each chunk it yields before the body goes on", function()
    local log = {}
    local t = stream.transform(function(yield, chunks)
      for c in chunks do
        log[#log + 1] = "yield " .. c
        yield(c)
        log[#log + 1] = "after " .. c
      end
    end)
    stream.pipeline(source({ "a", "b" }, {}), t, sink(function(c) log[#log + 1] = "write " .. c end, {}))
    assert.same({ "yield a", "write a", "after a", "yield b", "write b", "after b" }, log)
  end)

  it("moves chunks through transforms and function steps in order, each value a step returns going on", function()
    local chars = stream.transform(function(yield, chunks)
      for c in chunks do
        for ch in c:gmatch(".") do yield(ch) end
      end
    end)
    local pairs_of = stream.transform(function(yield, chunks)
      local held
      for c in chunks do
        if held then yield(held .. c) held = nil else held = c end
      end
      if held then yield(held) end
    end)
    local out = {}
    stream.pipeline(source({ "ab", "c" }, {}), chars, function(c) return c, c:upper() end, pairs_of,
      function(c) if c ~= "bB" then return c, nil, "|" end end,
      sink(function(c) out[#out + 1] = c end, {}))
    assert.equal("aA|cC|", table.concat(out))
  end)

  it("hands on the first value of a yield", function()
    local out = {}
    local t = stream.transform(function(yield, chunks)
      for c in chunks do yield(c, "extra") end
    end)
    stream.pipeline(source({ "a" }, {}), t, sink(function(c, ...) out[#out + 1] = { c, select("#", ...) } end, {}))
    assert.same({ { "a", 1 } }, out) -- push(chunk, signal): the signal only
  end)

  describe("a failure after the last transform", function()
    it("raises a CloseRequest at its pending yield, runs its cleanup once, and raises the failure unchanged", function()
      local log, boom = {}, errors.new("sink full")
      local dst = sink(function(c) if c == "b" then error(boom) end end, log)
      local e = raised(stream.pipeline, source({ "a", "b", "c" }, log), logged_pass(log), dst)
      assert.equal(boom, e)
      assert.same({ "body ended by CloseRequest", "src closed", "dst closed" }, log)
    end)

    it("is raised by a function step after it too, and the transforms before it are closed", function()
      local log = {}
      local e = raised(stream.pipeline, source({ "a", "b" }, log), logged_pass(log), logged_pass(log),
        function(c) if c == "b" then error("bad step", 0) end return c end, sink(function() end, log))
      assert.equal("bad step", e)
      assert.same({ "body ended by CloseRequest", "body ended by CloseRequest", "src closed", "dst closed" }, log)
    end)

    it("is raised even when the body catches the close request and returns, or yields again", function()
      local returns = stream.transform(function(yield, chunks)
        for c in chunks do
          if not pcall(yield, c) then return end
        end
      end)
      local yields_again = stream.transform(function(yield, chunks)
        for c in chunks do pcall(yield, c) end
      end)
      for _, t in ipairs({ returns, yields_again }) do
        local full = sink(function() error("no room", 0) end, {})
        assert.equal("no room", raised(stream.pipeline, source({ "a", "b", "c" }, {}), t, full))
      end
    end)
  end)

  it("lets a failure of the source reach the body where it reads, and raises it", function()
    local log = {}
    local src = stream.readable(function() error("disk gone", 0) end, function() log[#log + 1] = "src closed" end)
    local e = raised(stream.pipeline, src, logged_pass(log), sink(function() end, log))
    assert.equal("disk gone", e)
    assert.same({ "body ended by disk gone", "src closed", "dst closed" }, log)
  end)

  it("on an abort while the sink waits, runs the body's cleanup and raises the reason", function()
    clock.auto()
    local log, ctl = {}, abort.controller()
    task.delay(10, function() ctl:abort("stop") end)
    local dst = sink(function() task.sleep(1000) end, log)
    local e = raised(stream.pipeline, source({ "a", "b" }, log), logged_pass(log), dst, { signal = ctl.signal })
    assert.equal("stop", e)
    assert.same({ "body ended by CloseRequest", "src closed", "dst closed" }, log)
  end)

  it("keeps the body's context values its own, as a generator's: the sink has the pipeline's", function()
    local v = context.new({ default = "d" })
    local seen = {}
    local t = stream.transform(function(yield, chunks)
      v:run("body", function()
        for c in chunks do
          seen[#seen + 1] = c .. " body sees " .. v:get()
          yield(c)
        end
      end)
    end)
    local dst = sink(function(c)
      seen[#seen + 1] = c .. " sink sees " .. v:get()
      v:enter("sink")
    end, {})
    stream.pipeline(source({ "a", "b" }, {}), t, dst)
    assert.same({ "a body sees body", "a sink sees d", "b body sees body", "b sink sees sink" }, seen)
    assert.equal("sink", v:get())
  end)

  describe("its yield", function()
    it("refuses nil, at the body's line", function()
      local t = stream.transform(function(yield, chunks)
        for _ in chunks do yield(nil) end
      end)
      local e = raised(stream.pipeline, source({ "a" }, {}), t, sink(function() end, {}))
      assert.matches("^[^\n]*stream_transform_spec%.lua:%d+: bad argument #1 to 'yield' %(value expected", e)
    end)

    it("refuses a call from another task while the body waits, and one after the body has ended", function()
      clock.auto()
      local saved, out = nil, {}
      local t = stream.transform(function(yield, chunks)
        saved = yield
        for c in chunks do yield(c) end
      end)
      local src = stream.readable(function() task.sleep(10) end) -- ends after a wait
      local p = task.spawn(stream.pipeline, src, t, sink(function(c) out[#out + 1] = c end, {}))
      task.sleep(5)
      assert.matches("stream_transform_spec%.lua:%d+: yield called outside its generator's body", raised(function() saved("x") end))
      p:await()
      assert.matches("stream_transform_spec%.lua:%d+: yield called after its generator has ended", raised(function() saved("y") end))
      assert.same({}, out)
    end)
  end)
end)
