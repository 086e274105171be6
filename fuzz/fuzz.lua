-- ebb's fuzzer: calls every public function, method and metamethod of every
-- module with random arguments (a wrong self included), each call in a task of
-- its own that is cancelled, timed out or aborted at random while it waits.
--
--   ebb fuzz/fuzz.lua SEED [CALLS] [LOG] [STATS]
--
-- The same seed makes the same calls (while I/O answers in the same order; a
-- crash may then move a little). Every call is written to LOG (unbuffered)
-- before it is made, so a crash leaves the last calls there. STATS gets the
-- figures at the end. To look past known defects or to narrow a crash down:
-- FUZZ_AVOID=name,name skips targets, FUZZ_ONLY=name,name calls only those (and
-- what makes their arguments), FUZZ_OWN_SELF=1 gives methods and metamethods
-- only a self of their own kind.
local dir = arg[0]:match("^(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path

local task = require "ebb.task"
local await_real = require("ebb.test_tasks").await_real
local clock = require "ebb.clock"
local surface_mod = require "surface"
local values = require "values"

local seed = tonumber(arg[1]) or os.time()
local max_calls = tonumber(arg[2]) or 2000
local log = arg[3] and assert(io.open(arg[3], "w")) or io.stderr
local stats_path = arg[4]
log:setvbuf("no")
math.randomseed(seed)
require("ebb.retry").seed(seed)
io.stderr:write(("fuzz: seed %d, %d calls\n"):format(seed, max_calls))

local avoid = {}
for name in (os.getenv("FUZZ_AVOID") or ""):gmatch("[^,]+") do avoid[name] = true end
-- A wait list's wait_real (internal, reached through a Task's `waiters`) has one
-- real-time limit for the whole process, which the fuzzer's own bound uses;
-- signal.raise would send the fuzzer itself SIGKILL or SIGTERM.
local function avoided(target)
  return avoid[target.name] or target.name:match(":wait_real$") or target.name == "signal.raise"
end
local only
for name in (os.getenv("FUZZ_ONLY") or ""):gmatch("[^,]+") do
  only = only or {}
  only[name] = true
end
local own_self_only = os.getenv("FUZZ_OWN_SELF") == "1"

