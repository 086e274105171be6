package.path = "spec/support/?.lua;" .. package.path
local fs = require "ebb.fs"
local abort = require "ebb.abort"
local task = require "ebb.task"
local errors = require "ebb.errors"
local raised = require("asserts").raised

-- A tree to walk: files, a dotfile, nested directories, a link to a file, a
-- link back up (a loop when followed) and a broken link.
local function make_tree(root)
  fs.mkdir(root .. "/src/lib/deep", { recursive = true })
  fs.mkdir(root .. "/.git")
  fs.mkdir(root .. "/empty")
  for _, f in ipairs { "README.md", "src/main.lua", "src/lib/util.lua", "src/lib/util.c", "src/lib/deep/x.lua",
    ".git/config", "src/.hidden.lua", "src/B.lua" } do
    fs.write_file(root .. "/" .. f, f)
  end
  assert.equal(0, os.execute(("cd %s && ln -s ../README.md src/readme && ln -s .. src/lib/up && ln -s nowhere broken")
    :format(root)))
end

-- What a walk gave: "relative path type depth" lines.
local function listing(root, opts)
  local out = {}
  for e in fs.walk(root, opts) do
    assert.equal(e.path, root .. "/" .. e.path:sub(#root + 2))
    assert.equal(e.name, e.path:match("[^/]+$"))
    out[#out + 1] = ("%s %s %d"):format(e.path:sub(#root + 2), e.type, e.depth)
  end
  return out
end

local function collect(iter)
  local out = {}
  for v in iter do out[#out + 1] = v end
  return out
end

describe("fs.walk and fs.glob", function()
  local root, tmp
  before_each(function()
    tmp = fs.temp_dir("walk-")
    root = tmp.path
    make_tree(root)
  end)
  after_each(function() tmp:remove() end)

  describe("fs.walk", function()

    it("lists depth first, a directory before its contents, names in byte order, not following links", function()
      assert.same({
        ".git directory 1", ".git/config file 2", "README.md file 1", "broken link 1", "empty directory 1",
        "src directory 1", "src/.hidden.lua file 2", "src/B.lua file 2", "src/lib directory 2",
        "src/lib/deep directory 3", "src/lib/deep/x.lua file 4", "src/lib/up link 3", "src/lib/util.c file 3",
        "src/lib/util.lua file 3", "src/main.lua file 2", "src/readme link 2",
      }, listing(root))
    end)

    it("stops at max_depth", function()
      assert.same({ ".git directory 1", "README.md file 1", "broken link 1", "empty directory 1", "src directory 1" },
        listing(root, { max_depth = 1 }))
      assert.equal(11, #listing(root, { max_depth = 2 }))
    end)

    it("follows links when asked, without going round a loop, a broken one staying a link", function()
      local got = listing(root, { follow_symlinks = true })
      assert.equal("broken link 1", got[4])
      assert.same({ "src/lib/up directory 3", "src/lib/util.c file 3" }, { got[12], got[13] })
      assert.equal("src/readme file 2", got[16])
      assert.equal(16, #got) -- up is src, which the walk is in: listed, not entered
    end)

    it("walks a tree of its own making at the root, with a trailing slash too", function()
      assert.same(listing(root), (function()
        local out = {}
        for e in fs.walk(root .. "/") do out[#out + 1] = ("%s %s %d"):format(e.path:sub(#root + 2), e.type, e.depth) end
        return out
      end)())
      assert.same({}, listing(root .. "/empty"))
    end)

    it("raises the system's error for a missing or unreadable root", function()
      local e = raised(fs.walk, root .. "/none")
      assert.is_true(errors.is(e, errors.SystemError))
      assert.equal("ENOENT", e.code)
      assert.equal("scandir", e.syscall)
      e = raised(fs.walk, root .. "/README.md")
      assert.equal("ENOTDIR", e.code)
    end)

    it("ends at the signal's abort, between entries", function()
      local ctl = abort.controller()
      local seen = 0
      local e = raised(function()
        for _ in fs.walk(root, { signal = ctl.signal }) do
          seen = seen + 1
          if seen == 3 then ctl:abort("enough") end
        end
      end)
      assert.equal("enough", e)
      assert.equal(3, seen)
      assert.equal("no", raised(fs.walk, root, { signal = abort.aborted("no") }))
    end)

    it("ends when its task is cancelled", function()
      local seen = 0
      local t = task.spawn(function()
        for _ in fs.walk(root) do
          seen = seen + 1
          if seen == 2 then task.current():cancel("stop") end
        end
      end)
      assert.equal("stop", raised(t.await, t))
      assert.equal(2, seen)
    end)

    it("refuses bad input, naming the argument", function()
      assert.matches("bad argument #1 to 'walk' %(path: string expected, got nil%)", raised(fs.walk))
      assert.matches("bad argument #1 to 'walk' %(path must not contain a NUL byte%)", raised(fs.walk, "a\0"))
      assert.matches("bad argument #2 to 'walk' %(unknown option 'depth'; valid options: follow_symlinks, max_depth, signal%)",
        raised(fs.walk, root, { depth = 1 }))
      assert.matches("bad argument #2 to 'walk' %(option 'max_depth' must be a whole number from 1, or math.huge, got 0%)",
        raised(fs.walk, root, { max_depth = 0 }))
      assert.matches("bad argument #2 to 'walk' %(option 'follow_symlinks' must be a boolean, got string%)",
        raised(fs.walk, root, { follow_symlinks = "yes" }))
    end)
  end)

  describe("fs.glob", function()

    local function glob(pattern, opts)
      local out = {}
      for p in fs.glob(root .. "/" .. pattern, opts) do out[#out + 1] = p:sub(#root + 2) end
      return out
    end

    it("matches *, ? and [] in one name, never a leading dot but with a dot of its own", function()
      assert.same({ "src/B.lua", "src/main.lua" }, glob("src/*.lua"))
      assert.same({ "src/.hidden.lua" }, glob("src/.*.lua"))
      assert.same({ "src/lib/util.c" }, glob("src/lib/util.?"))
      assert.same({ "src/B.lua" }, glob("src/[A-Z].lua"))
      assert.same({ "src/main.lua" }, glob("src/[!A-Z]*.lua"))
      assert.same({ "README.md", "broken", "empty", "src" }, glob("*"))
      assert.same({ "src/lib/util.c", "src/lib/util.lua" }, glob("*/*/util.*"))
    end)

    it("matches ** across any number of directories, none too", function()
      assert.same({ "src/B.lua", "src/lib/deep/x.lua", "src/lib/util.lua", "src/main.lua" }, glob("**/*.lua"))
      assert.same({ "src/lib/deep/x.lua", "src/lib/util.lua" }, glob("src/lib/**/*.lua"))
      assert.same({ "src/lib/deep" }, glob("**/deep"))
    end)

    it("matches directories alone when the pattern ends with a slash", function()
      assert.same({ "empty", "src" }, glob("*/"))
    end)

    it("gives a pattern without a wildcard when the path is there", function()
      assert.same({ "README.md" }, glob("README.md"))
      assert.same({}, glob("nothing"))
    end)

    it("keeps the pattern's own form: relative to the working directory when it is", function()
      local got = collect(fs.glob("spec/fs_walk_spec.*"))
      assert.same({ "spec/fs_walk_spec.lua" }, got)
    end)

    it("gives nothing under a directory that is not there", function()
      assert.same({}, glob("none/*.lua"))
    end)

    it("refuses bad input, naming the argument", function()
      assert.matches("bad argument #1 to 'glob' %(pattern: string expected, got number%)", raised(fs.glob, 1))
      assert.matches("bad argument #1 to 'glob' %(pattern has a '%[' without its '%]'%)", raised(fs.glob, "a/[bc"))
      assert.matches("bad argument #2 to 'glob' %(unknown option 'dot'", raised(fs.glob, "*", { dot = true }))
      for _, call in ipairs {
        function() fs.glob("[") end, function() fs.glob("*", 1) end, function() fs.walk(1) end,
        function() fs.walk(root, { max_depth = -1 }) end,
      } do
        assert.matches("^spec/fs_walk_spec.lua:%d+: bad argument", select(2, pcall(call)))
      end
    end)
  end)
end)
