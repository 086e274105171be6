package.path = "spec/support/?.lua;" .. package.path
local fs = require "ebb.fs"
local scope = require "ebb.scope"
local abort = require "ebb.abort"
local task = require "ebb.task"
local errors = require "ebb.errors"
local run = require "run_ebb"
local raised = require("asserts").raised

local function literal(s) return (s:gsub("%p", "%%%0")) end

describe("fs.temp_dir and fs.temp_file", function()
  local home, at_home -- where each spec makes its temporary files; a pattern for it
  before_each(function()
    home = fs.temp_dir("spec-").path
    at_home = "^" .. literal(home)
  end)
  after_each(function() fs.rmdir(home) end) -- empty: every spec removed what it made

  it("make a new directory, named by the prefix, removed with everything in it", function()
    local d = fs.temp_dir("job-", { dir = home })
    assert.matches(at_home .. "/job%-[%w]+$", d.path)
    assert.equal(#home + 11, #d.path) -- six random characters after the prefix
    assert.equal("directory", fs.stat(d.path).type)
    assert.equal(tostring(d), "TempDir (" .. d.path .. ")")
    fs.mkdir(d.path .. "/a/b", { recursive = true })
    fs.write_file(d.path .. "/a/b/f", "x")
    fs.write_file(d.path .. "/g", "y")
    d:remove()
    assert.is_true(d.removed)
    assert.equal(tostring(d), "TempDir (" .. d.path .. ", removed)")
    assert.same({}, fs.readdir(home))
    d:remove() -- once is enough
  end)

  it("are removed by the scope that uses them, also when it fails", function()
    local dir_path, file_path
    local ok, e = pcall(scope.run, function(s)
      local d = s:use(fs.temp_dir(nil, { dir = home }))
      local t = s:use(fs.temp_file("log-", { dir = d.path }))
      dir_path, file_path = d.path, t.path
      assert.matches("/ebb%-%w+$", d.path)
      assert.matches("/log%-%w+$", t.path)
      t.file:write("kept until the scope ends")
      error("failed", 0)
    end)
    assert.same({ false, "failed" }, { ok, e })
    assert.is_false(pcall(fs.stat, file_path))
    assert.is_false(pcall(fs.stat, dir_path))
    assert.same({}, fs.readdir(home))
  end)

  it("give a temporary file open for reading and writing, its path for others", function()
    local t = fs.temp_file("data-", { dir = home })
    assert.equal(tostring(t), "TempFile (" .. t.path .. ")")
    assert.equal(5, t.file:write("hello"))
    assert.equal("hello", t.file:read(5, 0))
    assert.equal(384, fs.stat(t.path).mode) -- 0600: the owner's alone
    t.file:close() -- written; another reader takes it by its path
    assert.equal("hello", fs.read_file(t.path))
    t:close()
    assert.is_true(t.removed)
    assert.same({}, fs.readdir(home))
  end)

  it("never follow a link out of the directory they remove", function()
    local outside = fs.temp_dir("outside-", { dir = home })
    fs.write_file(outside.path .. "/keep", "k")
    local d = fs.temp_dir("linked-", { dir = home })
    assert.equal(0, os.execute("ln -s " .. outside.path .. " " .. d.path .. "/link"))
    d:remove()
    assert.equal("k", fs.read_file(outside.path .. "/keep"))
    outside:remove()
  end)

  it("is content when what it would remove is gone already", function()
    local t = fs.temp_file(nil, { dir = home })
    fs.unlink(t.path)
    t:remove()
    local d = fs.temp_dir(nil, { dir = home })
    fs.rmdir(d.path)
    d:remove()
    assert.same({}, fs.readdir(home))
  end)

  it("make them in TMPDIR, or /tmp without it", function()
    local cmd = "-e 'local d = require(\"ebb.fs\").temp_dir() print(d.path) d:remove()'"
    local out, err, status = run.sh("TMPDIR=" .. run.quote(home .. "/") .. " " .. run.ebb_cmd(cmd))
    assert.equal("", err)
    assert.equal(0, status)
    assert.matches(at_home .. "/ebb%-%w+\n$", out)
    assert.matches("^/tmp/ebb%-%w+\n$", (run.sh("env -u TMPDIR " .. run.ebb_cmd(cmd))))
    assert.matches("^/tmp/ebb%-%w+\n$", (run.sh("TMPDIR= " .. run.ebb_cmd(cmd))))
  end)

  it("raise the system's error naming the call and the template", function()
    local e = raised(fs.temp_dir, "x-", { dir = home .. "/none" })
    assert.is_true(errors.is(e, errors.SystemError))
    assert.equal("ENOENT", e.code)
    assert.equal("mkdtemp", e.syscall)
    assert.equal(home .. "/none/x-XXXXXX", e.path)
    e = raised(fs.temp_file, "x-", { dir = home .. "/none" })
    assert.equal("SystemError: ENOENT: no such file or directory, mkstemp '" .. home .. "/none/x-XXXXXX'", tostring(e))
  end)

  it("refuse bad input, naming the argument", function()
    for _, fn in ipairs { "temp_dir", "temp_file" } do
      local f = fs[fn]
      assert.matches("bad argument #1 to '" .. fn .. "' %(prefix: string expected, got number%)", raised(f, 1))
      assert.matches("bad argument #1 to '" .. fn .. "' %(prefix must not contain a NUL byte%)", raised(f, "a\0"))
      assert.matches("bad argument #1 to '" .. fn .. "' %(prefix must be a name without '/'", raised(f, "a/b"))
      assert.matches("bad argument #2 to '" .. fn .. "' %(unknown option 'dri'; valid options: dir, signal%)",
        raised(f, "a", { dri = "/tmp" }))
      assert.matches("bad argument #2 to '" .. fn .. "' %(option 'dir' must not contain a NUL byte%)",
        raised(f, "a", { dir = "/tmp\0" }))
    end
    for _, call in ipairs {
      function() fs.temp_dir(1) end, function() fs.temp_file("a/b") end, function() fs.temp_dir("a", { x = 1 }) end,
      function() fs.temp_file("x", { dir = home }).remove({}) end,
    } do
      assert.matches("^spec/fs_temp_spec.lua:%d+: bad argument", select(2, pcall(call)))
    end
    fs.unlink(home .. "/" .. fs.readdir(home)[1]) -- the file of the last call
    local d = fs.temp_dir(nil, { dir = home })
    assert.matches("bad argument #1 to 'remove' %(TempDir expected, got table%)", raised(d.remove, {}))
    d:remove()
  end)

  it("make nothing when the signal has aborted already", function()
    assert.equal("no", raised(fs.temp_dir, nil, { dir = home, signal = abort.aborted("no") }))
    assert.equal("no", raised(fs.temp_file, nil, { dir = home, signal = abort.aborted("no") }))
    assert.same({}, fs.readdir(home))
  end)

  it("remove what they made for a task cancelled before it could take it", function()
    collectgarbage("stop") -- a file left open would be closed by the collector, not by the cancel
    local fds = #fs.readdir("/proc/self/fd")
    for i = 1, 100 do
      local maker
      -- the stat often ends in the same poll as the make, just before it: the maker is
      -- then cancelled after it was handed what was made, before it ran
      local canceller = task.spawn(function()
        fs.stat(home)
        maker:cancel()
      end)
      maker = task.spawn(function()
        if i % 2 == 0 then fs.temp_dir(nil, { dir = home }):remove() else fs.temp_file(nil, { dir = home }):remove() end
      end)
      pcall(maker.await, maker)
      canceller:await()
    end
    -- a make whose task was cancelled while it ran removes what it made when it ends
    local left = #fs.readdir(home)
    for _ = 1, 50 do
      if left == 0 then break end
      fs.stat(home)
      left = #fs.readdir(home)
    end
    collectgarbage("restart")
    assert.equal(0, left)
    assert.equal(fds, #fs.readdir("/proc/self/fd"))
  end)
end)
