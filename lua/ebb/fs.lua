-- ebb.fs: files and directories on libuv's requests, each awaited by the
-- task that asks; failures are errors with the errno name, syscall and path.
local core = require "ebb.fs.core"
local errors = require "ebb.errors"
local check = require "ebb.check"

local type, error = type, error

local fs = {}

local SystemError = errors.SystemError
fs.SystemError = SystemError

local function check_path(p, n, fname)
  check.cstring(p, n, fname, "path", 2)
end

local is_file = core.is_file

local function check_file(f, fname)
  if not is_file(f) then check.expected(f, 1, fname, "file", 2) end
end

local check_signal = check.opt_signal

-- the options' kinds; mode: permission bits, as for chmod
local kind = check.kind
local MODE, HWM = kind.whole(0, 4095), kind.whole(1, 2 ^ 30)

-- The path each file was opened with, for its errors (a standard stream has none).
local path_of = setmetatable({}, { __mode = "k" })

local function failed(syscall, path, code, msg)
  error(check.system_error(code, msg, syscall, path and ("'%s'"):format(path), { path = path }), 0)
end

-- The C half's answer: its values, or the abort reason or the failure raised.
local function result(syscall, path, ...)
  return check.result(failed, syscall, path, ...)
end

local function opened(path, ...)
  local f = result("open", path, ...)
  path_of[f] = path
  return f
end

-- mkstemp's answer: the File, which knows its path, and the path.
local function made_file(template, ...)
  local f, path = result("mkstemp", template, ...)
  path_of[f] = path
  return f, path
end

-- The operations on one path: op(path [, signal]).
local function path_op(fname, syscall)
  local c = core[fname]
  return function(path, signal)
    check_path(path, 1, fname)
    check_signal(signal, 2, fname)
    return result(syscall, path, c(path, signal))
  end
end

fs.stat = path_op("stat", "stat")
fs.lstat = path_op("lstat", "lstat")
fs.readdir = path_op("readdir", "scandir") -- the names in a directory (without . and ..)
fs.rmdir = path_op("rmdir", "rmdir")
fs.unlink = path_op("unlink", "unlink")

-- mkdir(path [, {mode=, recursive=}]): recursive makes the parents too, and
-- is content when the directory exists.
local MKDIR = { mode = MODE, recursive = kind.boolean, signal = kind.signal }

function fs.mkdir(path, opts)
  check_path(path, 1, "mkdir")
  opts = check.options(opts, 2, "mkdir", MKDIR)
  local mode, signal = opts.mode or 511, opts.signal
  if not opts.recursive then return result("mkdir", path, core.mkdir(path, mode, signal)) end
  local ok, code, msg = core.mkdir(path, mode, signal)
  if ok or code == "EEXIST" then return end
  if ok == false then error(code, 0) end
  if code ~= "ENOENT" then result("mkdir", path, ok, code, msg) end
  local parent = path:match("^(.*[^/])/+[^/]+/*$")
  if parent then fs.mkdir(parent, opts) end
  ok, code, msg = core.mkdir(path, mode, signal)
  if ok or code == "EEXIST" then return end
  result("mkdir", path, ok, code, msg)
end

-- The process's working directory.
function fs.cwd()
  return result("uv_cwd", nil, core.cwd())
end

function fs.rename(from, to, signal)
  check_path(from, 1, "rename")
  check_path(to, 2, "rename")
  check_signal(signal, 3, "rename")
  return result("rename", from, core.rename(from, to, signal))
end

-- ---- trees and temporary files (fs_tree.lua, fs_temp.lua) ----
local tree, temp = require "ebb.fs_tree", require "ebb.fs_temp"
tree.init(fs, function(path, signal) return result("scandir", path, core.readdir(path, signal, true)) end)
temp.init(core, result, made_file)
fs.temp_dir, fs.temp_file = temp.temp_dir, temp.temp_file

local WALK = { signal = kind.signal, follow_symlinks = kind.boolean, max_depth = kind.count(1) }

-- walk(dir [, {signal=, follow_symlinks=false, max_depth=}]) -> iterator of
-- { path, name, type, depth }
function fs.walk(dir, opts)
  check_path(dir, 1, "walk")
  return tree.walker(dir, check.options(opts, 2, "walk", WALK))
end

local GLOB = { signal = kind.signal, follow_symlinks = kind.boolean }

