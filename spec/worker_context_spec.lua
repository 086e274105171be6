local task = require "ebb.task"
local context = require "ebb.context"
local worker = require "ebb.worker"

-- The job reads, then sets, the worker's own variable of the name given.
local READ = [[return function(name)
  local context = require "ebb.context"
  local var = context.new { name = name, default = "default in the worker" }
  local seen = var:get()
  local inside = var:run("run in the worker", function() return var:get() end)
  var:enter("entered in the worker")
  return seen, inside, var:get()
end]]

describe("ebb.worker and ebb.context", function()
  local pool
  before_each(function() pool = worker.pool { size = 1 } end)
  after_each(function() pool:close() end)

  it("a job sees the caller's values by variable name, copied when run is called", function()
    local request_id = context.new { name = "request_id" }
    local user = context.new { name = "user" }
    local seen = user:run({ id = 7, roles = { "admin" } }, function()
      return request_id:run("r1", function()
        local t = task.spawn(function() return pool:run("return function() " ..
          "local c = require 'ebb.context' " ..
          "return c.new{name = 'request_id'}:get(), c.new{name = 'user'}:get() end") end)
        request_id:enter("changed after the call") -- the job's copy was taken at the call
        return { t:await() }
      end)
    end)
    assert.equal("r1", seen[1])
    assert.same({ id = 7, roles = { "admin" } }, seen[2])
  end)

  it("the worker's run and enter change its own scope only, never the caller's", function()
    local var = context.new { name = "tenant" }
    var:run("acme", function()
      local seen, inside, after = pool:run(READ, "tenant")
      assert.equal("acme", seen)
      assert.equal("run in the worker", inside)
      assert.equal("entered in the worker", after)
      assert.equal("acme", var:get())
    end)
    -- the next job on the same worker starts from the caller's values again
    assert.equal("default in the worker", (pool:run(READ, "tenant")))
  end)

  it("the nearest value of a name counts, an exit hides it, unnamed variables stay behind", function()
    local outer, inner = context.new { name = "level" }, context.new { name = "level" }
    local unnamed = context.new()
    outer:run("outer", inner.run, inner, "inner", function()
      unnamed:run("never seen", function()
        assert.equal("inner", (pool:run(READ, "level")))
        inner:exit(function() assert.equal("default in the worker", (pool:run(READ, "level"))) end)
      end)
    end)
  end)

  it("a value that cannot be copied is left behind: the worker reads the default", function()
    local fn_var, ok_var = context.new { name = "callback" }, context.new { name = "plain" }
    local cyclic = {}
    cyclic.self = cyclic
    fn_var:run(print, ok_var.run, ok_var, "kept", function()
      assert.equal("default in the worker", (pool:run(READ, "callback")))
      assert.equal("kept", (pool:run(READ, "plain")))
      fn_var:run(cyclic, function()
        assert.equal("default in the worker", (pool:run(READ, "callback")))
      end)
      -- an argument that cannot cross is still refused, named as before
      local ok, e = pcall(pool.run, pool, READ, print)
      assert.is_false(ok)
      assert.matches("args%[1%]: a function cannot be copied", e.message)
    end)
  end)

  it("reaches a job queued behind others, and a worker's own pool", function()
    local var = context.new { name = "trace" }
    local nested = [[return function(name)
      local worker = require "ebb.worker"
      local inner = worker.pool { size = 1 }
      local r = inner:run(]] .. ("%q"):format(READ) .. [[, name)
      inner:close()
      return r
    end]]
    var:run("t-1", function()
      local a = task.spawn(pool.run, pool, READ, "trace")
      local b = task.spawn(pool.run, pool, nested, "trace")
      assert.equal("t-1", (a:await()))
      assert.equal("t-1", (b:await()))
    end)
  end)
end)
