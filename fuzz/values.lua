-- Random arguments for the fuzzer: every Lua type, the numbers and strings that
-- break C boundaries, option tables, functions that wait or fail, and objects
-- ebb returned earlier. Also what keeps the effects harmless: paths inside a
-- scratch directory, loopback hosts, a few commands that do nothing.
local task = require "ebb.task"
local abort = require "ebb.abort"

local M = { pool = {}, controllers = {} }
local random = math.random

local NUMBERS = {
  0, 1, -1, 2, 3, 0.5, -0.5, 1.5, 1e-300, 100, 1000, 65535, 65536, 2 ^ 31 - 1, 2 ^ 31, 2 ^ 32,
  2 ^ 53, 2 ^ 53 + 2, 2 ^ 63, -2 ^ 63, 2 ^ 64, 1e308, -1e308, math.huge, -math.huge, 0 / 0, -0.0,
}

local WORDS = {
  "", "a", "r", "w", "a+", "rb", "wx", "full", "equal", "none", "decorrelated", "pipe", "inherit",
  "ignore", "SIGTERM", "SIGKILL", "SIGNOPE", "pending", "signal", "timeout", "read", "write",
  "close", "__index", "__gc", "*a", "*l", "utf8", "\0", "a\0b", "%s%d%n", "\255\254",
  -- fields objects answer to (an __index in C reads self for these)
  "aborted", "reason", "status", "available", "waiting", "pending", "active", "port", "pid",
  "closed", "settled", "message", "cause", "traceback", "errors", "code", "path", "stdin",
  "stdout", "stderr", "capacity", "concurrency", "paused", "disposed", "value",
}

