package.path = "spec/support/?.lua;" .. package.path
local fs = require "ebb.fs"
local abort = require "ebb.abort"
local task = require "ebb.task"
local errors = require "ebb.errors"
local core = require "ebb.core"
local raised = require("asserts").raised

local function handles() return core.stats().handles end
local listeners = require("ebb.abort.core").listeners

-- The next n changes, as "kind name" strings ("overflow 3" for a count).
local function take(w, n)
  local out = {}
  for _ = 1, n do
    local c = w:next()
    out[#out + 1] = c.kind .. " " .. tostring(c.name or c.count)
  end
  return out
end

describe("fs.watch", function()
  local tmp, dir
  before_each(function()
    tmp = fs.temp_dir("watch-")
    dir = tmp.path
  end)
  after_each(function() tmp:remove() end)

  it("tells the changes in a directory, kept from the moment it was made", function()
    local w = fs.watch(dir)
    fs.mkdir(dir .. "/sub")
    fs.write_file(dir .. "/a", "x")
    fs.rename(dir .. "/a", dir .. "/b")
    fs.unlink(dir .. "/b")
    -- the rename's second half and the unlink are the same change: told once
    assert.same({ "rename sub", "rename a", "change a", "rename a", "rename b" }, take(w, 5))
    fs.mkdir(dir .. "/end")
    assert.same({ "rename end" }, take(w, 1))
    w:close()
  end)

  it("waits for the next change, the other tasks running meanwhile", function()
    local w = fs.watch(dir)
    local maker = task.spawn(function() fs.mkdir(dir .. "/late") end)
    local c = w:next()
    assert.same({ kind = "rename", name = "late" }, c)
    maker:await()
    w:close()
  end)

  it("tells a watched file's changes under its own name", function()
    fs.write_file(dir .. "/f", "1")
    local w = fs.watch(dir .. "/f")
    fs.write_file(dir .. "/f", "22", { append = true })
    assert.same({ kind = "change", name = "f" }, w:next())
    w:close()
  end)

  it("keeps one of the same change in a row, still unread", function()
    local w = fs.watch(dir)
    fs.write_file(dir .. "/a", "1")
    fs.write_file(dir .. "/a", "2", { append = true })
    fs.write_file(dir .. "/a", "3", { append = true })
    fs.mkdir(dir .. "/z")
    assert.same({ "rename a", "change a", "rename z" }, take(w, 3))
    w:close()
  end)

  it("counts what does not fit in max_buffered, and tells the count after what fitted", function()
    local w = fs.watch(dir, { max_buffered = 2 })
    for i = 1, 5 do fs.mkdir(dir .. "/d" .. i) end
    assert.same({ "rename d1", "rename d2", "overflow 3" }, take(w, 3))
    fs.mkdir(dir .. "/d6") -- room again
    assert.same({ "rename d6" }, take(w, 1))
    w:close()
  end)

  it("is a for loop's iterator; close ends it and closes the handle", function()
    local before = handles()
    local w = fs.watch(dir)
    assert.equal(before + 1, handles())
    assert.equal("Watcher (" .. dir .. ")", tostring(w))
    fs.mkdir(dir .. "/x")
    local seen = {}
    for c in w do
      seen[#seen + 1] = c.name
      w:close()
    end
    assert.same({ "x" }, seen)
    assert.is_true(w.closed)
    assert.equal("Watcher (" .. dir .. ", closed)", tostring(w))
    assert.is_nil(w:next())
    w:close() -- once is enough
    assert.equal(before, handles())
  end)

  it("ends a wait with the signal's reason, closing the handle at once", function()
    local before = handles()
    local ctl = abort.controller()
    local w = fs.watch(dir, { signal = ctl.signal })
    task.delay(1, function() ctl:abort("enough") end)
    assert.equal("enough", raised(function() for _ in w do end end))
    assert.is_true(w.closed)
    assert.equal(before, handles())
    assert.equal("enough", raised(w.next, w)) -- and again after
  end)

  it("closes when its signal aborts, though nobody waits", function()
    local before = handles()
    local ctl = abort.controller()
    local w = fs.watch(dir, { signal = ctl.signal })
    ctl:abort("gone")
    assert.is_true(w.closed)
    assert.equal(before, handles())
    assert.equal(0, listeners(ctl.signal))
  end)

  it("listens to its signal only while open", function()
    local ctl = abort.controller()
    local w = fs.watch(dir, { signal = ctl.signal })
    assert.equal(1, listeners(ctl.signal))
    w:close()
    assert.equal(0, listeners(ctl.signal))
  end)

  it("is not kept by a long-lived signal: one never read is collected, and the signal lets go of it", function()
    local before = handles()
    local ctl = abort.controller()
    for _ = 1, 20 do fs.watch(dir, { signal = ctl.signal }) end
    assert.equal(20, listeners(ctl.signal))
    collectgarbage()
    collectgarbage()
    assert.equal(0, listeners(ctl.signal))
    assert.equal(before, handles())
  end)

  it("starts nothing when the signal has aborted already", function()
    local before = handles()
    assert.equal("no", raised(fs.watch, dir, { signal = abort.aborted("no") }))
    assert.equal(before, handles())
  end)

  it("closes when the task waiting on it is cancelled", function()
    local before = handles()
    local w
    local t = task.spawn(function()
      w = fs.watch(dir)
      for _ in w do end
    end)
    task.yield()
    t:cancel("stop")
    assert.equal("stop", raised(t.await, t))
    assert.is_true(w.closed)
    assert.equal(before, handles())
  end)

  it("closes when the task that read from it ends, after a break", function()
    local before = handles()
    local w
    task.spawn(function()
      w = fs.watch(dir)
      fs.mkdir(dir .. "/x")
      for _ in w do break end
    end):await()
    assert.is_true(w.closed)
    assert.equal(before, handles())
  end)

  it("closes when collected", function()
    local before = handles()
    fs.watch(dir)
    assert.equal(before + 1, handles())
    collectgarbage()
    collectgarbage()
    assert.equal(before, handles())
  end)

  it("watches the directories below too when recursive, named from the watched one", function()
    fs.mkdir(dir .. "/a/b", { recursive = true })
    local before = handles()
    for _, root in ipairs { dir, dir .. "/" } do
      local w = fs.watch(root, { recursive = true })
      assert.equal(before + 3, handles()) -- dir, a and a/b
      fs.write_file(dir .. "/a/b/f", "x")
      fs.mkdir(dir .. "/a/c")
      assert.same({ "rename a/b/f", "change a/b/f", "rename a/c" }, take(w, 3))
      w:close()
      assert.equal(before, handles())
      fs.unlink(dir .. "/a/b/f")
      fs.rmdir(dir .. "/a/c")
    end
  end)

  it("watches a directory made later, telling what was made in it before it was watched", function()
    local w = fs.watch(dir, { recursive = true })
    fs.mkdir(dir .. "/new/deeper", { recursive = true })
    fs.write_file(dir .. "/new/deeper/f", "x")
    assert.same({ "rename new", "rename new/deeper", "rename new/deeper/f" }, take(w, 3))
    fs.write_file(dir .. "/new/deeper/g", "y") -- watched now
    assert.same({ "rename new/deeper/g", "change new/deeper/g" }, take(w, 2))
    fs.unlink(dir .. "/new/deeper/f")
    fs.unlink(dir .. "/new/deeper/g")
    fs.rmdir(dir .. "/new/deeper")
    assert.same({ "rename new/deeper/f", "rename new/deeper/g", "rename new/deeper" }, take(w, 3))
    fs.mkdir(dir .. "/new/deeper") -- made again: watched again
    fs.write_file(dir .. "/new/deeper/h", "z")
    assert.same({ "rename new/deeper", "rename new/deeper/h" }, take(w, 2))
    w:close()
  end)

  it("names the changes in a directory moved within the tree by its new name", function()
    fs.mkdir(dir .. "/old/sub", { recursive = true })
    local before = handles()
    local w = fs.watch(dir, { recursive = true })
    fs.rename(dir .. "/old", dir .. "/new")
    assert.same({ "rename old", "rename new", "rename new/sub" }, take(w, 3))
    fs.write_file(dir .. "/new/sub/f", "x")
    assert.same({ "rename new/sub/f", "change new/sub/f" }, take(w, 2))
    assert.equal(before + 3, handles()) -- the old names' handles are closed
    w:close()
    assert.equal(before, handles())
  end)

  it("raises the system's error naming the path", function()
    local e = raised(fs.watch, dir .. "/none")
    assert.is_true(errors.is(e, errors.SystemError))
    assert.equal("SystemError: ENOENT: no such file or directory, watch '" .. dir .. "/none'", tostring(e))
    assert.equal("watch", e.syscall)
  end)

  it("refuses bad input, naming the argument", function()
    assert.matches("bad argument #1 to 'watch' %(path must not contain a NUL byte%)", raised(fs.watch, "a\0"))
    assert.matches("bad argument #2 to 'watch' %(unknown option 'deep'; valid options: max_buffered, recursive, signal%)",
      raised(fs.watch, dir, { deep = true }))
    assert.matches("bad argument #2 to 'watch' %(option 'recursive' must be a boolean, got number%)",
      raised(fs.watch, dir, { recursive = 1 }))
    assert.matches("bad argument #2 to 'watch' %(option 'max_buffered' must be a whole number from 1 to 1048576, got 0%)",
      raised(fs.watch, dir, { max_buffered = 0 }))
    assert.matches("bad argument #1 to 'next' %(Watcher expected, got table%)",
      raised(function() local w = fs.watch(dir) local ok, e = pcall(w.next, {}) w:close() error(e, 0) end))
    assert.matches("^spec/fs_watch_spec.lua:%d+: bad argument", select(2, pcall(function() fs.watch(dir, 1) end)))
  end)
end)
