-- ebb.repl: the interactive loop, in the root task. Each input is compiled
-- (ebb.repl_compile), run in a task of its own that the REPL awaits, and its
-- values printed (ebb.repl_inspect). Ctrl-C cancels the running input; a
-- second one leaves it running in the background. The terminal (line editing,
-- history, output above the prompt) is bindings/repl.c, ebb.repl.core.
local core = require "ebb.repl.core"
local task = require "ebb.task"
local errors = require "ebb.errors"
local compile = require("ebb.repl_compile").compile
local inspect = require "ebb.repl_inspect"
local index_methods = require("ebb.repl_complete").index_methods
local complete = require("ebb.repl_complete").complete
local help = require "ebb.repl_help"
local ebb = require "ebb"
local host_core = require "ebb.core"

local M = {}

local PROMPT, MORE = "> ", "... "
local HISTORY_SIZE = 1000
local ABANDONED = {}

local raw_print, raw_write = print, io.write
local function out(s) raw_write(s, "\n") end

-- ---- the session: locals declared at the prompt, then globals, then modules ----
local modules = {}
for _, page in ipairs((require("ebb.reference").modules())) do
  if page.module ~= "ebb" then modules[page.module] = true end
end

local declared, locals = {}, {}
local builtins = {
  ebb = ebb,
  help = function(...) help.help(ebb, select("#", ...), ...) end,
}
local env = setmetatable({}, {
  __index = function(_, k)
    if declared[k] then return locals[k] end
    local v = _G[k]
    if v ~= nil then return v end
    if builtins[k] ~= nil then return builtins[k] end
    if modules[k] then return ebb[k] end
  end,
  __newindex = function(_, k, v)
    if declared[k] then locals[k] = v else _G[k] = v end
  end,
})

-- ---- completion: the ebb table's own fields and lazy ones (its metatable's
-- __fields) come with it, its modules from the reference ----
local session = {}
function session.names()
  local set = {}
  for k in pairs(declared) do set[k] = true end
  for k in pairs(_G) do if type(k) == "string" then set[k] = true end end
  for k in pairs(builtins) do set[k] = true end
  for k in pairs(modules) do set[k] = true end
  return set
end
function session.lookup(name) return env[name] end
function session.field(t, k)
  if t == ebb and (modules[k] or k == "version") then return ebb[k] end
  local v = rawget(t, k)
  if v == nil then
    local mt = getmetatable(t)
    local idx = type(mt) == "table" and rawget(mt, "__index")
    if type(idx) == "table" then v = rawget(idx, k) end
  end
  return v