-- the scratch directory: FUZZ_SCRATCH (fuzz/run's, removed even after a crash) or a new one
values.scratch = os.getenv("FUZZ_SCRATCH")
if not values.scratch then
  local p = assert(io.popen("mktemp -d /tmp/ebb-fuzz.XXXXXX"))
  values.scratch = p:read("*l")
  p:close()
end

values.root = task.current()
-- failures of tasks the calls spawned are expected: counted, not reported
local unhandled = 0
require("ebb.host").set_unhandled_hook(function()
  unhandled = unhandled + 1
  return true
end)

-- a few files for the calls that open one
for _, name in ipairs({ "a", "r", "w", "rb", "none", "pipe" }) do
  local f = io.open(values.scratch .. "/" .. name, "w")
  if f then f:write(("some text\n"):rep(100)) f:close() end
end

local surface = surface_mod.discover()
values.learn_words(surface)
local random = math.random
-- the raw one: LuaJIT records getmetatable() of an io file wrongly (docs/luajit-differences.md)
local getmetatable = debug.getmetatable

-- A short, printable picture of a value for the log.
local function show(v)
  local tv = type(v)
  if tv == "string" then
    if #v > 40 then return ("string(%d bytes)"):format(#v) end
    return ("%q"):format(v):gsub("\n", "n")
  elseif tv == "number" then
    if v ~= v then return "0/0" end
    if v == math.huge then return "math.huge" end
    if v == -math.huge then return "-math.huge" end
    return ("%.17g"):format(v)
  elseif tv == "table" or tv == "userdata" then
    local mt = getmetatable(v)
    local name = type(mt) == "table" and surface.metatables[mt]
    return name and ("<%s>"):format(name) or tv
  end
  return tostring(tv == "nil" and "nil" or tv)
end

-- self for a method or metamethod: mostly an object of its kind, sometimes anything.
local function pick_self(target)
  local own = target.mt and surface.instances[target.mt]
  local r, i, other = random(), random(1, 2 ^ 30), values.value() -- the same draws every time
  if own and #own > 0 and (own_self_only or r < (target.kind == "metamethod" and 0.5 or 0.75)) then
    return own[i % #own + 1]
  end
  return other
end

local function make_args(target)
  local n = random(0, 5)
  local args = {}
  local first = 1
  if target.kind ~= "function" then
    args[1] = pick_self(target)
    first = 2
    if n < 1 then n = 1 end
  end
  for i = first, n do args[i] = values.value() end
  n = values.sandbox(target, args, n) or n
  return args, n
end

local calls, failures = 0, 0

-- The call itself, in the task the batch made for it. Changes to the clock are
-- undone at once, so the fuzzer's own bounds keep working.
local function call(target, args, n)
  local results = { pcall(target.fn, unpack(args, 1, n)) }
  if target.module == "clock" and clock.mode() ~= "auto" then clock.auto() end
  if not results[1] then
    failures = failures + 1
    return
  end
  for i = 2, #results do
    local v = results[i]
    values.remember(v)
    surface_mod.learn(target, v)
    if type(v) == "table" and type(rawget(v, "port")) == "number" then values.ports[#values.ports + 1] = v.port end
  end
end

-- How a call's task is cancelled: not at all, after some turns, after some
-- (virtual) time, or through a controller whose signal it was given. Drawn
-- before the batch runs, so the draws do not depend on the order tasks run in.
local function plan_disturbance()
  local r, turns, ms, i = random(), random(0, 3), random() * 40, random(1, 2 ^ 30)
  local reason = random() < 0.5 and values.value(1) or nil
  local ctls = values.controllers
  if r < 0.3 then return function() end end
  if r >= 0.8 then
    local ctl = #ctls > 0 and ctls[i % #ctls + 1]
    return function() if ctl then ctl:abort(reason) end end
  end
  return function(t)
    if r < 0.55 then
      for _ = 1, turns do task.yield() end
    else
      task.sleep(ms)
    end
    t:cancel(reason)
  end
end

local stragglers = 0

local function batch()
  local tasks, plans = {}, {}
  local size = random(1, 6)
  for _ = 1, size do
    local target = surface.list[random(#surface.list)]
    if not avoided(target) and (not only or only[target.name] or random() < 0.2) then
      local args, n = make_args(target)
      calls = calls + 1
      target.calls = target.calls + 1
      local parts = {}
      for j = 1, n do parts[j] = show(args[j]) end
      log:write(("%d %s(%s)\n"):format(calls, target.name, table.concat(parts, ", ")))
      local timeout = random() < 0.15 and random() * 30
      tasks[#tasks + 1] = timeout
        and task.spawn(task.timeout, timeout, call, target, args, n)
        or task.spawn(call, target, args, n)
      plans[#tasks] = plan_disturbance()
    end
  end
  local disturbers = {}
  for i, t in ipairs(tasks) do disturbers[i] = task.spawn(plans[i], t) end
  for _, t in ipairs(tasks) do
    if not await_real(t, 500) then
      t:cancel()
      if not await_real(t, 500) then stragglers = stragglers + 1 end
    end
  end
  for _, d in ipairs(disturbers) do d:cancel() end
  if random() < 0.05 then collectgarbage() end
  if #values.controllers > 50 then values.controllers = {} end
end

clock.auto()
while calls < max_calls do batch() end

local covered, names = 0, {}
for _, t in ipairs(surface.list) do
  if t.calls > 0 then covered = covered + 1 end
  names[#names + 1] = ("%s %d"):format(t.name, t.calls)
end
table.sort(names)
local summary = ("fuzz: seed %d: %d calls (%d raised, %d unhandled task failures), %d of %d targets called, %d tasks still running\n")
  :format(seed, calls, failures, unhandled, covered, #surface.list, stragglers)
io.stderr:write(summary)
if stats_path then
  local f = assert(io.open(stats_path, "w"))
  f:write(("calls %d\n"):format(calls), table.concat(names, "\n"), "\n")
  f:close()
end
-- children still running are ended, then the scratch directory removed
for _, v in ipairs(values.pool) do
  if type(v) == "table" and type(rawget(v, "pid")) == "number" then pcall(v.kill, v, "SIGKILL") end
end
os.execute("rm -rf '" .. values.scratch .. "'")
os.exit(0)
