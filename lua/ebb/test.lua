-- ebb test: busted's own runner inside the host. Every spec body (and every
-- hook) runs in a task of its own, with a real-time limit and a leak check.
local core = require "ebb.core"
local errors = require "ebb.errors"
local clock = require "ebb.clock"
local task = require "ebb.task"

local M = {}

local HOOKS = {
  it = true, finally = true, before_each = true, after_each = true,
  lazy_setup = true, lazy_teardown = true, strict_setup = true, strict_teardown = true,
}

-- Options of ours, taken out of the arguments before busted sees them.
local function take_options(args)
  local rest, opts = {}, { timeout = 5000 }
  local i = 1
  while i <= #args do
    local a = args[i]
    local v = a:match("^%-%-spec%-timeout=(.*)$")
    if a == "--spec-timeout" then
      i = i + 1
      v = args[i] or ""
    end
    if a == "-l" or a == "--list" then opts.list = true end
    if v then
      local ms = tonumber(v)
      if not ms or not (ms > 0 and ms <= 1e12) then
        io.stderr:write("ebb test: --spec-timeout needs a positive number of milliseconds, at most 1e12\n")
        os.exit(1)
      end
      opts.timeout = ms
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  return rest, opts
end

-- "Task #3 (running, made by listen at spec/x_spec.lua:5)"
local function describe_task(t)
  local where = rawget(t, "made_at")
  return where and tostring(t):gsub("%)$", ", " .. where .. ")") or tostring(t)
end

