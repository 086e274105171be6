-- ebb test's side of ebb.task: the tasks that belong to a spec (those with
-- its owner) are followed from where they were made until they end, for the
-- report of what a spec left behind.
local task = require "ebb.task"
local core = require "ebb.core"

local type, pairs, rawget, rawset, error = type, pairs, rawget, rawset, error
local getinfo = debug.getinfo
local cur, host_source = core.cur, core.host_source
local shared = task._shared
local observe, waiters_of, finished = shared.observe, shared.waiters_of, shared.finished

local tasks = {}
local live = {} -- tasks that belong to a spec, while unfinished

-- The name an ebb module gives fn, for a function called with no name of its
-- own (through pcall): "listen" for net.listen.
local function module_name_of(fn)
  for name, m in pairs(package.loaded) do
    if type(name) == "string" and name:sub(1, 4) == "ebb." and type(m) == "table" then
      for k, v in pairs(m) do
        if v == fn and type(k) == "string" then return k end
      end
    end
  end
end

-- Where a spec's task was made: the first frame outside ebb's own modules,
-- and the ebb function it called there (net.listen's accept loop reads
-- "made by listen at spec/x_spec.lua:5"). Level 4: past this function,
-- shared.owned and ebb.task's own, which call it.
local function made_at()
  local via
  for level = 4, 21 do
    local info = getinfo(level, "Slnf")
    if not info then return nil end
    if info.what ~= "C" then
      if not host_source(info.source) then
        return ("made by %s at %s:%d"):format(via or "?", info.short_src, info.currentline)
      end
      via = info.name or module_name_of(info.func) or ("function <%s:%d>"):format(info.short_src, info.linedefined)
    end
  end
end

-- ebb.task calls these for a task given an owner when it is made (it has
-- its maker's), and for one with an owner when it ends.
function shared.owned(t)
  t.made_at = made_at()
  live[t] = true
end
function shared.ended(t) live[t] = nil end

-- t (a spec's body) belongs to owner from now on, and so do the tasks it makes.
function tasks.own(t, owner)
  rawset(t, "owner", owner)
  live[t] = true
end

-- The unfinished tasks of owner, but the running one.
function tasks.live(owner)
  local out = {}
  for t in pairs(live) do
    if rawget(t, "owner") == owner and t ~= cur[1] then out[#out + 1] = t end
  end
  return out
end

-- Waits for t at most ms of real time: true once it has ended, nil on timeout.
function tasks.await_real(t, ms)
  observe(t)
  local w = waiters_of(t)
  while not finished(t) do
    local ok, reason = w:wait_real(ms)
    if ok == nil then return nil end
    if ok == false then error(reason, 0) end
  end
  return true
end

tasks.results = shared.results -- t's results, or its error raised

return tasks
