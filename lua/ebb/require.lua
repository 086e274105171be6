-- require as LuaJIT's (lib_package.c), but in Lua so that a module's top level
-- may wait; the host installs it as the global require.
local core = require "ebb.core"
local check = require "ebb.check"
local arg_message, raise_if_aborted = check.message, check.raise_if_aborted
local cur, LOADING = core.cur, core.LOADING
local pkg, loaded, getinfo, getlocal = package, package.loaded, debug.getinfo, debug.getlocal
local co_running, co_status = coroutine.running, coroutine.status
local type, select, error, rawget, tostring = type, select, error, rawget, tostring

local M = {}

-- While a module loads, package.loaded[name] holds a light userdata, as in
-- LuaJIT, so luaL_register and module() make the module's table themselves. A
-- task requiring a module another task is loading waits for that load.
local loading = {} -- name -> the load under way: task, coroutine, frame, waiters
local loads_of = setmetatable({}, { __mode = "k" }) -- task -> its loads under way

local function check_name(level, ...)
  local name = ...
  if type(name) == "number" then return tostring(name) end
  local got = select("#", ...) == 0 and "no value" or type(name)
  local fname = getinfo(level, "n").name or "?"
  error(arg_message(1, fname, "string expected, got " .. got), 0)
end

local function find_loader(name)
  local loaders = pkg.loaders
  if type(loaders) ~= "table" then error("'package.loaders' must be a table", 0) end
  local msg = ""
  for i = 1, 1e9 do
    local searcher = rawget(loaders, i)
    if searcher == nil then error(("module '%s' not found:%s"):format(name, msg), 0) end
    local loader = (searcher(name))
    if type(loader) == "function" then return loader end
    if type(loader) == "string" or type(loader) == "number" then msg = msg .. loader end
  end
end

-- A load has failed when its require is no longer on its coroutine's stack
-- (the error went past require: nothing runs in Lua on the way).
local ebb_require
local function load_failed(l)
  if co_status(l.co) == "dead" then return true end
  for level = 0, 1e9 do
    local info = getinfo(l.co, level, "f")
    if not info then return true end
    if info.func == ebb_require then
      for i = 1, 1e9 do
        local k, v = getlocal(l.co, level, i)
        if k == nil then break end
        if v == l then return false end
      end
    end
  end
end

local function wake_load(l)
  if l.wl then l.wl:wake_all() end
end

local function previous_error(name)
  error(("loop or previous error loading module '%s'"):format(name), 0)
end

local function await_load(name)
  local l, ct = loading[name], cur[1]
  if not (l and ct and l.task ~= ct) or load_failed(l) then
    if l then loading[name] = nil end
    previous_error(name)
  end
  l.wl = l.wl or core.waitlist()
  repeat
    raise_if_aborted(l.wl:wait())
  until loaded[name] ~= LOADING or load_failed(l)
  if loaded[name] == LOADING then previous_error(name) end
  return ebb_require(name)
end

local function loaded_now(name, l, res)
  loading[name] = nil
  local mine = loads_of[l.task]
  if mine then mine[l] = nil end
  if res ~= nil then loaded[name] = res end
  if loaded[name] == LOADING then loaded[name] = true end
  wake_load(l)
  return loaded[name]
end

function M.require(...)
  local name = ...
  if type(name) ~= "string" then name = check_name(2, ...) end
  local v = loaded[name]
  if v then
    if v == LOADING then return await_load(name) end
    return v
  end
  local loader = find_loader(name)
  loaded[name] = LOADING
  local l = { loader, task = cur[1], co = co_running() }
  if l.task and l.co then
    loading[name] = l
    local mine = loads_of[l.task] or {}
    loads_of[l.task] = mine
    mine[l] = true
  end
  -- called through l[1], so a traceback calls the chunk "main chunk" as LuaJIT does
  local res = l[1](name)
  return loaded_now(name, l, res)
end
ebb_require = M.require

-- A task failed while loading modules: those waiting for them learn of it.
function M.task_failed(t)
  local mine = loads_of[t]
  if mine then
    loads_of[t] = nil
    for l in pairs(mine) do wake_load(l) end
  end
end

return M
