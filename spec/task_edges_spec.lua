-- Edge cases of the task runtime: races between cancel, wake and finish, and what a
-- wait leaves behind. Each spec is the smallest repro of one bug.
local task = require "ebb.task"
local clock = require "ebb.clock"
package.path = "spec/support/?.lua;" .. package.path
local run = require "run_ebb"

local function write_script(src)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(src)
  f:close()
  return path
end

describe("task edge cases", function()
  it("a task that raises a number (after waiting or not) fails with that number, not a string", function()
    local t1 = task.spawn(function() error(42, 0) end)
    local t2 = task.spawn(function() task.yield(); error(7, 0) end)
    local ok1, e1 = pcall(t1.await, t1)
    local ok2, e2 = pcall(t2.await, t2)
    assert.is_false(ok1)
    assert.is_false(ok2)
    assert.equal("number", type(e1))
    assert.equal("number", type(e2))
    assert.equal(42, e1)
    assert.equal(7, e2)
  end)

  -- Real time: the loop is kept busy past both deadlines, so the same turn fires
  -- the canceller's delay (a new task, run first) and the timeout of w's wait.
  local function busy(ms)
    local t0 = clock.now()
    while clock.now() - t0 < ms do end
  end

  it("cancel after a wait's timeout fired, before the task resumed, ends it cancelled", function()
    local f = task.future()
    local w = task.spawn(function() return f:await({ timeout = 10 }) end)
    task.yield() -- w is parked
    task.delay(5, function() w:cancel("stop") end)
    busy(30)
    local ok, e = pcall(w.await, w)
    assert.is_false(ok)
    assert.equal("stop", e)
    assert.equal("cancelled", w.status)
  end)

  it("cancel after task.timeout's deadline fired, before the task resumed, ends it cancelled", function()
    local w = task.spawn(function() return task.timeout(10, task.sleep, 1000) end)
    task.yield()
    task.delay(5, function() w:cancel("stop") end)
    busy(30)
    local ok, e = pcall(w.await, w)
    assert.is_false(ok)
    assert.equal("stop", e)
    assert.equal("cancelled", w.status)
  end)

  it("a task.yield that cannot yield (inside table.sort) leaves the next sleep intact", function()
    clock.auto()
    local t = task.spawn(function()
      local ok, e = pcall(table.sort, { 3, 1, 2 }, function(a, b) task.yield() return a < b end)
      assert(not ok and tostring(e):find("yield across", 1, true), tostring(e))
      local t0 = clock.now()
      task.sleep(50)
      return clock.now() - t0
    end)
    assert.near(50, t:await(), 1e-6)
  end)

  it("a wait that cannot yield (inside table.sort) leaves nothing armed behind (no hang)", function()
    local path = write_script([[
local task = require "ebb.task"
local f, g = task.future(), task.future()
local t = task.spawn(function()
  pcall(table.sort, { 3, 1, 2 }, function(a, b) f:await() return a < b end)
  return g:await()
end)
task.yield()
f:resolve("f")
task.yield()
io.write(t.status, " ")
g:resolve("g")
io.write(tostring(t:await()), "\n")
]])
    local out, err, status = run.ebb(run.quote(path))
    os.remove(path)
    assert.equal(0, status, err)
    assert.equal("running g\n", out)
  end)

  it("a wait that cannot yield on a future dropped at once corrupts nothing later (no crash)", function()
    local path = write_script([[
local task = require "ebb.task"
local lost = 0
for round = 1, 50 do
  local go = task.future()
  local fs, waiters = {}, {}
  local t = task.spawn(function()
    pcall(table.sort, { 3, 1, 2 }, function(a, b) task.future():await() return a < b end)
    collectgarbage(); collectgarbage()
    for i = 1, 50 do
      fs[i] = task.future()
      waiters[i] = task.spawn(function() return fs[i]:await() end)
    end
    go:await()
  end)
  task.yield(); task.yield()
  go:resolve()
  t:await()
  for i = 1, 50 do fs[i]:resolve(i) end
  task.yield(); task.yield()
  for i = 1, 50 do if waiters[i].status ~= "done" then lost = lost + 1 end end
  for i = 1, 50 do waiters[i]:cancel() end
end
io.write("lost ", lost, "\n")
]])
    local out, err, status = run.ebb(run.quote(path))
    os.remove(path)
    assert.equal(0, status, err)
    assert.equal("lost 0\n", out)
  end)

  it("two tasks that require the same module whose top level waits both get it", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. run.quote(dir)) == 0)
    local f = assert(io.open(dir .. "/slowmod_edges.lua", "wb"))
    f:write('require("ebb.task").sleep(20); return { value = 42 }')
    f:close()
    local saved = package.path
    package.path = dir .. "/?.lua;" .. package.path
    clock.auto()
    local a = task.spawn(function() return require("slowmod_edges").value end)
    local b = task.spawn(function() return require("slowmod_edges").value end)
    local ok_a, va = pcall(a.await, a)
    local ok_b, vb = pcall(b.await, b)
    package.path = saved
    package.loaded.slowmod_edges = nil
    os.remove(dir .. "/slowmod_edges.lua")
    os.remove(dir)
    assert.same({ true, 42 }, { ok_a, va })
    assert.same({ true, 42 }, { ok_b, vb })
  end)
end)

describe("task edge cases (continued)", function()
  it("spawn(task.sleep, bad) returns a task that fails with the argument error", function()
    local t = task.spawn(task.sleep, "soon")
    local ok, e = pcall(t.await, t)
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'sleep'", e)
    assert.equal("failed", t.status)
  end)

  it("a task that outlives many races (shielded) keeps no list of old races", function()
    clock.auto()
    local long = task.spawn(function() task.shield(task.sleep, 1000) return "done" end)
    for i = 1, 200 do
      assert.equal(i, task.race({ long, function() return i end }))
    end
    local more = rawget(long, "joins")
    assert.is_true(more == nil or #more == 0)
    assert.equal(true, rawget(long, 2)) -- its join (see ebb.task's template): back to plain "observed"
    assert.equal("done", long:await())
  end)
end)
