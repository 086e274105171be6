-- The public surface the fuzzer calls, found by walking ebb's module tables, the
-- metatables of every object they return and the tables an __index function
-- reads, so a new function is called without naming it here.
local index_methods = require("ebb.repl_complete").index_methods

local M = {}
-- the raw one: LuaJIT records getmetatable() of an io file wrongly (docs/luajit-differences.md)
local getmetatable = debug.getmetatable

-- The host's own parts, not modules a script uses (ebb.docs and ebb.reference: the
-- pages of docs/ that help() reads; task_*: ebb.task's, reached through it).
local INTERNAL = { boot = true, test = true, test_units = true, test_tasks = true, core = true, host = true,
  require = true, check = true, task_join = true, task_future = true, task_interval = true, docs = true,
  reference = true,
  http_client = true, http_server = true, http_request = true, http_response = true,
  http_client_response = true, net_tls = true }
INTERNAL.stream_lines = true -- the iterator of stream.lines and fs.lines, reached through them
INTERNAL.fs_tree, INTERNAL.fs_temp, INTERNAL.fs_watch = true, true, true -- parts of ebb.fs
INTERNAL.events_iter = true -- events.iter's iterator, reached through it
INTERNAL.net_udp = true -- net.udp's sockets, reached through ebb.net
INTERNAL.worker_thread, INTERNAL.worker_wire = true, true -- the worker threads' side of ebb.worker
INTERNAL.redis_resp, INTERNAL.redis_conn, INTERNAL.redis_client = true, true, true -- parts of ebb.redis
INTERNAL.redis_pool, INTERNAL.redis_pubsub, INTERNAL.redis_script = true, true, true
INTERNAL.semaphore_redis, INTERNAL.semaphore_redis_scripts, INTERNAL.semaphore_redis_grants = true, true, true -- semaphore.redis
INTERNAL.ratelimit_line, INTERNAL.ratelimit_redis = true, true -- parts of ebb.ratelimit
INTERNAL.retry_budget_redis = true -- retry.budget.redis
INTERNAL.redis_stream_queue = true -- redis.stream_queue
M.INTERNAL = INTERNAL

-- C halves called directly as well as through their modules: they take what a
-- peer sent (a Redis reply reader's bytes), which the module's own calls rarely make odd.
local CORES = { "redis" }
M.CORES = CORES

-- Every module compiled into ebb (`ebb.x`), but the host's own parts and the REPL's.
function M.modules()
  local list = {}
  for name in pairs(package.preload) do
    local short = name:match("^ebb%.([%w_]+)$")
    if short and not INTERNAL[short] and not short:match("^repl") then list[#list + 1] = short end
  end
  table.sort(list)
  return list
end

local surface = { list = {}, by_name = {}, metatables = {}, instances = {}, module_of = {} }

local function public(k) return type(k) == "string" and k:sub(1, 1) ~= "_" end
local function metamethod(k) return type(k) == "string" and k:sub(1, 2) == "__" end

-- kind: "function" (called as is), "method" (self first) or "metamethod" (self first,
-- and often given a self of another kind on purpose).
local function add(name, fn, kind, module, mt)
  local t = surface.by_name[name]
  if t then
    t.fn = fn -- a closure made again (an `off`): the newest one
    return t
  end
  t = { name = name, fn = fn, kind = kind, module = module, mt = mt, calls = 0 }
  surface.by_name[name] = t
  surface.list[#surface.list + 1] = t
  return t
end

-- pairs in the order of the keys' names: the order of LuaJIT's pairs changes
-- from run to run, and a seed must make the same calls.
local function sorted_pairs(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local i = 0
  return function()
    i = i + 1
    local k = keys[i]
    if k ~= nil then return k, t[k] end
  end
end

local walk_metatable

-- The functions of a table (a module, a class), and the metatables of its fields.
local function walk_table(prefix, t, module, seen)
  if seen[t] then return end
  seen[t] = true
  for k, v in sorted_pairs(t) do
    if public(k) then
      if type(v) == "function" then
        add(prefix .. "." .. k, v, "function", module)
      elseif type(v) == "table" then
        walk_table(prefix .. "." .. k, v, module, seen)
      end
    end
  end
  walk_metatable(prefix, t, module)
end

-- Every method and metamethod of v's metatable, once per metatable.
function walk_metatable(label, v, module)
  local mt = getmetatable(v)
  if type(mt) ~= "table" then return end
  local list = surface.instances[mt]
  if not list then
    list = {}
    surface.instances[mt] = list
  end
  list.kept = (list.kept or 0) + 1
  list[(list.kept - 1) % 8 + 1] = v
  if surface.metatables[mt] then return end
  local name = type(rawget(mt, "__name")) == "string" and rawget(mt, "__name") or label
  surface.metatables[mt] = name
  surface.module_of[mt] = module
  for k, f in sorted_pairs(mt) do
    if metamethod(k) and type(f) == "function" then
      add(name .. ":" .. k, f, "metamethod", module, mt)
    elseif public(k) and type(f) == "function" then
      add(name .. ":" .. k, f, "method", module, mt)
    end
  end
  local idx = rawget(mt, "__index")
  if type(idx) == "table" then
    for k, f in sorted_pairs(idx) do
      if public(k) and type(f) == "function" and not metamethod(k) then add(name .. ":" .. k, f, "method", module, mt) end
    end
  else
    local names = index_methods(v) or {}
    table.sort(names)
    for _, k in ipairs(names) do
      local f = v[k]
      if type(f) == "function" then add(name .. ":" .. k, f, "method", module, mt) end
    end
  end
end

-- Loads every module and walks it.
function M.discover()
  local seen = {}
  for _, m in ipairs(M.modules()) do
    walk_table(m, require("ebb." .. m), m, seen)
  end
  for _, m in ipairs(CORES) do
    walk_table(m .. ".core", require("ebb." .. m .. ".core"), m, seen)
  end
  local ebb = require "ebb"
  walk_table("ebb", ebb, "ebb", seen)
  for _, k in ipairs({ "stdin", "stdout", "stderr", "shutdown" }) do walk_metatable("ebb." .. k, ebb[k], "stdio") end
  return surface
end

-- What a call returned: objects join the surface through their metatables,
-- functions (an `off`, an iterator) as targets of their own.
function M.learn(target, v)
  local tv = type(v)
  if tv == "table" or tv == "userdata" then
    walk_metatable(target.name .. "()", v, target.module)
    -- the handles an object holds (its libuv handle, its file) are reachable too
    if tv == "table" then
      for k, x in sorted_pairs(v) do
        if type(x) == "userdata" then walk_metatable(target.name .. "()." .. tostring(k), x, target.module) end
      end
    end
  elseif tv == "function" then
    local info = debug.getinfo(v, "S")
    add(target.name .. "→" .. info.short_src .. ":" .. info.linedefined, v, "function", target.module)
  end
end

M.surface = surface
return M
