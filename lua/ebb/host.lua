-- What ebb's own modules share with the host's start-up (ebb.boot): where
-- plain errors were first raised, the hook that takes unhandled errors, and
-- ebb.shutdown. A Lua table of its own: C modules' tables hold C functions only.
local abort_core = require "ebb.abort.core"
local traceback, type = debug.traceback, type

local M = {}

-- Where plain (string) errors were first raised, so a re-raise keeps it: the
-- first traceback taken for a value stays (a re-raise would take another).
-- Tables carry their own; nil and NaN cannot be keys.
local origin, norigin = {}, 0
function M.remember(e, tb)
  -- only strings and numbers: nil and NaN cannot be keys, other values need no origin
  if tb == nil or e ~= e or (type(e) ~= "string" and type(e) ~= "number") or origin[e] ~= nil then return end
  if norigin >= 256 then origin, norigin = {}, 0 end
  norigin = norigin + 1
  origin[e] = tb
end
local remember = M.remember

-- The traceback remembered for a plain error, if any.
function M.origin(e) return origin[e] end

-- An xpcall handler: notes where the error is being raised. It never calls
-- tostring (a raising __tostring would replace the error) and takes no
-- traceback when memory has run out.
function M.traced(e)
  if type(e) ~= "table" and origin[e] == nil and e ~= "not enough memory" then
    remember(e, traceback("", 2))
  end
  return e
end

-- A coroutine that died of a plain error: where it was raised in it.
function M.remember_coroutine(co, e)
  if type(e) ~= "table" and origin[e] == nil then remember(e, traceback(co, "")) end
end

-- fn(task, error, traceback, what) (task nil for a listener's error, what
-- then saying which: "an abort listener", "an event listener for 'data'") is
-- given unhandled errors first, and reports them itself when it returns
-- true; returns the hook it replaces.
local on_unhandled
function M.set_unhandled_hook(fn)
  local previous = on_unhandled
  on_unhandled = fn
  return previous
end
function M.unhandled_hook() return on_unhandled end

-- report_listener_error(e [, what]): reports a listener's error (set by ebb.boot).
M.report_listener_error = nil

-- ebb.shutdown: aborted on the first SIGINT or SIGTERM.
M.shutdown = abort_core.new_signal()

return M
