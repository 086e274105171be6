-- Wires the host: embedded modules, the task trampoline, coroutines and
-- require that pass scheduler waits through, error reports, ebb.shutdown.
-- `private` takes the hooks C calls, the names host/hooks.h lists (no other).
local private, load_embedded, embedded_names = ...

-- What luajit gives a script, to leave as it was once the host has loaded its modules.
local loaded_at_start, preload_at_start, table_at_start = {}, {}, {}
for name in pairs(package.loaded) do loaded_at_start[name] = true end
for name in pairs(package.preload) do preload_at_start[name] = true end
for k in pairs(table) do table_at_start[k] = true end

local core = require "ebb.core"
local WAIT = core.WAIT
local co_create, co_resume, co_yield, co_status, co_running = coroutine.create, coroutine.resume,
  coroutine.yield, coroutine.status, coroutine.running
local traceback, type, tostring, select, error = debug.traceback, type, tostring, select, error

for _, name in ipairs(embedded_names()) do
  if name ~= "ebb.boot" then
    package.preload[name] = function() return load_embedded(name) end
  end
end

-- Where plain errors were first raised (ebb.host), the unhandled-error hook, ebb.shutdown.
local host = require "ebb.host"
local remember, origin, traced = host.remember, host.origin, host.traced
-- LuaJIT's own, for the modules that pass scheduler waits through themselves (ebb.gen)
host.co_resume, host.co_running = co_resume, co_running
private.traced = traced

-- pcall keeps where a plain error was raised, so re-raising what it caught
-- reports that place; the tail call leaves pcall's frame as it was. Named
-- parameters keep it cheap when interpreted (one cost: pcall() with no
-- argument at all returns false as pcall(nil) does, where LuaJIT raises).
local xpcall, raw_pcall = xpcall, pcall
function pcall(f, ...)
  if f == nil then return raw_pcall(f, ...) end
  return xpcall(f, traced, ...)
end

local last_tb
local function on_error(e)
  local own = type(e) == "table" and rawget(e, "traceback")
  if type(own) == "string" and own:find("\n", 1, true) then -- else made where no script ran: where raised
    last_tb = nil
  else
    last_tb = type(e) ~= "table" and origin(e) or traceback("", 2)
  end
  return e
end

-- A coroutine of the script's own may wait: its scheduler yields go up.
local parked = setmetatable({}, { __mode = "k" })
local function pass(co, ok, ...)
  if not ok then host.remember_coroutine(co, (...)) end
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

-- An argument error as LuaJIT words it: the name the caller used, its place.
local function bad_argument(n, expected)
  local name = debug.getinfo(2, "n").name or "?"
  error(require("ebb.check").message(n, name, expected), 3)
end

function coroutine.resume(co, ...)
  if type(co) ~= "thread" then bad_argument(1, "coroutine expected") end
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

function coroutine.wrap(...)
  local fn = ...
  if type(fn) ~= "function" then
    bad_argument(1, "function expected, got " .. (select("#", ...) == 0 and "no value" or type(fn)))
  end
  local co = co_create(fn)
  return function(...) return unwrap(coroutine.resume(co, ...)) end
end

-- require as LuaJIT's, but a module's top level may wait (ebb/require.lua)
local lib_require = load_embedded("ebb.require")
package.loaded["ebb.require"] = lib_require
require = lib_require.require
local task_host -- ebb.task's side for the host, set once it is loaded