local function list_of(items, describe)
  local parts = {}
  for i = 1, math.min(#items, 5) do parts[i] = describe(items[i]) end
  if #items > 5 then parts[#parts + 1] = "..." end
  return table.concat(parts, ", ")
end

-- What a spec left: tasks and handles are lists of their descriptions.
local function describe_leftovers(tasks, timers, handles)
  local parts = {}
  if #tasks > 0 then
    parts[#parts + 1] = ("%d task(s) running: %s (they were cancelled)"):format(#tasks, list_of(tasks, tostring))
  end
  if timers > 0 then parts[#parts + 1] = ("%d timer(s) armed"):format(timers) end
  if #handles > 0 then
    parts[#parts + 1] = ("%d handle(s) open: %s (they were closed)"):format(#handles, list_of(handles, tostring))
  end
  return "the spec left " .. table.concat(parts, "; ")
end

-- Cancels the tasks of `owner` still running and closes the handles opened
-- beyond the first `handles`, so the next spec starts clean; returns their
-- descriptions (taken before the cancellation changes the tasks' status).
local function clean_up(owner, handles, reason)
  local left, tasks = task._live(owner), {}
  for i = 1, #left do tasks[i] = describe_task(left[i]) end
  for i = 1, #left do left[i]:cancel(reason) end
  if #left > 0 then task.yield() end -- their cleanup runs before the handles they hold are closed
  local extra = core.stats().handles - handles
  return tasks, extra > 0 and core.close_newest_handles(extra) or {}
end

-- busted places an error where its handler finds it on the stack; the body's
-- stack is gone once its task has ended, so the place is taken in the task.
local function placing_errors(fn, busted, element, caught)
  local function place(e)
    caught.trace = busted.getTrace(element, 3, e)
    return e
  end
  local function raise(ok, ...)
    if not ok then error((...), 0) end
    return ...
  end
  return function() return raise(xpcall(fn, place)) end
end

-- Runs one body in its own task; raises what it raised, a TimeoutError past
-- the limit, or an error naming what it left behind. Whatever it raises, what
-- it left is cancelled and closed.
local function run_in_task(fn, opts, state, busted, element)
  local owner = state.next_owner
  state.next_owner = owner + 1
  local stats = core.stats()
  local timers, handles = stats.timers, stats.handles
  local caught = {}
  state.trace = nil
  local t = task.spawn(placing_errors(fn, busted, element, caught))
  task._own(t, owner)
  state.unhandled = {}
  local ok = task._await_real(t, opts.timeout)
  if not ok then
    local e = errors.TimeoutError(("the spec did not finish within %g ms (ebb test --spec-timeout=MS)"):format(opts.timeout))
    t:cancel(e)
    clean_up(owner, handles, e)
    error(e, 0)
  end
  -- one more turn: failures of tasks that ended with the body are reported
  -- at the end of the turn, and they belong to this spec
  task.yield() -- tasks the body spawned last run in the next turn,
  task.yield() -- and failures are reported at the end of that one
  local unhandled = state.unhandled
  state.unhandled = nil
  local left, closed = clean_up(owner, handles, errors.AbortError("left behind by a spec"))
  local extra_timers = core.stats().timers - timers
  local result = { pcall(task._results, t) }
  if not result[1] then
    state.trace = caught.trace
    error(result[2], 0)
  end
  if #unhandled > 0 then error(unhandled[1], 0) end
  if #left > 0 or extra_timers > 0 or #closed > 0 then
    error(describe_leftovers(left, extra_timers, closed), 0)
  end
end

local function install(busted, opts, state)
  local safe = busted.safe
  busted.safe = function(descriptor, run, element)
    -- only the bodies themselves: busted also wraps whole executors in safe()
    if HOOKS[descriptor] and type(run) == "function" and (run == element.run or descriptor == "finally") then
      local body = run
      run = function() return run_in_task(body, opts, state, busted, element) end
    end
    return safe(descriptor, run, element)
  end
  -- An error raised in ebb's own frames (a bad argument to task.sleep, an
  -- await re-raising) is placed at the spec's frame that called ebb; with no
  -- such frame (what a spec left behind), where the spec was declared.
  local get_trace = busted.getTrace
  local function from_ebb(info)
    local source = info and info.source
    return type(source) == "string" and (source:match("^@ebb/") or source == "=ebb test")
  end
  busted.getTrace = function(element, level, msg)
    local placed = state.trace -- where the body raised what is being reported
    if placed then
      state.trace = nil
      return placed
    end
    level = (level or 3) + 1
    local info = get_trace(element, level, msg)
    while from_ebb(info) do
      level = level + 1
      if not debug.getinfo(level, "S") then return element and element.trace or info end
      info = get_trace(element, level, msg)
    end
    return info
  end
  -- Counted as busted's runner counts them, for the closing summary line.
  local passed, failed = 0, 0
  busted.subscribe({ "test", "end" }, function(_, _, status)
    -- virtual time lasts from before_each to after_each: reset once the test is over
    if clock.mode() ~= "real" then clock.real() end
    if status == "success" then passed = passed + 1 end
    return nil, true
  end)
  busted.subscribe({ "failure" }, function()
    failed = failed + 1
    return nil, true
  end)
  busted.subscribe({ "error" }, function()
    failed = failed + 1
    return nil, true
  end)
  busted.subscribe({ "exit" }, function()
    if opts.list then return nil, true end
    io.stdout:write(("%d passed, %d failed\n"):format(passed, failed))
    io.stdout:flush()
    return nil, true
  end)
end

function M.main(...)
  local args, opts = take_options({ ... })
  local state = { next_owner = 1 }
  -- Loaded once for the whole run: busted's insulation keeps what is loaded first.
  for _, name in ipairs({ "ebb", "ebb.task", "ebb.clock", "ebb.abort", "ebb.errors" }) do require(name) end
  local private_unhandled = core.set_unhandled_hook(function(task, e)
    if state.unhandled then
      state.unhandled[#state.unhandled + 1] = e
      return true
    end
  end)
  local _ = private_unhandled

  local new_core = require "busted.core"
  package.loaded["busted.core"] = function()
    local busted = new_core()
    install(busted, opts, state)
    return busted
  end
  -- as the standalone interpreter sets it: the interpreter, then what it runs
  _G.arg = { [-1] = arg[-1], [0] = arg[0] }
  for i = 1, #args do _G.arg[i] = args[i] end
  -- A chunk without a file name: busted then ends the run with os.exit itself.
  assert(loadstring("require 'busted.runner' ({ standalone = false })", "=ebb test"))()
  os.exit()
end

return M
