package.path = "spec/support/?.lua;" .. package.path
local task = require "ebb.task"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local channel = require "ebb.channel"

describe("ebb.channel", function()
  it("buffers up to its capacity, then send waits for a receiver", function()
    local ch = channel.new(2)
    ch:send("a")
    ch:send("b")
    local third = task.spawn(function() ch:send("c") return "sent" end)
    task.yield()
    assert.equal("running", third.status) -- waiting: the buffer is full
    assert.equal("a", ch:recv())
    assert.equal("sent", third:await())
    assert.equal("b", ch:recv())
    assert.equal("c", ch:recv())
  end)

  it("makes recv wait until a value comes", function()
    local ch = channel.new(1)
    local r = task.spawn(function() return ch:recv() end)
    task.yield()
    assert.equal("running", r.status)
    ch:send(42)
    assert.equal(42, r:await())
  end)

  it("with capacity 0, makes every send wait for a receiver", function()
    local ch = channel.new(0)
    local log = {}
    local s = task.spawn(function() ch:send(1); log[#log + 1] = "sent" end)
    task.yield()
    task.yield()
    assert.same({}, log)
    assert.equal(1, ch:recv())
    s:await()
    assert.same({ "sent" }, log)
  end)

  it("keeps values in order across many senders and receivers", function()
    local ch = channel.new(3)
    local list = {}
    for i = 1, 50 do list[#list + 1] = function() ch:send(i) end end
    local senders = task.spawn(function() task.all(list); ch:close() end)
    local got = {}
    for v in ch:iter() do got[#got + 1] = v end
    senders:await()
    for i = 1, 50 do assert.equal(i, got[i]) end
  end)

  it("returns nil once closed and drained, and iteration ends", function()
    local ch = channel.new(5)
    ch:send(1)
    ch:send(2)
    ch:close()
    local got = {}
    for v in ch:iter() do got[#got + 1] = v end
    assert.same({ 1, 2 }, got)
    assert.is_nil(ch:recv())
  end)

  it("wakes waiting receivers with nil at close", function()
    local ch = channel.new(0)
    local r = task.spawn(function() return ch:recv() end)
    task.yield()
    ch:close()
    assert.is_nil(r:await())
  end)

  it("fails senders waiting at close, and every later send", function()
    local ch = channel.new(0)
    local s = task.spawn(function() ch:send("x") end)
    task.yield()
    ch:close()
    local ok, e = pcall(s.await, s)
    assert.is_false(ok)
    assert.is_true(errors.is(e, channel.ClosedError))
    ok, e = pcall(ch.send, ch, "y")
    assert.is_false(ok)
    assert.is_true(errors.is(e, channel.ClosedError))
  end)

  it("raises an abort during send and recv, and the channel stays usable", function()
    local ch = channel.new(0)
    local ctl = abort.controller()
    local s = task.spawn(function() ch:send("lost", ctl.signal) end)
    task.yield()
    ctl:abort("stop")
    assert.equal("stop", select(2, pcall(s.await, s)))
    local r2 = task.spawn(function() return ch:recv() end)
    ch:send("kept") -- the aborted send left nothing behind
    assert.equal("kept", r2:await())
    assert.equal("no", select(2, pcall(ch.recv, ch, abort.aborted("no"))))
  end)

  it("gives a value back when its receiver is cancelled after being handed it", function()
    local ch = channel.new(1)
    local r = task.spawn(function() return ch:recv() end)
    task.yield()
    ch:send("precious") -- handed to r, which has not run yet
    r:cancel("gone")
    assert.equal("gone", select(2, pcall(r.await, r)))
    assert.equal("precious", ch:recv())
  end)

  it("wakes the next waiting receiver with a value its cancelled receiver gave back", function()
    for _, capacity in ipairs({ 0, 1 }) do
      local ch = channel.new(capacity)
      local r1 = task.spawn(function() return ch:recv() end)
      local r2 = task.spawn(function() return ch:recv() end)
      task.yield()
      ch:send("v") -- handed to r1, which has not run yet
      r1:cancel("gone")
      assert.equal("gone", select(2, pcall(r1.await, r1)))
      assert.equal("v", r2:await())
      assert.equal(("Channel (0 of %d buffered)"):format(capacity), tostring(ch))
    end
  end)

  it("gives a value back when its receiver's signal aborts after it was handed it", function()
    local ch = channel.new(0)
    local ctl = abort.controller()
    local r1 = task.spawn(function() return ch:recv(ctl.signal) end)
    local r2 = task.spawn(function() return ch:recv() end)
    task.yield()
    ch:send("v") -- handed to r1, which has not run yet
    ctl:abort("stop")
    assert.equal("stop", select(2, pcall(r1.await, r1)))
    assert.equal("v", r2:await())
  end)

  it("keeps a capacity-0 sender waiting while a given-back value fills the channel", function()
    local ch = channel.new(0)
    local r = task.spawn(function() return ch:recv() end)
    task.yield()
    ch:send("first") -- handed to r, which has not run yet
    r:cancel()
    pcall(r.await, r)
    local sender = task.spawn(function() ch:send("second") return "sent" end)
    task.yield()
    assert.equal("first", ch:recv())
    assert.equal("Channel (0 of 0 buffered)", tostring(ch)) -- "second" waits with its sender
    assert.equal("second", ch:recv())
    assert.equal("sent", sender:await())
  end)

  describe("bad input", function()
    local ch = channel.new(1)
    local cases = {
      { "new(-1)", function() channel.new(-1) end, "capacity" },
      { "new('x')", function() channel.new("x") end, "capacity" },
      { "new(1.5)", function() channel.new(1.5) end, "capacity" },
      { "send(nil)", function() ch:send(nil) end, "a value expected" },
      { "send(v, 5)", function() ch:send(1, 5) end, "abort signal expected" },
      { "recv(5)", function() ch:recv(5) end, "abort signal expected" },
      { "recv on a non-channel", function() ch.recv({}) end, "channel expected" },
    }
    require("asserts").each_bad(it, cases)
  end)
end)
