-- ebb test's units: a spec (its before_each hooks, its body, finally, its
-- after_each hooks) or a block (a file or a describe, from its setup to its
-- teardown). Every body runs in a task of its unit, so what one body starts
-- may live on into the next; what is left when the unit ends is cancelled,
-- closed and reported.
local core = require "ebb.core"
local limit = require "ebb.test.core"
local errors = require "ebb.errors"
local task = require "ebb.task"
local spec_tasks = require "ebb.test_tasks"

local units = {}

local next_owner = 1 -- tasks and handles carry their unit's number as their owner

function units.open(element)
  local unit = { owner = next_owner, element = element, timers = 0, raised = false }
  next_owner = next_owner + 1
  return unit
end

-- "Task #3 (running, made by listen at spec/x_spec.lua:5)"
local function describe_task(t)
  local where = rawget(t, "made_at")
  return where and tostring(t):gsub("%)$", ", " .. where .. ")") or tostring(t)
end

local function list_of(items)
  local parts = {}
  for i = 1, math.min(#items, 5) do parts[i] = items[i] end
  if #items > 5 then parts[#parts + 1] = "..." end
  return table.concat(parts, ", ")
end

local WHO = { it = "the spec", describe = "the describe block", file = "the file" }

-- What a unit left: tasks and handles are lists of their descriptions.
local function describe_leftovers(unit, tasks, timers, handles)
  local parts = {}
  if #tasks > 0 then
    parts[#parts + 1] = ("%d task(s) running: %s (they were cancelled)"):format(#tasks, list_of(tasks))
  end
  if timers > 0 then parts[#parts + 1] = ("%d timer(s) armed"):format(timers) end
  if #handles > 0 then
    parts[#parts + 1] = ("%d handle(s) open: %s (they were closed)"):format(#handles, list_of(handles))
  end
  return (WHO[unit.element.descriptor] or "the unit") .. " left " .. table.concat(parts, "; ")
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

-- The name busted reports a spec or block by: its describes' names and its own.
local function full_name(busted, element)
  local names = { element.name or element.descriptor }
  local parent = busted.context.parent(element)
  while parent and (parent.name or parent.descriptor) and parent.descriptor ~= "file" do
    table.insert(names, 1, parent.name or parent.descriptor)
    parent = busted.context.parent(parent)
  end
  return table.concat(names, " ")
end

-- The TimeoutError of a body of `element`'s past the limit.
local function timeout_error(element, ms)
  local who = WHO[element.descriptor] or "the block"
  return errors.TimeoutError(("%s did not finish within %g ms (ebb test --spec-timeout=MS)"):format(who, ms))
end

-- Arms the host's real-time limit, which needs no loop, around fn: past
-- ms, raise_in(running task) says what to raise where the script's code
-- runs then (nil: nothing); past it twice (a loop no hook reaches, or code
-- that catches the error) the host ends the run naming element.
local function limited(element, ms, busted, raise_in, fn, ...)
  local what = ('%s "%s"'):format(WHO[element.descriptor] or "the block", full_name(busted, element))
  limit.arm(ms, what, function() return raise_in(task.current()) end)
  local function disarmed(ok, ...)
    limit.disarm()
    if not ok then error((...), 0) end
    return ...
  end
  return disarmed(pcall(fn, ...))
end

-- Runs a block's own body (a describe's, a file's chunk: what registers its
-- children) where busted runs it, in the runner's task, under the limit.
function units.run_block_body(element, ms, busted, run)
  local runner, e = task.current(), timeout_error(element, ms)
  return limited(element, ms, busted, function(running)
    if running == runner then return e end
  end, run)
end

-- Runs one body of the unit in a task of the unit; raises what it raised, a
-- TimeoutError past the limit (only the body's own task is cancelled then:
-- the rest is the unit's, checked at its end), or the failure of a task that
-- failed unhandled during the body. Timers the body left armed, or disarmed,
-- are counted for the unit.
function units.run(unit, fn, opts, state, busted, element)
  local timers = core.stats().timers
  local caught = {}
  state.trace = nil
  local t = task.spawn(placing_errors(fn, busted, element, caught))
  spec_tasks.own(t, unit.owner)
  state.unhandled = {}
  local e -- made once the limit has passed
  -- past the limit t is cancelled, and so is the unit's task that runs then
  -- (t, or one it spawned), which raises it where its own code runs
  local ok = limited(unit.element, opts.timeout, busted, function(running)
    e = e or timeout_error(unit.element, opts.timeout)
    t:cancel(e)
    if running and rawget(running, "owner") == unit.owner then
      running:cancel(e)
      return e
    end
  end, spec_tasks.await_real, t, opts.timeout)
  if not ok then
    e = e or timeout_error(unit.element, opts.timeout)
    t:cancel(e)
    task.yield() -- its cleanup runs before the next body
    unit.timers = unit.timers + core.stats().timers - timers
    error(e, 0)
  end
  -- one more turn: failures of tasks that ended with the body are reported
  -- at the end of the turn, and they belong to this body
  task.yield() -- tasks the body spawned last run in the next turn,
  task.yield() -- and failures are reported at the end of that one
  unit.timers = unit.timers + core.stats().timers - timers
  local unhandled = state.unhandled
  state.unhandled = nil
  local result = { pcall(spec_tasks.results, t) }
  if not result[1] then
    state.trace = caught.trace
    error(result[2], 0)
  end
  if #unhandled > 0 then error(unhandled[1], 0) end
end

-- Ends the unit: cancels the tasks it left running and closes the handles it
-- left open, so what runs next starts clean. Returns what it left, said in a
-- sentence (the descriptions are taken before the cancellation changes the
-- tasks' status), or nil when it left nothing.
function units.finish(unit)
  local timers = core.stats().timers
  local left, tasks = spec_tasks.live(unit.owner), {}
  for i = 1, #left do tasks[i] = describe_task(left[i]) end
  local reason = errors.AbortError("left behind by a spec")
  for i = 1, #left do left[i]:cancel(reason) end
  if #left > 0 then task.yield() end -- their cleanup runs before the handles they hold are closed
  local closed = core.close_handles_of(unit.owner)
  local extra_timers = unit.timers + core.stats().timers - timers
  if #tasks > 0 or extra_timers > 0 or #closed > 0 then
    return describe_leftovers(unit, tasks, extra_timers, closed)
  end
end

return units