-- glob(pattern [, {signal=, follow_symlinks=false}]) -> iterator of paths
function fs.glob(pattern, opts)
  check.cstring(pattern, 1, "glob", "pattern")
  return tree.glob(pattern, check.options(opts, 2, "glob", GLOB), "glob")
end

local watcher = require "ebb.fs_watch"
watcher.init(core)

-- watch(path [, {signal=, max_buffered=1024}]) -> a Watcher: its changes for a `for` loop
function fs.watch(path, opts)
  check_path(path, 1, "watch")
  return watcher.watch(path, check.options(opts, 2, "watch", watcher.OPTIONS))
end

-- ---- files ----
local File = {}
core.set_file_methods(File)
local task_yield -- ebb.task's, once needed

local function check_flags(flags)
  if flags ~= nil then check.cstring(flags, 2, "open", "flags", 2) end
end

-- open(path [, flags "r" | "r+" | "w" | "w+" | "a" | "a+" | "wx" ... [, mode]]) -> file
function fs.open(path, flags, mode, signal)
  check_path(path, 1, "open")
  check_flags(flags)
  if mode ~= nil then check.whole(mode, 3, "open", "mode", 0, 4095) end
  check_signal(signal, 4, "open")
  return opened(path, core.open(path, flags or "r", mode, signal))
end

-- read(n [, offset]) -> at most n bytes, or nil at the end of the file.
local function check_offset(offset, n, fname)
  if offset ~= nil then check.whole(offset, n, fname, "offset", 0, check.MAX_WHOLE, 2) end
end

-- A closed file's operations fail as Node's do: EBADF, "file closed",
-- naming the file.
local function check_open(self, syscall)
  if self.closed then result(syscall, path_of[self], nil, "EBADF", "file closed") end
end

function File:read(n, offset, signal)
  check_file(self, "read")
  check_open(self, "read")
  check_signal(signal, 3, "read")
  if n ~= nil then check.whole(n, 1, "read", "n", 1, 2 ^ 30) end
  check_offset(offset, 2, "read")
  local ok, data, at_once = core.read(self, n or 65536, offset, signal)
  if not ok then return result("read", path_of[self], ok, data, at_once) end
  -- answered from the page cache: the others get their turn all the same
  if at_once then
    task_yield = task_yield or require("ebb.task").yield
    task_yield()
  end
  return data
end

-- write(data [, offset]) -> bytes written.
function File:write(data, offset, signal)
  check_file(self, "write")
  check_open(self, "write")
  check_signal(signal, 3, "write")
  if type(data) ~= "string" then check.expected(data, 1, "write", "string") end
  check_offset(offset, 2, "write")
  return result("write", path_of[self], core.write(self, data, offset, signal))
end

function File:stat(signal)
  check_file(self, "stat")
  check_open(self, "fstat")
  check_signal(signal, 1, "stat")
  return result("fstat", path_of[self], core.fstat(self, signal))
end

-- Closing waits for the close, and is done once; a file also closes itself
-- when collected. A scope can dispose of a file (close).
function File:close()
  check_file(self, "close")
  return result("close", path_of[self], core.close(self))
end
File.__close = File.close

-- The whole file as a string.
function fs.read_file(path, signal)
  check_path(path, 1, "read_file")
  check_signal(signal, 2, "read_file")
  local f = opened(path, core.open(path, "r", nil, signal))
  local parts, n = {}, 0
  local ok, err = pcall(function()
    while true do
      local chunk = f:read(65536, nil, signal)
      if not chunk then break end
      n = n + 1
      parts[n] = chunk
    end
  end)
  f:close()
  if not ok then error(err, 0) end
  return table.concat(parts)
end

-- write_file(path, data [, {append=, mode=, signal=}])
local WRITE_FILE = { append = kind.boolean, mode = MODE, signal = kind.signal }

function fs.write_file(path, data, opts)
  check_path(path, 1, "write_file")
  if type(data) ~= "string" then check.expected(data, 2, "write_file", "string") end
  opts = check.options(opts, 3, "write_file", WRITE_FILE)
  local f = opened(path, core.open(path, opts.append and "a" or "w", opts.mode, opts.signal))
  local ok, err = pcall(function()
    local done = 0
    while done < #data do
      local wrote = f:write(done == 0 and data or data:sub(done + 1), nil, opts.signal)
      done = done + wrote
    end
  end)
  f:close()
  if not ok then error(err, 0) end
