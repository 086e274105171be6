-- ebb test: busted's own runner inside the host. Every spec body (and every
-- hook) runs in a task of its own, with a real-time limit; a spec with its
-- hooks, and a block from its setup to its teardown, is checked for what it left.
local core = require "ebb.core"
local clock = require "ebb.clock"
local units = require "ebb.test_units"

local M = {}

-- The bodies that run in a task: a spec's own, and a block's (setup, teardown).
local SPEC_BODIES = { it = true, finally = true, before_each = true, after_each = true }
local BLOCK_BODIES = { lazy_setup = true, lazy_teardown = true, strict_setup = true, strict_teardown = true }

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

-- The unit a body belongs to: a block's hooks to their block (lazy_setup runs
-- inside the first spec that needs it), the others to the running spec.
local function unit_of(state, busted, descriptor, element)
  if BLOCK_BODIES[descriptor] then return state.blocks[busted.context.parent(element)] end
  return state.spec
end

-- Fails `element` with what its unit left, placed where it was declared.
local function report_leftovers(busted, state, element, message)
  state.trace = element.trace
  busted.safe(element.descriptor, function() error(message, 0) end, element)
end

-- A spec's executor runs its before_each hooks, its body and its after_each
-- hooks as one unit, checked after the last after_each. The end of the test
-- is published then, so that a spec that left something counts as failed.
local function as_spec(executor, busted, state, safe_publish)
  return function(element)
    local unit = units.open(element)
    state.spec = unit
    executor(element)
    state.spec = nil
    local left = units.finish(unit)
    if clock.mode() ~= "real" then clock.real() end -- virtual time lasts from before_each to after_each
    local ended = unit.test_end
    if left and not unit.raised then
      report_leftovers(busted, state, element, left)
      if ended and ended[5] == "success" then ended[5] = "error" end
    end
    if ended then safe_publish(unpack(ended, 1, ended.n)) end
  end
end

-- A block's executor (a file's, a describe's) runs its setup, its children
-- and its teardown: what the setup starts lives until the teardown.
local function as_block(executor, busted, state)
  return function(element)
    local unit = units.open(element)
    state.blocks[element] = unit
    executor(element)
    state.blocks[element] = nil
    local left = units.finish(unit)
    if left and not unit.raised then report_leftovers(busted, state, element, left) end
  end
end

local function noting_failure(unit, status, ...)
  if not status:success() then unit.raised = true end
  return status, ...
end

local function install(busted, opts, state)
  local safe, safe_publish, register = busted.safe, busted.safe_publish, busted.register
  busted.safe = function(descriptor, run, element)
    -- only the bodies themselves: busted also wraps whole executors in safe()
    local body = type(run) == "function" and (run == element.run or descriptor == "finally")
    if body and (descriptor == "describe" or descriptor == "file") then
      return units.run_block_body(element, opts.timeout, busted, function() return safe(descriptor, run, element) end)
    end
    local unit = body and (SPEC_BODIES[descriptor] or BLOCK_BODIES[descriptor]) and unit_of(state, busted, descriptor, element)
    if not unit then return safe(descriptor, run, element) end
    local function in_task() return units.run(unit, run, opts, state, busted, element) end
    return noting_failure(unit, safe(descriptor, in_task, element))
  end
  busted.safe_publish = function(descriptor, channel, element, ...)
    local spec = state.spec
    if spec and spec.element == element and channel[1] == "test" and channel[2] == "end" then
      local n = select("#", ...)
      spec.test_end = { descriptor, channel, element, n = n + 3, ... }
      return true
    end
    return safe_publish(descriptor, channel, element, ...)
  end
  -- hooks a helper adds at the top (a lazy_setup there runs once, never torn down)
  state.blocks[busted.context.get()] = units.open(busted.context.get())
  busted.register = function(descriptor, executor, attributes)
    if type(executor) == "function" and descriptor == "it" then
      executor = as_spec(executor, busted, state, safe_publish)
    elseif type(executor) == "function" and (descriptor == "file" or descriptor == "describe") then
      executor = as_block(executor, busted, state)
    end
    return register(descriptor, executor, attributes)
  end
  -- An error raised in ebb's own frames (a bad argument to task.sleep, an
  -- await re-raising) is placed at the spec's frame that called ebb; with no
  -- such frame (what a spec left behind), where the spec was declared.
  local get_trace = busted.getTrace
  local function from_ebb(info)
    local source = info and info.source
    return type(source) == "string" and (core.host_source(source) or source == "=ebb test")
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
  local state = { blocks = {} }
  -- Loaded once for the whole run: busted's insulation keeps what is loaded first.
  for _, name in ipairs({ "ebb", "ebb.task", "ebb.clock", "ebb.abort", "ebb.errors" }) do require(name) end
  local private_unhandled = require("ebb.host").set_unhandled_hook(function(task, e)
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