-- Hooks see the script's code, not the host's Lua that stands where LuaJIT
-- has C functions (coroutine.resume and wrap, require, the main chunk's driver).
local host_source = core.host_source -- a chunk name of a module compiled in
local sethook, gethook = debug.sethook, debug.gethook
local script_hooks = setmetatable({}, { __mode = "k" }) -- the hook set -> the script's

function debug.sethook(...)
  local args = { n = select("#", ...), ... }
  local at = type(args[1]) == "thread" and 2 or 1
  local fn = args[at]
  if type(fn) == "function" then
    local function hook(event, line)
      local info = debug.getinfo(2, "S")
      if info and host_source(info.source) then return end
      return fn(event, line) -- a tail call: level 2 stays the hooked function
    end
    script_hooks[hook] = fn
    args[at] = hook
  end
  return sethook(unpack(args, 1, args.n))
end

function debug.gethook(...)
  local fn, mask, count = gethook(...)
  return script_hooks[fn] or fn, mask, count
end

-- Reports: "Name: message", each "caused by:" line, then where it was raised.
-- Never raises: an error whose __tostring raises or returns no string is still reported.
local function describe(e)
  local s = require("ebb.errors")._host.tostring(e)
  if type(e) == "table" then return s end
  return "Error: " .. s
end

-- The host's own frames (the trampoline and the root's xpcall) say nothing to users.
local function trim_host_frames(tb)
  local lines, kept = {}, {}
  for line in tb:gmatch("[^\n]+") do lines[#lines + 1] = line end
  for i, line in ipairs(lines) do
    local host = line:find("ebb/boot.lua:", 1, true)
      or (line:find("ebb/task.lua:", 1, true) and line:find("<ebb/task.lua:", 1, true))
      or (line:find("[C]: in function 'xpcall'", 1, true) and (lines[i + 1] or ""):find("ebb/boot.lua:", 1, true))
      or (i == #lines and line:find("^%s*%[builtin#%d+%]: at ")) -- what a main chunk is called from
    if not host then kept[#kept + 1] = line end
  end
  -- below the script's last frame, ebb's own called it (a server's handler
  -- task, a semaphore's with): those frames go too, as the host's do
  local last = #kept
  while last > 1 and (kept[last]:find("^%s*ebb/") or kept[last]:find("^%s*%[C%]:")) do last = last - 1 end
  if last > 1 then
    for i = #kept, last + 1, -1 do kept[i] = nil end
  end
  return table.concat(kept, "\n")
end

-- The frames of a traceback worth showing, under its "stack traceback:" line;
-- nil when none is left.
local function shown_frames(tb)
  if type(tb) ~= "string" or tb == "" then return nil end
  local at = tb:find("stack traceback:", 1, true)
  local trimmed = trim_host_frames(at and tb:sub(at) or ("stack traceback:\n" .. tb))
  if trimmed:find("\n", 1, true) then return trimmed end
end

local function report(e, tb, prefix)
  local out = {}
  if prefix then out[#out + 1] = "ebb: " .. prefix .. ":" end
  out[#out + 1] = describe(e)
  local own = type(e) == "table" and rawget(e, "traceback") or type(e) ~= "table" and origin(e) or nil
  -- an error made where no script ran (a timeout's, by its timer) shows where it was raised
  local frames = shown_frames(own) or shown_frames(tb)
  out[#out + 1] = frames or (own or tb) and "stack traceback:" or nil
  io.stderr:write(table.concat(out, "\n"), "\n")
end

local function report_unhandled(task, e, tb)
  local on_unhandled = host.unhandled_hook()
  if on_unhandled and on_unhandled(task, e, tb) then return end
  core.set_exit_status(1)
  report(e, tb, "unhandled error in a task")
end

-- An error raised by a listener (an abort listener, from C; an event
-- listener, from ebb.events): reported, as an unhandled task failure is.
-- what: what raised it ("an abort listener" when nil).
function host.report_listener_error(e, what)
  what = what or "an abort listener"
  local on_unhandled = host.unhandled_hook()
  if on_unhandled and on_unhandled(nil, e, nil, what) then return end
  core.set_exit_status(1)
  report(e, nil, "error in " .. what)
end
private.report_listener_error = host.report_listener_error

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
private.shutdown = host.shutdown
function private.on_shutdown(name)
  local s = private.shutdown
  if not abort_core.watched(s) then return false end
  local errors = require "ebb.errors"
  abort_core.abort(s, errors.AbortError("interrupted by " .. name, { signal = name }))
  return true
end

function private.timeout_error() return require("ebb.errors").TimeoutError() end

local function root_failed(e)
  local tb = last_tb
  last_tb = nil
  local s = private.shutdown
  if s.aborted and e == s.reason then os.exit(e.signal == "SIGTERM" and 143 or 130) end
  report(e, tb)
  os.exit(1)
end

local function run_root(fn, ...)
  local ok, e = xpcall(fn, on_error, ...)
  if not ok then root_failed(e) end
end

-- Each chunk (LUA_INIT, -l, -e, the script) runs as the standalone lua runs
-- it: called from C (xpcall, at the bottom of a coroutine of its own), so in
-- it coroutine.running() is nil, debug.getinfo(2) is a C frame with nothing
-- below, and tracebacks hold the script's frames only. The root task hands
-- over to that coroutine (core.CHUNK): the scheduler resumes it as the task's
-- own, so its waits cost what they cost in any task, and it comes back here
-- once the chunk has ended.
local chunk_cos = setmetatable({}, { __mode = "k" })
local CHUNK = core.CHUNK

local function chunk_ended(resumed, ok, e)
  if not resumed then root_failed(ok) end -- on_error itself failed
  if not ok then root_failed(e) end
end

local function run_chunk(fn, ...)
  local co = co_create(xpcall)
  chunk_cos[co] = true
  return chunk_ended(co_yield(CHUNK, co, fn, on_error, ...))
end

function coroutine.running()
  local co = co_running()
  if chunk_cos[co] then return nil end
  return co
end

-- chunks: functions (LUA_INIT, -e) and module names (-l), run with no
-- arguments; then the script, if any, with its own.
function private.main(chunks, script, ...)
  for i = 1, #chunks do
    local c = chunks[i]
    if type(c) == "string" then run_chunk(require, c) else run_chunk(c) end
  end
  if script then run_chunk(script, ...) end
end

-- ebb -i, or ebb on a terminal: the chunks, then the REPL, in the root task.
function private.repl_main(chunks, script, ...)
  local list = {}
  for i = 1, #chunks do
    local c = chunks[i]
    list[i] = type(c) == "string" and function() return require(c) end or function() return c() end
  end
  list[#list + 1] = script or nil
  return require("ebb.repl").main(private, list, ...)
end

function private.test_main(...)
  return require("ebb.test").main(...)
end

-- The task module runs tasks; the host calls these of it.
task_host = require("ebb.task")._host
-- a task's traceback is where its error was first raised (a re-raise keeps it)
function private.task_failed(t, e, tb)
  lib_require.task_failed(t)
  remember(e, tb)
  task_host.failed(t, e, type(e) ~= "table" and origin(e) or tb)
end
private.timer_done = task_host.timer_done
private.enqueue = task_host.enqueue
private.root_done = task_host.root_done
function private.start_root(...) task_host.spawn_root(run_root, ...) end
-- tracebacks taken by errors stop where the host called the script's code
core.set_stack_bottoms(task_host.runner, private.main, run_root, private.test_main, private.repl_main)
function private.flush_unhandled()
  local list = task_host.take_unhandled()
  for i = 1, #list do
    local t = list[i]
    report_unhandled(t, rawget(t, "error"), rawget(t, "traceback"))
  end
end

-- The modules loaded above leave package.loaded as the standalone luajit has
-- it at start-up: require hands out these same instances from package.preload.
-- LuaJIT's own (table.new) keep their loader, which also sets table.new.
for name, mod in pairs(package.loaded) do
  if not loaded_at_start[name] then
    package.loaded[name] = nil
    if not preload_at_start[name] then package.preload[name] = function() return mod end end
  end
end
for k in pairs(table) do
  if not table_at_start[k] then table[k] = nil end
end

return task_host.runner
