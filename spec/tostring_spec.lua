-- Every object a module hands out prints its kind and its state, never
-- "table: 0x...", and its __tostring given another value raises bad argument #1.
local abort, context, retry = require "ebb.abort", require "ebb.context", require "ebb.retry"
local stream, task = require "ebb.stream", require "ebb.task"

describe("tostring of the objects made in Lua", function()
  it("a Backoff and a Budget", function()
    assert.equal("Backoff (1000 to 30000 ms, full jitter)", tostring(retry.backoff()))
    assert.equal("Backoff (0 to 50 ms, no jitter)", tostring(retry.backoff { base = 0, cap = 50, jitter = "none" }))
    assert.equal("Budget (500 of 500 tokens)", tostring(retry.budget()))
    assert.equal("Budget (12 of 12 tokens)", tostring(retry.budget { capacity = 12 }))
  end)

  it("a Snapshot counts the variables it holds a value for", function()
    local a, b = context.new { name = "a" }, context.new { name = "b" }
    assert.equal("Snapshot (0 values)", tostring(context.snapshot()))
    a:run(1, function()
      assert.equal("Snapshot (1 value)", tostring(context.snapshot()))
      a:run(2, function()
        b:run(3, function() assert.equal("Snapshot (2 values)", tostring(context.snapshot())) end)
      end)
    end)
  end)

  it("a Future is pending, resolved or rejected", function()
    local f = task.future()
    assert.equal("Future (pending)", tostring(f))
    f:resolve(nil)
    assert.equal("Future (resolved)", tostring(f))
    local g = task.future()
    g:reject("no")
    assert.equal("Future (rejected)", tostring(g))
  end)

  it("a Group counts its tasks and the ones running", function()
    local seen
    task.group(function(g)
      assert.equal("Group (0 tasks, 0 running)", tostring(g))
      g:spawn(function() task.sleep(1) end)
      assert.equal("Group (1 task, 1 running)", tostring(g))
      g:spawn(function() end)
      task.yield()
      assert.equal("Group (2 tasks, 1 running)", tostring(g))
      seen = g
    end)
    assert.equal("Group (2 tasks, ended)", tostring(seen))
  end)

  it("a Readable, a Writable and a Transform", function()
    local r = stream.readable(function() end)
    assert.equal("Readable (open)", tostring(r))
    r:read()
    assert.equal("Readable (ended)", tostring(r))
    r:close()
    assert.equal("Readable (closed)", tostring(r))
    local w = stream.writable(function() end)
    w:write("abc")
    assert.equal("Writable (3 bytes written)", tostring(w))
    w:finish()
    w:close()
    assert.equal("Writable (3 bytes written, finished, closed)", tostring(w))
    assert.equal("Transform", tostring(stream.transform(function() end)))
  end)

  it("an AbortController says whether it aborted", function()
    local c = abort.controller()
    assert.equal("AbortController (not aborted)", tostring(c))
    c:abort()
    assert.equal("AbortController (aborted)", tostring(c))
  end)

  it("an error class names itself", function()
    local errors = require "ebb.errors"
    assert.equal("ErrorClass (TimeoutError)", tostring(errors.TimeoutError))
    assert.equal("ErrorClass (HttpError)", tostring(errors.class("HttpError")))
    assert.equal("TimeoutError: slow", tostring(errors.TimeoutError("slow")))
  end)

  it("raises bad argument #1 given another value", function()
    local objects = { retry.backoff(), retry.budget(), context.snapshot(), task.future(),
      stream.readable(function() end), stream.writable(function() end), stream.transform(function() end),
      abort.controller() }
    for _, o in ipairs(objects) do
      local ok, e = pcall(getmetatable(o).__tostring, {})
      assert.is_false(ok)
      assert.matches("^bad argument #1 to '__tostring' %(.* expected, got table%)$", e)
    end
  end)
end)
