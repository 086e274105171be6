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

-- A kind of temporary thing (TempDir, TempFile): `path`, `removed`, and
-- remove() (close() and __close the same), which calls remove_it(self) once.
-- Removal is cleanup: a task cancelled before or while it removes still
-- removes (as a file's close closes).
local function temp_kind(name, remove_it)
  local methods = {}
  local mt = { __name = name, __index = methods }
  local function remove(self, fname)
    check.self(self, mt, fname, name, 2)
    if self.removed then return end
    local task = require "ebb.task"
    if task.current() then task.shield(remove_it, self) else remove_it(self) end
    self.removed = true
  end
  function methods:remove() remove(self, "remove") end
  function methods:close() remove(self, "close") end
  mt.__close = methods.close
  mt.__tostring = function(self)
    check.self(self, mt, "__tostring", name)
    return ("%s (%s%s)"):format(name, self.path, self.removed and ", removed" or "")
  end
  return mt
end

local TempDirMT = temp_kind("TempDir", function(self) tree.remove(self.path) end)

function temp.temp_dir(prefix, opts)
  local tpl, o = template(prefix, opts, "temp_dir")
  local p = result("mkdtemp", tpl, core.mkdtemp(tpl, o.signal))
  return setmetatable({ path = p, removed = false }, TempDirMT)
end

local TempFileMT = temp_kind("TempFile", function(self)
  self.file:close()
  tree.remove(self.path)
end)

function temp.temp_file(prefix, opts)
  local tpl, o = template(prefix, opts, "temp_file")
  local f, p = made_file(tpl, core.mkstemp(tpl, o.signal))
  return setmetatable({ path = p, file = f, removed = false }, TempFileMT)
end

return temp
