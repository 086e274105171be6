-- A C finalizer reached through getmetatable and called by hand on a live
-- object closes it as close() does: nothing waiting on it is left linked to
-- memory that is freed once the handle has closed.
local net = require "ebb.net"
local task = require "ebb.task"

local function finalize(h) getmetatable(h).__gc(h) end

describe("a stream's finalizer called by hand", function()
  it("ends the accept loop waiting on a listener", function()
    local server = net.listen("127.0.0.1", 0, function() end)
    task.yield() -- the accept loop waits for a connection
    finalize(server._h)
    task.yield()
    assert.equal("done", server._accepting.status)
    server:close()
  end)

  it("gives a waiting reader the end, and the stream is closed", function()
    local server = net.listen("127.0.0.1", 0, function(conn) conn:read() end)
    local c = net.connect("127.0.0.1", server.port)
    local reader = task.spawn(function() return c:read() end)
    task.yield()
    finalize(c._h)
    assert.is_nil(task.timeout(1000, reader.await, reader))
    assert.has_error(function() c:write("x") end)
    c:close()
    server:close()
  end)
end)

describe("a worker pool's finalizer called by hand", function()
  local worker = require "ebb.worker"

  it("shuts the pool down once; a second call does nothing, and the pool's methods then raise", function()
    local pool = worker.pool({ size = 1 })
    assert.equal(3, pool:run("return function(a, b) return a + b end", 1, 2))
    finalize(pool._core)
    finalize(pool._core)
    assert.has_error(function() pool:run("return function() end") end)
  end)

  it("raises for a value that is not a pool", function()
    local pool = worker.pool({ size = 1 })
    local gc = getmetatable(pool._core).__gc
    assert.has_error(function() gc({}) end)
    assert.has_error(function() gc(io.stdout) end)
    pool:close()
  end)
end)
