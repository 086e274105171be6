-- fs.watch: the changes to a file or in a directory, one at a time, for a
-- `for` loop in a task; libuv's fs_event under it (fs_watch.c).
local check = require "ebb.check"
local task = require "ebb.task"
local check_abort = require("ebb.core").check_abort

local error, setmetatable = error, setmetatable

local watch = {}

-- Set by ebb.fs: its C half.
local core

function watch.init(fs_core) core = fs_core end

watch.OPTIONS = { signal = check.kind.signal, max_buffered = check.kind.whole(1, 2 ^ 20) }

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

-- watch(path, opts): opts checked already.
function watch.watch(path, opts)
  local signal = opts.signal
  check.raise_if_aborted(check_abort(signal))
  local ok, h, msg = core.watch(path, opts.max_buffered or 1024)
  if not ok then failed(path, h, msg) end
  local self = setmetatable({ path = path, closed = false, _h = h, _signal = signal, _off = false,
    _task = false, _bound = false, _reason = nil }, WatcherMT)
  if signal then
    self._off = signal:on_abort(function(reason)
      self._reason = reason
      self._off = false -- listeners run once
      let_go(self)
    end)
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
  local h, signal = self._h, self._signal
  while true do
    local ok, kind, name = core.watch_next(h, signal)
    if ok then
      if kind == "overflow" then return { kind = kind, count = name } end
      if kind then return { kind = kind, name = name } end
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
