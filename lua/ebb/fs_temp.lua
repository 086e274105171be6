-- fs.temp_dir and fs.temp_file: made by mkdtemp and mkstemp in TMPDIR (or a
-- directory given), removed by remove() or by the scope that uses them.
local check = require "ebb.check"
local tree = require "ebb.fs_tree"

local kind = check.kind

local temp = {}

-- Set by ebb.fs: its C half, how a request's answer becomes its values, and
-- how mkstemp's becomes a File and its path.
local core, result, made_file

function temp.init(fs_core, fs_result, fs_made_file)
  core, result, made_file = fs_core, fs_result, fs_made_file
end

local OPTIONS = { dir = kind.cstring, signal = kind.signal }

-- The template mkdtemp and mkstemp fill in, and the options.
local function template(prefix, opts, fname)
  if prefix ~= nil then
    check.cstring(prefix, 1, fname, "prefix", 2)
    if prefix:find("/", 1, true) then
      check.badarg(1, fname, "prefix must be a name without '/' (option 'dir' says where)", 2)
    end
  end
  opts = check.options(opts, 2, fname, OPTIONS, 2)
  local dir = opts.dir or os.getenv("TMPDIR")
  if dir == nil or dir == "" then dir = "/tmp" end
  dir = dir:gsub("(.)/+$", "%1")
  return (dir == "/" and "" or dir) .. "/" .. (prefix or "ebb-") .. "XXXXXX", opts
end

-- Removal is cleanup: a task cancelled before or while it removes still
-- removes (as a file's close closes).
local function shielded(fn, ...)
  local task = require "ebb.task"
  if task.current() then return task.shield(fn, ...) end
  return fn(...)
end

-- ---- TempDir ----
local TempDir = {}
local TempDirMT = { __name = "TempDir", __index = TempDir }

function temp.temp_dir(prefix, opts)
  local tpl, o = template(prefix, opts, "temp_dir")
  local p = result("mkdtemp", tpl, core.mkdtemp(tpl, o.signal))
  return setmetatable({ path = p, removed = false }, TempDirMT)
end

local function remove_dir(self, fname)
  check.self(self, TempDirMT, fname, "TempDir", 2)
  if self.removed then return end
  shielded(tree.remove, self.path)
  self.removed = true
end
function TempDir:remove() remove_dir(self, "remove") end
function TempDir:close() remove_dir(self, "close") end
TempDirMT.__close = TempDir.close

TempDirMT.__tostring = function(self)
  check.self(self, TempDirMT, "__tostring", "TempDir")
  return ("TempDir (%s%s)"):format(self.path, self.removed and ", removed" or "")
end

-- ---- TempFile ----
local TempFile = {}
local TempFileMT = { __name = "TempFile", __index = TempFile }

function temp.temp_file(prefix, opts)
  local tpl, o = template(prefix, opts, "temp_file")
  local f, p = made_file(tpl, core.mkstemp(tpl, o.signal))
  return setmetatable({ path = p, file = f, removed = false }, TempFileMT)
end

local function remove_file(self, fname)
  check.self(self, TempFileMT, fname, "TempFile", 2)
  if self.removed then return end
  shielded(function()
    self.file:close()
    tree.remove(self.path)
  end)
  self.removed = true
end
function TempFile:remove() remove_file(self, "remove") end
function TempFile:close() remove_file(self, "close") end
TempFileMT.__close = TempFile.close

TempFileMT.__tostring = function(self)
  check.self(self, TempFileMT, "__tostring", "TempFile")
  return ("TempFile (%s%s)"):format(self.path, self.removed and ", removed" or "")
end

return temp