end
-- An object whose __index is a function (a Task, a semaphore): its methods
-- are the functions of the tables that function reads.
function session.methods(v)
  if v == ebb then
    local list = {}
    for k in pairs(modules) do list[#list + 1] = k end
    return list
  end
  return index_methods(v)
end

local function completer(text) return complete(text, session) end

-- ---- output while the prompt is shown goes above it ----
local function join(sep, ...)
  local n, parts = select("#", ...), {}
  for i = 1, n do parts[i] = tostring((select(i, ...))) end
  return table.concat(parts, sep)
end

local function hook_output()
  print = function(...)
    if not core.showing() then return raw_print(...) end
    core.write(join("\t", ...) .. "\n", 1)
  end
  inspect.name_function(print, "print")
  io.write = function(...)
    if not core.showing() then return raw_write(...) end
    core.write(join("", ...), 1)
    return io.stdout
  end
  inspect.name_function(io.write, "io.write")
  local methods = getmetatable(io.stdout).__index
  local file_write = methods.write
  methods.write = function(f, ...)
    if core.showing() and (f == io.stdout or f == io.stderr) then
      core.write(join("", ...), f == io.stderr and 2 or 1)
      return f
    end
    return file_write(f, ...)
  end
  -- ebb.stdout/stderr write through the same path (a terminal needs no backpressure)
  for fd, name in ipairs { "stdout", "stderr" } do
    rawset(ebb, name, {
      name = name, writable = true, readable = false,
      write = function(_, chunk) core.write(tostring(chunk), fd) end,
      finish = function() end, close = function() end,
    })
  end
  require("ebb.host").set_unhandled_hook(function(t, e, tb, what)
    core.write(("Uncaught error in %s:\n%s\n"):format(t and tostring(t) or what or "an abort listener",
      inspect.error(e, tb)), 2)
    return true
  end)
end

-- ---- running an input ----
local running -- { task =, done = a future, interrupts = n }

local function interrupt()
  local r = running
  if not r then return true end
  r.interrupts = r.interrupts + 1
  raw_write("\n")
  if r.interrupts == 1 then
    r.task:cancel(errors.AbortError("interrupted (Ctrl-C)"))
  else
    pcall(r.done.resolve, r.done, ABANDONED)
  end
  return true
end

local function show_results(r)
  if r.n < 1 then return end
  locals._, declared._ = r[1], true
  local parts, multi = {}, false
  for i = 1, r.n do
    parts[i] = inspect.inspect(r[i])
    multi = multi or parts[i]:find("\n", 1, true) ~= nil
  end
  out(table.concat(parts, multi and "\n" or "\t"))
end

-- An xpcall handler, and what it noted: where a plain error was raised (no
-- tostring: a raising __tostring would replace the error).
local function noting_traceback()
  local tb
  return function(e)
    if type(e) ~= "table" then tb = debug.traceback("", 2) end
    return e
  end, function() return tb end
end

local function run(fn, names)
  local newly = {}
  for _, n in ipairs(names) do
    if not declared[n] then
      declared[n] = true
      newly[#newly + 1] = n
    end
  end
  setfenv(fn, env)
  -- interpreted, with the functions it defines: Ctrl-C reaches running Lua
  -- code through a hook, which LuaJIT's compiled loops never call
  jit.off(fn, true)
  local done = task.future()
  local on_error, traceback_of = noting_traceback()
  local t = task.spawn(function()
    local r = { n = 0 }
    local function keep(ok, ...)
      r.ok, r.n = ok, select("#", ...)
      for i = 1, r.n do r[i] = (select(i, ...)) end
    end
    keep(xpcall(fn, on_error))
    pcall(done.resolve, done, r)
  end)
  running = { task = t, done = done, interrupts = 0 }
  local r = done:await()
  running = nil
  if r == ABANDONED then
    out("(the input goes on in the background: " .. tostring(t) .. ")")
    return
  end
  if r.ok then return show_results(r) end
  for _, n in ipairs(newly) do
    if locals[n] == nil then declared[n] = nil end
  end
  local e = r[1]
  if errors.is(e, errors.AbortError) and e.message == "interrupted (Ctrl-C)" then
    out("interrupted")
  else
    io.stdout:flush()
    io.stderr:write(inspect.error(e, traceback_of()), "\n")
  end
end

local function history_file()
  local path = os.getenv("EBB_HISTORY")
  if path then return path ~= "" and path or nil end
  local home = os.getenv("HOME")
  return home and home ~= "" and home .. "/.ebb_history" or nil
end

-- main(private, chunks, ...): the chunks of `ebb -i script` first (an error
-- is reported and the REPL still opens), then the prompt until Ctrl-D.
function M.main(private, chunks, ...)
  for i = 1, #chunks do
    local on_error, traceback_of = noting_traceback()
    local ok, e = xpcall(chunks[i], on_error, ...)
    if not ok then io.stderr:write(inspect.error(e, traceback_of()), "\n") end
  end
  io.stdout:flush()
  local tty = core.start(history_file(), HISTORY_SIZE, completer)
  private.on_interrupt = interrupt
  hook_output()
  local buffer, ctrl_c = nil, false
  while true do
    local line, typed = core.readline(buffer and MORE or PROMPT)
    if line == nil then
      if tty then out("") end
      break
    elseif line == false then
      out("")
      if buffer == nil and typed == "" then
        if ctrl_c then break end
        ctrl_c = true
        out("(To exit, press Ctrl+C again or Ctrl+D)")
      end
      buffer = nil
    else
      ctrl_c = false
      if line:match("%S") then core.add_history(line) end
      local src = buffer and buffer .. "\n" .. line or line
      buffer = nil
      if src:match("%S") then
        if src:match("^%s*=") then src = src:gsub("^%s*=", "return ", 1) end
        local fn, names, incomplete = compile(src, "=stdin")
        if fn then
          run(fn, names)
        elseif incomplete then
          buffer = src
        else
          io.stdout:flush()
          io.stderr:write("syntax error: ", names, "\n")
        end
      end
    end
  end
  private.on_interrupt = nil
  core.stop()
  os.exit()
end

return M
