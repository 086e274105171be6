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
      v = args[i]
    end
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

local function describe_leftovers(tasks)
  local parts = {}
  for i = 1, math.min(#tasks, 5) do parts[i] = tostring(tasks[i]) end
  if #tasks > 5 then parts[#parts + 1] = "..." end
  return table.concat(parts, ", ")
end

-- Runs one body in its own task; raises what it raised, a TimeoutError past
-- the limit, or an error naming what it left behind.
local function run_in_task(fn, opts, state)
  local owner = state.next_owner
  state.next_owner = owner + 1
  local stats = core.stats()
  local timers, handles = stats.timers, stats.handles
  local t = task.spawn(fn)
  task._own(t, owner)
  state.unhandled = {}
  local ok = task._await_real(t, opts.timeout)
  if not ok then
    local e = errors.TimeoutError(("the spec did not finish within %g ms (ebb test --spec-timeout=MS)"):format(opts.timeout))
    t:cancel(e)
    error(e, 0)
  end
  -- one more turn: failures of tasks that ended with the body are reported
  -- at the end of the turn, and they belong to this spec
  task.yield() -- tasks the body spawned last run in the next turn,
  task.yield() -- and failures are reported at the end of that one
  local unhandled = state.unhandled
  state.unhandled = nil
  local left = task._live(owner)
  for i = 1, #left do left[i]:cancel(errors.AbortError("left behind by a spec")) end
  local result = { pcall(task._results, t) }
  if not result[1] then error(result[2], 0) end
  if #unhandled > 0 then error(unhandled[1], 0) end
  if #left > 0 then
    error(("the spec left %d task(s) running: %s (they were cancelled)"):format(#left, describe_leftovers(left)), 0)
  end
  local extra = core.stats().timers - timers
  if extra > 0 then error(("the spec left %d timer(s) armed"):format(extra), 0) end
  extra = core.stats().handles - handles
  if extra > 0 then
    core.close_newest_handles(extra)
    error(("the spec left %d handle(s) open (sockets, listeners, pipes or processes; they were closed)"):format(extra), 0)
  end
end

local function install(busted, opts, state)
  local safe = busted.safe
  busted.safe = function(descriptor, run, element)
    -- only the bodies themselves: busted also wraps whole executors in safe()
    if HOOKS[descriptor] and type(run) == "function" and (run == element.run or descriptor == "finally") then
      local body = run
      run = function() return run_in_task(body, opts, state) end
    end
    return safe(descriptor, run, element)
  end
  -- Errors raised by ebb's own frames are reported where the spec was declared.
  local get_trace = busted.getTrace
  busted.getTrace = function(element, level, msg)
    local info = get_trace(element, (level or 3) + 1, msg)
    if info and type(info.source) == "string" and info.source:match("^@ebb/") and element and element.trace then
      return element.trace
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
  _G.arg = { [0] = "ebb test" }
  for i = 1, #args do _G.arg[i] = args[i] end
  -- A chunk without a file name: busted then ends the run with os.exit itself.
  assert(loadstring("require 'busted.runner' ({ standalone = false })", "=ebb test"))()
  os.exit()
end

return M
