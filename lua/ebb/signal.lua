-- ebb.signal: OS signals (SIGHUP, SIGUSR1, SIGINT, ...) for scripts: a
-- listener runs a function in a task of its own for each one that comes;
-- wait() waits in the calling task for the next. (Abort signals are
-- ebb.abort's.)
local core = require "ebb.signal.core"
local check = require "ebb.check"
local task = require "ebb.task"
local errors = require "ebb.errors"
local check_abort = require("ebb.core").check_abort

local type, error, tostring, pcall, setmetatable, concat = type, error, tostring, pcall, setmetatable, table.concat
local spawn = task.spawn

local M = {}

local accepted = {} -- [sending] = "SIGHUP, SIGINT, ...": what the lookup errors list

-- The number and name of the OS signal called `name`, or an argument error
-- saying what is wrong with it (sending: any name raise takes).
local function lookup(name, fname, sending)
  local why
  if type(name) ~= "string" then
    why = "signal name expected, got " .. type(name)
  elseif name:find("\0", 1, true) then
    why = "signal name must not contain a NUL byte"
  else
    local num, full, unlistenable = core.lookup(name)
    if num and (sending or not unlistenable) then return num, full end
    if num then
      why = full .. " " .. unlistenable
    else
      local list = accepted[sending or false] or concat(core.names(sending), ", ")
      accepted[sending or false] = list
      why = ("unknown signal name '%s'; accepted: %s (the SIG may be left out)"):format(name, list)
    end
  end
  check.badarg(1, fname, why, 2)
end

-- Holds the watch of signal num (keeps_alive: a wait's): the generation to
-- release it with; or raises what the system answered.
local function hold(num, name, keeps_alive)
  local generation, code, msg = core.hold(num, keeps_alive)
  if not generation then error(check.system_error(code, msg, "sigaction", name), 3) end
  return generation
end

-- ---- listeners ----

-- A listener's task: for each signal come since it was added, fn(name) in a
-- task of its own; between them it waits, holding nothing but its place.
local function listen(num, name, fn, seen)
  while true do
    local now = core.delivered(num)
    for _ = seen + 1, now do spawn(fn, name) end
    seen = now
    local ok, reason = core.wait(num)
    if ok == false then error(reason, 0) end
    if ok == nil then return end -- the watch was closed under it (exit, ebb test)
  end
end

-- What a listener holds, let go once (by off, or when its task ends).
local Listener = {}
Listener.__index = Listener

function Listener:settled()
  if self.held then
    self.held = false
    core.release(self.num, false, self.generation)
  end
  local off_abort = self.off_abort
  if off_abort then
    self.off_abort = nil
    off_abort()
  end
end

local function nothing() end

local ON = { signal = check.kind.signal }

function M.on(name, fn, opts)
  local num, full = lookup(name, "on")
  check.callable(fn, 2, "on")
  local signal = opts ~= nil and check.options(opts, 3, "on", ON).signal
  if signal and signal.aborted then return nothing end
  local l = setmetatable({ num = num, held = true, generation = hold(num, full, false) }, Listener)
  local t = task._deferred(l, listen, num, full, fn, core.delivered(num))
  task._start(t)
  local function off()
    l:settled()
    t:cancel()
  end
  if signal then l.off_abort = signal:on_abort(off) end
  return off
end

-- ---- waiting ----

local WAIT = { signal = check.kind.signal, timeout = check.kind.ms }

function M.wait(name, opts)
  local num, full = lookup(name, "wait")
  local signal, timeout
  if opts ~= nil then
    check.options(opts, 2, "wait", WAIT)
    signal, timeout = opts.signal, opts.timeout
  end
  check.raise_if_aborted(check_abort(signal))
  local generation = hold(num, full, true)
  local called, ok, reason, msg = pcall(core.wait, num, timeout, signal)
  core.release(num, true, generation)
  if not called then error(ok, 0) end -- not in a task
  if ok then return full end
  if ok == false then error(reason, 0) end
  if reason == "timeout" then
    error(errors.TimeoutError(("no %s came within %s ms"):format(full, tostring(timeout))), 2)
  end
  error(check.system_error(reason, msg, "wait", full), 2) -- closed under it (exit, ebb test)
end

-- ---- sending ----

function M.raise(name)
  local num, full = lookup(name, "raise", true)
  local ok, code, msg = core.raise(num)
  if not ok then error(check.system_error(code, msg, "kill", full), 2) end
end

return M
