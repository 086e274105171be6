-- fs.watch: the changes to a file or in a directory, one at a time, for a
-- `for` loop in a task; libuv's fs_event under it (fs_watch.c).
local check = require "ebb.check"
local abort = require "ebb.abort"
local task = require "ebb.task"
local check_abort = require("ebb.core").check_abort
local tree = require "ebb.fs_tree"

local error, setmetatable = error, setmetatable

local watch = {}

-- Set by ebb.fs: its C half.
local core

function watch.init(fs_core) core = fs_core end

watch.OPTIONS = { signal = check.kind.signal, max_buffered = check.kind.whole(1, 2 ^ 20),
  recursive = check.kind.boolean }

local Watcher = {}
local WatcherMT = { __name = "Watcher", __index = Watcher }

local function failed(path, code, msg)
  error(check.system_error(code, msg, "watch", ("'%s'"):format(path), { path = path }), 0)
end

-- Nothing held any more: the handle closes, the signal's listener and the
-- task's hold go.
local function let_go(self)
  self.closed = true
  task._unhold(self)
  core.watch_close(self._h)
end

-- The task that reads first closes the watcher when it ends, however it ends.
local function bind(self)
  self._bound = true
  self._task = task._hold(self, let_go) or false
end

-- ---- recursive: a handle more for each directory below ----

local function gone(e) return type(e) == "table" and (e.code == "ENOENT" or e.code == "ENOTDIR") end

-- Watches the directory at full, named rel under the watched one, and every
-- directory in it. announce: its entries are told as changes (they were made
-- before it was watched: told rather than missed; one made meanwhile may be
-- told twice).
local function watch_tree(self, full, rel, announce)
  local prefix = rel == "" and "" or rel .. "/"
  if rel ~= "" then
    local ok, code, msg = core.watch_add(self._h, full, prefix)
    if not ok then
      if code == "ENOENT" or code == "ENOTDIR" then return end
      failed(full, code, msg)
    end
    self._subs[rel] = true
  end
  local skip = full:sub(-1) == "/" and #full or #full + 1 -- what starts each entry's path
  local ok, e = pcall(function()
    for entry in tree.walker(full, { signal = self._signal }) do
      local name = prefix .. entry.path:sub(skip + 1)
      if announce then
        local pending = self._pending
        pending[pending.last + 1] = { kind = "rename", name = name }
        pending.last = pending.last + 1
      end
      if entry.type == "directory" and not self._subs[name] then
        local added, code, msg = core.watch_add(self._h, entry.path, name .. "/")
        if added then self._subs[name] = true elseif code ~= "ENOENT" then failed(entry.path, code, msg) end
      end
    end
  end)
  if not ok and not gone(e) then error(e, 0) end
end

-- A rename under a recursive watch: a new directory is watched, a name gone
-- is forgotten (a directory made again under it is watched again).
local function renamed(self, name)
  local full = self._root .. name
  local ok, st = pcall(require("ebb.fs").lstat, full, self._signal)
  if not ok then
    if not gone(st) then error(st, 0) end
    local below = name .. "/"
    for sub in pairs(self._subs) do
      if sub == name or sub:sub(1, #below) == below then self._subs[sub] = nil end
    end
  elseif st.type == "directory" and not self._subs[name] then
    watch_tree(self, full, name, true)
  end
end

local function aborted(self, reason)
  self._reason = reason
  self._off = false -- listeners run once
  let_go(self)
end

-- watch(path, opts): opts checked already.
function watch.watch(path, opts)
  local signal = opts.signal
  check.raise_if_aborted(check_abort(signal))
  local ok, h, msg = core.watch(path, opts.max_buffered or 1024)
  if not ok then failed(path, h, msg) end
  local self = setmetatable({ path = path, closed = false, _h = h, _signal = signal, _off = false,
    _task = false, _bound = false, _reason = nil }, WatcherMT)
  if signal then -- a long-lived signal keeps neither the watcher nor a listener once it is collected
    self._off = abort._listen_weakly(signal, self, "_sentinel", aborted)
  end
  if opts.recursive then
    self._subs, self._pending = {}, { first = 1, last = 0 } -- the changes told by ebb, in order
    self._root = path:sub(-1) == "/" and path or path .. "/"
    local done, e = pcall(watch_tree, self, path, "", false)
    if not done then
      let_go(self)
      error(e, 0)
    end
  end
  return self
end

local function check_watcher(self, fname)
  return check.self(self, WatcherMT, fname, "Watcher", 2)
end

local function next_change(self)
  if self._reason ~= nil then error(self._reason, 0) end
  if self.closed then return nil end
  if not self._bound then bind(self) end
  local pending = self._pending
  if pending and pending.first <= pending.last then
    local i = pending.first
    local change = pending[i]
    pending[i], pending.first = nil, i + 1
    return change
  end
  local h, signal = self._h, self._signal
  while true do
    local ok, kind, name = core.watch_next(h, signal)
    if ok then
      if kind == "overflow" then return { kind = kind, count = name } end
      if kind then
        if pending and kind == "rename" and name then
          local done, e = pcall(renamed, self, name)
          if not done then
            let_go(self)
            error(e, 0)
          end
        end
        return { kind = kind, name = name }
      end
      if kind == false then -- closed meanwhile
        if self._reason ~= nil then error(self._reason, 0) end
        return nil
      end
    else
      let_go(self)
      if ok == false then error(kind, 0) end
      failed(self.path, kind, name)
    end
  end
end

function Watcher:next()
  check_watcher(self, "next")
  return next_change(self)
end

WatcherMT.__call = function(self)
  check_watcher(self, "__call")
  return next_change(self)
end

function Watcher:close()
  check_watcher(self, "close")
  if not self.closed then let_go(self) end
end
WatcherMT.__close = Watcher.close

WatcherMT.__tostring = function(self)
  check_watcher(self, "__tostring")
  return ("Watcher (%s%s)"):format(self.path, self.closed and ", closed" or "")
end

return watch
