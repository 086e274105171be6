-- ebb.worker_thread: the root task of a worker thread (host/worker_thread.c):
-- takes the jobs its pool hands over, one at a time, runs each in a task of
-- its own and sends back its results or its error; cancels the job's task
-- when the pool asks.
local core = require "ebb.worker.core"
local task = require "ebb.task"
local errors = require "ebb.errors"
local wire = require "ebb.worker_wire"
local enter_by_name = require("ebb.context")._enter_by_name

-- the process belongs to the main thread
function os.exit() error("os.exit cannot be called in a worker thread", 2) end

local compiled = {} -- code (a module name or Lua source) -> its function

local function compile(code)
  local fn = compiled[code]
  if fn then return fn end
  if code:match("^[%a_][%w_]*[%w_.]*$") then
    local ok, v = pcall(require, code)
    if not ok then return nil, v end
    if type(v) ~= "function" then
      return nil, ("module '%s' does not return a function (got %s)"):format(code, type(v))
    end
    fn = v
  else
    local chunk, err = loadstring(code)
    if not chunk then return nil, err end
    local ok, v = pcall(chunk)
    if not ok then return nil, v end
    if type(v) ~= "function" then
      return nil, ("the chunk %s does not return a function (got %s)"):format(
        ("%q"):format(code:sub(1, 40)):gsub("\\\n", "\\n"), type(v))
    end
    fn = v
  end
  compiled[code] = fn
  return fn
end

local traceback -- where the last error of a job was raised
local function note_traceback(e)
  traceback = debug.traceback("", 2):sub(2)
  return e
end

local function reply_error(e, tb, replace)
  core._reply(false, replace, wire.pack_error(e, tb))
end

local function finish(ok, ...)
  if core._out_of_memory() then
    collectgarbage()
    return reply_error(wire.out_of_memory(), nil, true)
  end
  if not ok then return reply_error((...), traceback) end
  local sent, why = core._reply(true, false, ...)
  if not sent then reply_error(wire.copy_error(why)) end
end

local current, started -- the job's task; whether its body has begun

local function run_job(context_values, code, ...)
  started = true
  if context_values then enter_by_name(context_values) end
  local fn, err = compile(code)
  if not fn then
    reply_error(err)
  else
    finish(xpcall(fn, note_traceback, ...))
  end
  current = nil
end

local function cancel_error() return errors.AbortError("the job was cancelled") end

local function on_message(kind, ...)
  if kind == "job" then
    started = false
    current = task.spawn(run_job, ...)
  elseif kind == "cancel" then
    if current then
      current:cancel(cancel_error())
      if not started then -- it never runs: the reply is ours to send
        current = nil
        reply_error(cancel_error())
      end
    end
  elseif kind == "stop" then
    return true
  end
end

return function()
  core._set_cancel_error(cancel_error)
  while not on_message(core._next()) do end
  if current then pcall(current.await, current) end
  core._stopped()
end
