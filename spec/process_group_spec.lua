-- Process groups (docs/process.md): with group = true the child leads a group
-- of its own, and every kill, the ones ebb makes on cancellation included, reaches
-- the child's own children too.
package.path = "spec/support/?.lua;" .. package.path
local io_support = require "io_support"
local read_all = io_support.read_all
local process = require "ebb.process"
local abort = require "ebb.abort"
local task = require "ebb.task"
local asserts = require "asserts"
local assert_bad = asserts.bad_at("process_group_spec%.lua")

-- sh starts sleep in the background, prints its pid and waits for it. sleep holds
-- the stdout pipe, so the pipe's end comes only once sleep has exited too.
local TREE = { "-c", "sleep 30 & echo $!; wait" }

-- From /proc: a pid that is gone or a zombie has ended. Called once the pipe it
-- held has ended: it is then past closing its files, a moment from being a zombie.
local function running(pid)
  for _ = 1, 1000 do
    local f = io.open("/proc/" .. pid .. "/stat")
    if not f then return false end
    local state = f:read("*a"):match("^%d+ %b() (%a)")
    f:close()
    if state == "Z" or state == "X" then return false end
    if state == "S" then return true end -- asleep in sleep(1): not signalled
    task.yield() -- exiting, not yet a zombie
  end
  return true
end

-- Spawns the tree in a task of its own that waits for it; returns that task, the
-- process and the background sleep's pid.
local function tree_in_task(opts)
  local made = task.future()
  local t = task.spawn(function()
    local p = process.spawn("sh", TREE, opts)
    made:resolve(p, tonumber(p.stdout:read():match("%d+")))
    return p:wait()
  end)
  local p, grandchild = made:await()
  assert.is_true(running(grandchild))
  return t, p, grandchild
end

describe("ebb.process with group = true", function()
  it("kills the child's own children when the task that spawned it is cancelled", function()
    local t, p, grandchild = tree_in_task({ group = true })
    t:cancel("stop")
    assert.equal("stop", select(2, pcall(t.await, t)))
    assert.equal("", read_all(p.stdout)) -- the end: sleep has exited as well
    assert.is_false(running(grandchild))
    assert.same({ nil, "SIGTERM" }, { p:wait() })
    p:close()
  end)

  it("kills the whole group when opts.signal aborts, with kill_signal", function()
    local ctl = abort.controller()
    local t, p, grandchild = tree_in_task({ group = true, signal = ctl.signal, kill_signal = "SIGKILL" })
    ctl:abort()
    assert.same({ nil, "SIGKILL" }, { t:await() })
    assert.equal("", read_all(p.stdout))
    assert.is_false(running(grandchild))
    p:close()
  end)

  it("signals what is left of the group after the child itself has exited", function()
    local p = process.spawn("sh", { "-c", "sleep 30 & echo $!" }, { group = true })
    local grandchild = tonumber(p.stdout:read():match("%d+"))
    assert.same({ 0 }, { p:wait() }) -- sh is gone, its background job is not
    assert.is_true(running(grandchild))
    assert.is_true(p:kill()) -- reaches the group
    assert.equal("", read_all(p.stdout))
    assert.is_false(running(grandchild))
    p:close()
  end)

  it("puts the child in a process group whose id is its pid, for spawn and run", function()
    local pgid = "cut -d' ' -f5 /proc/$$/stat; echo $$" -- sh's process group, then its pid
    local out = process.run("sh", { "-c", pgid }, { group = true }).stdout
    local group, pid = out:match("^(%d+)\n(%d+)\n$")
    assert.equal(pid, group)
    out = process.run("sh", { "-c", pgid }).stdout
    group, pid = out:match("^(%d+)\n(%d+)\n$")
    assert.are_not.equal(pid, group) -- without it, the child stays in ebb's group
  end)

  it("names a group option that is not a boolean", function()
    assert_bad(function() process.spawn("echo", {}, { group = 1 }) end,
      "bad argument #3 to 'spawn' %(option 'group' must be a boolean, got number%)")
    assert_bad(function() process.run("echo", {}, { group = "yes" }) end,
      "bad argument #3 to 'run' %(option 'group' must be a boolean, got string%)")
  end)
end)