end

-- ---- streams ----

local READER = { high_water_mark = HWM, signal = kind.signal }
local WRITER = { append = kind.boolean, mode = MODE, high_water_mark = HWM, signal = kind.signal }

local function stream_opts(opts, fname, valid)
  opts = check.options(opts, 2, fname, valid, 2)
  return opts, opts.high_water_mark or 65536
end

-- Waits for a request still under way (its file must stay open until it
-- ends), whatever happens to the task meanwhile.
local function settle(t)
  if t then
    local task = require "ebb.task"
    task.shield(function() pcall(t.await, t) end)
  end
end

-- reader(path [, {high_water_mark=65536, signal=}]): a readable stream of the
-- file's bytes, in chunks of at most high_water_mark. The next chunk is read
-- while the caller handles this one (one read ahead, no more); the file is
-- closed at the end.
local function file_reader(f, o, hwm)
  local stream, task, check_abort = require "ebb.stream", require "ebb.task", require("ebb.core").check_abort
  local ahead
  local function read_chunk() return f:read(hwm) end
  local function read_ahead() ahead = task.spawn(read_chunk) end
  return stream.readable(function(signal)
    check.raise_if_aborted(check_abort(signal or o.signal))
    if not ahead then read_ahead() end
    local t = ahead
    ahead = nil
    local chunk = t:await()
    if chunk == nil then
      f:close()
      return nil
    end
    read_ahead()
    return chunk
  end, function()
    settle(ahead)
    ahead = nil
    f:close()
  end)
end

function fs.reader(path, opts)
  check_path(path, 1, "reader")
  local o, hwm = stream_opts(opts, "reader", READER)
  return file_reader(opened(path, core.open(path, "r", nil, o.signal)), o, hwm)
end

-- writer(path [, {append=, mode=, high_water_mark=, signal=}]): a writable
-- stream into the file. A write returns once the chunk before it is written
-- (one write under way, at most high_water_mark bytes); finish() waits for
-- the last one and closes the file.
local function file_writer(f, o, hwm)
  local stream = require "ebb.stream"
  local write_behind, flush = core.write_behind, core.flush
  local function flushed(signal)
    return result("write", path_of[f], flush(f, signal))
  end
  return stream.writable(function(chunk, signal)
    signal = signal or o.signal
    local ok, again, msg
    repeat
      ok, again, msg = write_behind(f, chunk, signal)
    until ok ~= true or again == nil
    result("write", path_of[f], ok, again, msg)
    if #chunk > hwm then flushed(signal) end
  end, {
    high_water_mark = hwm,
    finish = function(signal)
      flushed(signal or o.signal)
      f:close()
    end,
    close = function()
      -- the file must stay open until the writes under way end
      require("ebb.task").shield(function() pcall(flush, f) end)
      f:close()
    end,
  })
end

function fs.writer(path, opts)
  check_path(path, 1, "writer")
  local o, hwm = stream_opts(opts, "writer", WRITER)
  return file_writer(opened(path, core.open(path, o.append and "a" or "w", o.mode, o.signal)), o, hwm)
end

-- lines(path [, {max_length=, signal=, high_water_mark=}]): the file's lines,
-- read in blocks of high_water_mark bytes; the file is closed at the end.
local LINES -- stream.lines' options and the reader's high_water_mark

function fs.lines(path, opts)
  check_path(path, 1, "lines")
  local lines = require "ebb.stream_lines"
  if not LINES then
    LINES = { high_water_mark = HWM }
    for k, v in pairs(lines.OPTIONS) do LINES[k] = v end
  end
  local o, hwm = stream_opts(opts, "lines", LINES)
  local src = file_reader(opened(path, core.open(path, "r", nil, o.signal)), o, hwm)
  return lines.new(src, o, true, ("'%s'"):format(path))
end

-- A stream over a standard stream's fd (0, 1 or 2) that is a file: closing
-- it leaves the fd open.
function fs._stdio(fd, hwm)
  hwm = hwm or 65536
  local f = core.borrow(fd)
  if fd == 0 then return file_reader(f, {}, hwm) end
  -- each write returns once written, in order with print and io.write
  local w = file_writer(f, {}, 0)
  local push = w._push
  w._push = function(chunk, signal)
    io.stdout:flush()
    io.stderr:flush()
    return push(chunk, signal)
  end
  return w
end

return fs
