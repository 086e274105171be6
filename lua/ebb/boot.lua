-- Wires the host: embedded modules, the task trampoline, coroutines and
-- require that pass scheduler waits through, error reports, ebb.shutdown.
local private, load_embedded, embedded_names = ...

local core = require "ebb.core"
local WAIT = core.WAIT
local co_create, co_resume, co_yield, co_status = coroutine.create, coroutine.resume, coroutine.yield,
  coroutine.status
local traceback, type, tostring, select, error = debug.traceback, type, tostring, select, error

for _, name in ipairs(embedded_names()) do
  if name ~= "ebb.boot" then
    package.preload[name] = function() return load_embedded(name) end
  end
end

-- Where plain (string) errors were first raised, so a re-raise keeps it.
local origin, norigin = {}, 0
local function remember(e, tb)
  -- only strings and numbers: nil and NaN cannot be keys, other values need no origin
  if tb == nil or e ~= e or (type(e) ~= "string" and type(e) ~= "number") then return end
  if norigin >= 256 then origin, norigin = {}, 0 end
  if origin[e] == nil then norigin = norigin + 1 end
  origin[e] = tb
end
private.remember = remember
core.remember = remember

local last_tb
local function on_error(e)
  if type(e) == "table" then
    last_tb = nil
  else
    last_tb = origin[e] or traceback(tostring(e), 2)
  end
  return e
end
private.on_error = on_error

-- A coroutine of the script's own may wait: its scheduler yields go up.
local parked = setmetatable({}, { __mode = "k" })
local function pass(co, ok, ...)
  if ok and ... == WAIT and co_status(co) == "suspended" then
    parked[co] = true
    local function resume_with(...)
      parked[co] = nil
      return pass(co, co_resume(co, ...))
    end
    return resume_with(co_yield(WAIT))
  end
  return ok, ...
end

-- Context values (ebb.context) belong to the running task; a coroutine keeps
-- its own across its yields, starting from those of its first resumer, so a
-- run() it is inside never leaks into the code that resumed it.
local cur = core.cur
local co_ctx = setmetatable({}, { __mode = "k" })

local function back(co, t, saved, ...)
  if t then
    co_ctx[co] = t.ctx
    t.ctx = saved
  end
  return ...
end

function coroutine.resume(co, ...)
  if parked[co] then return false, "cannot resume a coroutine that is waiting in the scheduler" end
  local t = cur[1]
  if not t then return pass(co, co_resume(co, ...)) end
  local saved = t.ctx
  local own = co_ctx[co]
  if own ~= nil then t.ctx = own end
  return back(co, t, saved, pass(co, co_resume(co, ...)))
end

local function unwrap(ok, ...)
  if not ok then error((...), 0) end
  return ...
end

function coroutine.wrap(fn)
  local co = co_create(fn)
  return function(...) return unwrap(coroutine.resume(co, ...)) end
end

-- require as LuaJIT's, but a module's top level may wait (ebb/require.lua)
local lib_require = load_embedded("ebb.require")
package.loaded["ebb.require"] = lib_require
require = lib_require.require
local task_host -- ebb.task's side for the host, set once it is loaded
function private.task_failed(t, ...)
  lib_require.task_failed(t)
  return task_host.failed(t, ...)
end

-- Reports: "Name: message", each "caused by:" line, then where it was raised.
local function describe(e)
  if type(e) == "table" then
    local ok, s = pcall(tostring, e)
    if ok and type(s) == "string" then return s end
  end
  if type(e) == "string" then return "Error: " .. e end
  return "Error: " .. tostring(e)
end

-- The host's own frames (the trampoline and the root's xpcall) say nothing to users.
local function trim_host_frames(tb)
  local lines, kept = {}, {}
  for line in tb:gmatch("[^\n]+") do lines[#lines + 1] = line end
  for i, line in ipairs(lines) do
    local host = line:find("ebb/boot.lua:", 1, true)
      or (line:find("ebb/task.lua:", 1, true) and (line:find("'run_one'", 1, true) or line:find("<ebb/task.lua:", 1, true)))
      or (line:find("[C]: in function 'xpcall'", 1, true) and (lines[i + 1] or ""):find("ebb/boot.lua:", 1, true))
    if not host then kept[#kept + 1] = line end
  end
  return table.concat(kept, "\n")
end

function private.report(e, tb, prefix)
  local out = {}
  if prefix then out[#out + 1] = "ebb: " .. prefix .. ":" end
  out[#out + 1] = describe(e)
  tb = (type(e) == "table" and rawget(e, "traceback")) or tb or origin[e]
  if type(tb) == "string" and tb ~= "" then
    local at = tb:find("stack traceback:", 1, true)
    out[#out + 1] = trim_host_frames(at and tb:sub(at) or ("stack traceback:\n" .. tb))
  end
  io.stderr:write(table.concat(out, "\n"), "\n")
end

function core.set_unhandled_hook(fn)
  local previous = private.on_unhandled
  private.on_unhandled = fn
  return previous
end

function private.report_unhandled(task, e, tb)
  if private.on_unhandled and private.on_unhandled(task, e, tb) then return end
  private.report(e, tb, "unhandled error in a task")
  core.set_exit_status(1)
end

function private.report_listener_error(e)
  if private.on_unhandled and private.on_unhandled(nil, e) then return end
  private.report(e, nil, "error in an abort listener")
  core.set_exit_status(1)
end

function private.report_stuck()
  local clock = require "ebb.clock"
  local why = "nothing left to wake it"
  if clock.mode() == "frozen" and clock.next_timer() then
    why = "the clock is frozen with timers pending: call clock.advance(ms), or use clock.auto()"
  end
  io.stderr:write("ebb: the main task is waiting for something that can never happen (" .. why .. ")\n")
end

-- ebb.shutdown: aborted on the first SIGINT or SIGTERM.
local abort_core = require "ebb.abort.core"
private.shutdown = abort_core.new_signal()
function core.shutdown_signal() return private.shutdown end
function private.on_shutdown(name)
  local s = private.shutdown
  if not abort_core.watched(s) then return false end
  local errors = require "ebb.errors"
  abort_core.abort(s, errors.AbortError("interrupted by " .. name, { signal = name }))
  return true
end

function private.timeout_error() return require("ebb.errors").TimeoutError() end

function private.run_root(fn, ...)
  local ok, e = xpcall(fn, on_error, ...)
  if not ok then
    local tb = last_tb
    last_tb = nil
    local s = private.shutdown
    if s.aborted and e == s.reason then os.exit(e.signal == "SIGTERM" and 143 or 130) end
    private.report(e, tb)
    os.exit(1)
  end
end

function private.main(chunks, ...)
  for i = 1, #chunks do chunks[i](...) end
end

-- ebb -i, or ebb on a terminal: the chunks, then the REPL, in the root task.
function private.repl_main(chunks, ...)
  return require("ebb.repl").main(private, chunks, ...)
end

function private.test_main(...)
  return require("ebb.test").main(...)
end

-- The task module runs tasks; the host calls these of it.
task_host = require("ebb.task")._host
private.timer_done = task_host.timer_done
private.enqueue = task_host.enqueue
private.root_done = task_host.root_done
function private.start_root(...) task_host.spawn_root(private.run_root, ...) end
-- tracebacks taken by errors stop where the host called the script's code
core.set_stack_bottoms(task_host.run_one, private.main, private.run_root, private.test_main, private.repl_main)
function private.flush_unhandled()
  local list = task_host.take_unhandled()
  for i = 1, #list do
    local t = list[i]
    private.report_unhandled(t, rawget(t, "error"), rawget(t, "traceback"))
  end
end

return task_host.runner