-- Every name the surface has (method and function names) is a word too.
function M.learn_words(surface)
  local seen = {}
  for _, w in ipairs(WORDS) do seen[w] = true end
  for _, t in ipairs(surface.list) do
    local word = t.name:match("[%.:]([%w_]+)$")
    if word and not seen[word] then
      seen[word] = true
      WORDS[#WORDS + 1] = word
    end
  end
end

M.OPTIONS = {
  "signal", "timeout", "priority", "high_water_mark", "recursive", "input", "cwd", "env", "stdio",
  "kill_signal", "retries", "base", "cap", "jitter", "should_retry", "on_retry", "max_elapsed",
  "delay", "budget", "random", "name", "default", "cause", "interval", "nodelay", "flags", "mode",
  "group", "capacity", "retry_cost", "timeout_cost", "refund", "append", "encoding", "stdin", "stdout",
}

function M.number()
  local r = random()
  if r < 0.5 then return NUMBERS[random(#NUMBERS)] end
  if r < 0.8 then return random(-3, 20) end
  return (random() - 0.3) * 10 ^ random(0, 12)
end

function M.string()
  local r = random()
  if r < 0.4 then return WORDS[random(#WORDS)] end
  if r < 0.9 then
    local n, b = random(0, 24), {}
    for i = 1, n do b[i] = string.char(random() < 0.1 and 0 or random(32, 126)) end
    return table.concat(b)
  end
  if r < 0.98 then return string.rep("x", random(1000, 70000)) end
  return string.rep("\0y", random(2 ^ 20, 2 ^ 22))
end

-- Bytes a Redis server might send, whole, cut short or wrong: a reply reader's input.
local RESP = { "+OK\r\n", "-ERR no\r\n", ":12\r\n", ":-9223372036854775808\r\n", ":99999999999999999999\r\n",
  "$3\r\nabc\r\n", "$-1\r\n", "$-2\r\n", "$5\r\nab", "$99999999\r\n", "*2\r\n", "*1\r\n", "*0\r\n", "*-1\r\n",
  "*2147483648\r\n", "\r\n", "?\r\n", "+\0\r\n" }

function M.resp()
  local b = {}
  for i = 1, random(1, 24) do b[i] = RESP[random(#RESP)] end
  local s = table.concat(b)
  return random() < 0.8 and s or s:sub(1, random(0, #s))
end

-- A function given as an argument: a callback, a step, a body, a predicate.
-- What it returns, raises or sleeps is drawn now: calls run in an order I/O
-- decides, and drawing then would make a seed's later calls differ.
function M.func(depth)
  local r = random(1, 12)
  local v = depth < 2 and M.value(depth + 1) or nil
  local ms = random(0, 50)
  if r == 1 then return function() end end
  if r == 2 then return function(...) return ... end end
  if r == 3 then return function() return v end end
  if r == 4 then return function() error(v, 0) end end
  if r == 5 then return function() error("fuzz callback failed") end end
  if r == 6 then return function() task.sleep(ms) return v end end
  if r == 7 then return function() task.yield() end end
  if r == 8 then return function() coroutine.yield() end end
  if r == 9 then return function(x) if type(x) == "function" then return x(v) end end end
  if r == 10 then return function() return "chunk" end end
  if r == 11 then return function() local n = 0 return function() n = n + 1 if n < 3 then return "c" .. n end end end end
  return function(yield) if type(yield) == "function" then yield("a") yield("b") end end
end

-- A signal that aborts now, soon, or when the batch decides.
function M.signal()
  local r = random()
  if r < 0.25 then return abort.aborted(M.value(2)) end
  if r < 0.6 then return abort.timeout(random(0, 30)) end
  local ctl = abort.controller()
  M.controllers[#M.controllers + 1] = ctl
  return ctl.signal
end

function M.options()
  local t = {}
  for _ = 1, random(1, 3) do
    local k = M.OPTIONS[random(#M.OPTIONS)]
    local r = random()
    if k == "signal" and r < 0.7 then
      t[k] = M.signal()
    elseif r < 0.5 then
      t[k] = random(0, 100)
    else
      t[k] = M.value(2)
    end
  end
  return t
end

local function other(depth)
  local r = random(1, 9)
  if r == 1 then return io.stdout end
  if r == 6 then return setmetatable({}, { __index = M.func(depth) }) end
  if r == 2 then return newproxy(random() < 0.5) end
  if r == 3 then return coroutine.create(function() end) end
  if r == 4 then
    local co = coroutine.create(function() end)
    coroutine.resume(co)
    return co
  end
  if r == 5 then return task.spawn(task.sleep, random(0, 20)) end
  if r == 7 then return require "ebb" end
  if r == 8 then return M.signal() end
  return require("ebb." .. ({ "task", "abort", "fs", "stream", "errors" })[random(5)])
end

function M.value(depth)
  depth = depth or 0
  local r = random(1, 20)
  if r <= 2 then return nil end
  if r == 3 then return random() < 0.5 end
  if r <= 7 then return M.number() end
  if r <= 10 then return M.string() end
  if r == 11 and depth < 2 then
    local t = {}
    for i = 1, random(0, 4) do t[i] = M.value(depth + 1) end
    return t
  end
  if r == 12 then return M.options() end
  if r == 13 then return M.func(depth) end
  if r == 14 then return other(depth) end
  local i = random(1, 2 ^ 30) -- drawn even when the pool is empty: the same draws each run
  if r <= 18 and #M.pool > 0 then return M.pool[i % #M.pool + 1] end
  return M.signal()
end

-- Keeps objects a call returned, to be given to later calls.
function M.remember(v)
  local tv = type(v)
  if tv ~= "table" and tv ~= "userdata" and tv ~= "function" and tv ~= "thread" then return end
  if v == M.root then return end -- cancelling the fuzzer's own task would end the run
  M.kept = (M.kept or 0) + 1
  M.pool[(M.kept - 1) % 200 + 1] = v
end

-- ---- keeping effects harmless ----

local SAFE_HOSTS = { "127.0.0.1", "localhost", "::1", "", "127.0.0.1\0evil", "300.1.1.1", "::g", 5 }
local SAFE_COMMANDS = { "true", "false", "echo", "cat" }

M.scratch = nil -- the fuzz run's own directory
M.ports = {}    -- ports our own servers listen on

-- A path inside the scratch directory: a string's slashes flattened, NULs kept.
local function inside(s)
  if type(s) ~= "string" then return s end
  return M.scratch .. "/" .. (s:gsub("/", "_"):gsub("^%.%.?$", "_"):sub(1, 300))
end

local function safe_port(v)
  local r, i = random(), random(1, 2 ^ 30)
  if r < 0.4 and #M.ports > 0 then return M.ports[i % #M.ports + 1] end
  if r < 0.7 then return 0 end
  if type(v) == "number" and (v ~= v or v < 0 or v > 65535 or v % 1 ~= 0) then return v end
  return ({ "x", -1, 0 / 0, 70000, 1.5, math.huge })[random(6)]
end

local function sandbox_options(o)
  if type(o) == "table" and getmetatable(o) == nil then
    if o.cwd ~= nil then o.cwd = inside(o.cwd) end
  end
  return o
end

-- Rewrites the arguments of a call into fs, net or process so that it touches
-- only the scratch directory, loopback and harmless commands; returns the count
-- of arguments when it adds some.
function M.sandbox(target, args, n)
  local name, module = target.name, target.module
  if module == "fs" and name:find("temp_", 1, true) then
    -- a name's prefix, not a path; made in the scratch directory whatever the options say
    if type(args[1]) == "string" then args[1] = args[1]:gsub("/", "_") end
    if args[2] == nil then args[2] = {} end
    if type(args[2]) == "table" and getmetatable(args[2]) == nil then args[2].dir = M.scratch end
    return math.max(n, 2) -- the options are passed even when the call had fewer arguments
  elseif module == "fs" and target.kind == "function" then
    if random() < 0.7 then args[1] = random() < 0.7 and WORDS[random(1, 6)] or M.string() end
    for i = 1, n do args[i] = inside(args[i]) end
  elseif module == "net" and target.kind == "function" then
    args[1] = SAFE_HOSTS[random(#SAFE_HOSTS)]
    args[2] = safe_port(args[2])
  elseif module == "net" and target.kind == "method" and (name:find(":bind$") or name:find(":connect$")) then
    args[1] = SAFE_HOSTS[random(#SAFE_HOSTS)] -- a UDP socket's
    args[2] = safe_port(args[2])
  elseif module == "net" and target.kind == "method" and name:find(":send$") then
    if random() < 0.7 then -- a UDP socket's send(data, host, port [, signal]), else send(data [, signal])
      args[2] = SAFE_HOSTS[random(#SAFE_HOSTS)]
      args[3] = safe_port(args[3])
    elseif type(args[2]) == "string" then
      args[2] = nil
    end
  elseif module == "net" and target.kind == "method" and name:find("_membership$") then
    -- joined on loopback only: on another interface the kernel announces it (IGMP)
    args[1] = ({ "239.255.42.99", "127.0.0.1", "::g", 5 })[random(4)]
    args[2] = ({ "127.0.0.1", "300.1.1.1", 5 })[random(3)]
  elseif module == "http" and name:find("fetch", 1, true) then
    -- loopback only: any other host would be looked up in the DNS
    local host = ({ "127.0.0.1", "[::1]", "localhost" })[random(3)]
    local path = random() < 0.5 and "/" or "/" .. (M.string():gsub("[^%w/]", ""))
    args[1] = random() < 0.9 and ("http://%s:%s%s"):format(host, tostring(safe_port(args[2])), path)
      or ({ "http://127.0.0.1\0evil/", "file:///etc/hostname", "ftp://127.0.0.1/", 5 })[random(4)]
  elseif module == "process" and target.kind == "function" then
    args[1] = random() < 0.9 and SAFE_COMMANDS[random(#SAFE_COMMANDS)] or inside(args[1])
    for i = 3, n do args[i] = sandbox_options(args[i]) end
  elseif module == "redis" and name:find(":feed$") then
    if random() < 0.8 then args[1] = M.resp() end
    if random() < 0.8 then args[2] = {} end
    return math.max(n, 2)
  elseif name:find("kill", 1, true) then
    args[2] = ({ "SIGTERM", "SIGKILL", 15, 9, 0, -1, "SIGNOPE", 0 / 0, nil })[random(9)]
  end
end

return M
