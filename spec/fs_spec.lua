package.path = "spec/support/?.lua;" .. package.path
local fs = require "ebb.fs"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local task = require "ebb.task"
local raised = require("asserts").raised -- calls fn(...), which must raise; returns what it raised

local function tmpdir()
  local p = os.tmpname()
  os.remove(p)
  fs.mkdir(p)
  return p
end

local function rm_rf(dir)
  for _, name in ipairs(fs.readdir(dir)) do
    local p = dir .. "/" .. name
    if fs.lstat(p).type == "directory" then rm_rf(p) else fs.unlink(p) end
  end
  fs.rmdir(dir)
end

describe("ebb.fs", function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() rm_rf(dir) end)

  it("writes and reads whole files, large ones too", function()
    local data = ("0123456789"):rep(100000) -- 1 MB: several reads
    fs.write_file(dir .. "/big", data)
    assert.equal(data, fs.read_file(dir .. "/big"))
    fs.write_file(dir .. "/big", "tail", { append = true })
    assert.equal(#data + 4, fs.stat(dir .. "/big").size)
  end)

  it("stats files and directories", function()
    fs.write_file(dir .. "/f", "abc")
    local st = fs.stat(dir .. "/f")
    assert.equal("file", st.type)
    assert.equal(3, st.size)
    assert.is_number(st.mtime)
    assert.equal("directory", fs.stat(dir).type)
  end)

  it("makes directories, with their parents when recursive", function()
    fs.mkdir(dir .. "/a/b/c", { recursive = true })
    assert.equal("directory", fs.stat(dir .. "/a/b/c").type)
    fs.mkdir(dir .. "/a/b/c", { recursive = true }) -- already there: fine
    local e = raised(fs.mkdir, dir .. "/a")
    assert.equal("EEXIST", e.code)
  end)

  it("lists, renames and removes", function()
    fs.write_file(dir .. "/one", "1")
    fs.write_file(dir .. "/two", "2")
    local names = fs.readdir(dir)
    table.sort(names)
    assert.same({ "one", "two" }, names)
    fs.rename(dir .. "/one", dir .. "/three")
    assert.equal("1", fs.read_file(dir .. "/three"))
    fs.unlink(dir .. "/three")
    assert.equal("ENOENT", raised(fs.stat, dir .. "/three").code)
  end)

  it("reads and writes a file at offsets", function()
    local f = fs.open(dir .. "/f", "w+")
    assert.equal(5, f:write("hello"))
    f:write("J", 0)
    assert.equal("Jello", f:read(100, 0))
    assert.equal("llo", f:read(3, 2))
    assert.is_nil(f:read(10, 5)) -- at the end
    assert.equal(5, f:stat().size)
    f:close()
    f:close() -- a second close does nothing
    assert.is_true(f.closed)
    assert.matches("closed", tostring(raised(f.read, f, 1)))
  end)

  it("raises errors that carry the errno name, the syscall and the path", function()
    local e = raised(fs.read_file, dir .. "/missing")
    assert.is_true(errors.is(e, fs.SystemError))
    assert.equal("ENOENT", e.code)
    assert.equal("open", e.syscall)
    assert.equal(dir .. "/missing", e.path)
    assert.matches("ENOENT", tostring(e))
    assert.equal("ENOTEMPTY", (function()
      fs.write_file(dir .. "/x", "")
      return raised(fs.rmdir, dir).code
    end)())
    fs.unlink(dir .. "/x")
  end)

  it("fails a closed file's read, write and stat with EBADF naming its path, as Node's do", function()
    local path = dir .. "/closed"
    fs.write_file(path, "data")
    local f = fs.open(path)
    f:close()
    for syscall, call in pairs { read = function() f:read(1) end, write = function() f:write("x") end,
      fstat = function() f:stat() end } do
      local e = raised(call)
      assert.is_true(errors.is(e, fs.SystemError))
      assert.same({ "EBADF", syscall, path }, { e.code, e.syscall, e.path })
      assert.equal("SystemError: EBADF: file closed, " .. syscall .. " '" .. path .. "'", tostring(e))
    end
    f:close() -- a second close does nothing
    fs.unlink(path)
  end)

  it("raises an aborted signal's reason before it starts anything", function()
    local e = raised(fs.stat, dir, abort.aborted("no"))
    assert.equal("no", e)
    local f = fs.open(dir .. "/f", "w")
    assert.equal("stop", raised(f.write, f, "x", nil, abort.aborted("stop")))
    f:close()
    assert.equal(0, fs.stat(dir .. "/f").size)
  end)

  -- Whether fd is still open, once every request made before has had time to end.
  local function still_open(fd)
    for _ = 1, 20 do
      if not pcall(fs.lstat, "/proc/self/fd/" .. fd) then return false end
    end
    return true
  end

  it("closes the file even when the closing task is cancelled, before or during the close", function()
    for _ = 1, 20 do
      local before, during = fs.open(dir .. "/f", "w"), fs.open(dir .. "/g", "w")
      local fds = { before.fd, during.fd }
      local t = task.spawn(function()
        task.current():cancel()
        pcall(before.close, before)
      end)
      pcall(t.await, t)
      t = task.spawn(function() pcall(during.close, during) end)
      task.yield()
      t:cancel()
      pcall(t.await, t)
      assert.is_true(before.closed and during.closed)
      assert.same({ false, false }, { still_open(fds[1]), still_open(fds[2]) })
    end
  end)

  it("closes a file opened for a task cancelled before it could take it", function()
    collectgarbage("stop") -- a file left over would be closed by the collector, not by the cancel
    local base = #fs.readdir("/proc/self/fd")
    for _ = 1, 100 do
      local opener
      -- its stat is made first, so it often ends in the same poll as the open, just before it:
      -- the opener is then cancelled after its file was handed to it, before it ran
      local canceller = task.spawn(function()
        fs.stat(dir)
        opener:cancel()
      end)
      opener = task.spawn(function() fs.open(dir .. "/opened", "w"):close() end)
      pcall(opener.await, opener)
      canceller:await()
    end
    local now = #fs.readdir("/proc/self/fd")
    for _ = 1, 20 do -- an open whose task was cancelled while it ran closes its file when it ends
      if now == base then break end
      fs.stat(dir)
      now = #fs.readdir("/proc/self/fd")
    end
    collectgarbage("restart")
    assert.equal(base, now)
  end)

  it("lets other tasks run between reads, even when the data is at hand", function()
    fs.write_file(dir .. "/cached", ("c"):rep(64 * 1024))
    local ticks, seen = 0, {}
    local ticker = task.spawn(function()
      while true do
        ticks = ticks + 1
        task.yield()
      end
    end)
    local f = fs.open(dir .. "/cached")
    while f:read(4096) do seen[#seen + 1] = ticks end
    f:close()
    ticker:cancel()
    assert.equal(16, #seen)
    assert.is_true(seen[16] > seen[1])
  end)

  it("lets many tasks read at once", function()
    fs.write_file(dir .. "/shared", "same")
    local list = {}
    for i = 1, 50 do list[i] = function() return fs.read_file(dir .. "/shared") end end
    for _, v in ipairs(task.all(list)) do assert.equal("same", v) end
  end)

  describe("bad input", function()
    local cases = {
      { "stat(5)", function() fs.stat(5) end, "path: string expected" },
      { "read_file(nil)", function() fs.read_file(nil) end, "path: string expected" },
      { "write_file(p, 5)", function() fs.write_file("/tmp/x", 5) end, "string expected" },
      { "rename(p, 5)", function() fs.rename("/tmp/x", 5) end, "bad argument #2" },
      { "open with bad flags", function() fs.open("/tmp/x", "q") end, 'flags must be "r", "r%+", .* or "ax%+", got q' },
      { "open with flags 5", function() fs.open("/tmp/x", 5) end, "flags: string expected" },
      { "read on a non-file", function() fs.open("/tmp", "r").read({}, 1) end, "file expected" },
    }
    for _, c in ipairs(cases) do
      it(c[1], function()
        assert.matches(c[3], tostring(raised(c[2])))
      end)
    end
  end)
end)
