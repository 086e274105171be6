-- ebb.repl_help: help(x) in the REPL, read from the reference (docs/, through
-- ebb.reference): help() lists the modules, help(task) a module's entries,
-- help(task.sleep), help(t.await) or help("Task:await") an entry's heading and
-- first paragraph, help(t) the entries of t's type (for an error, its class's entry;
-- for an object with no methods, the entry of what makes it).
local reference = require "ebb.reference"

local M = {}

local function out(s) print(s) end

local function first_sentence(s)
  s = s:gsub("%s+", " ")
  return s:match("^(.-%.)%s") or s
end

-- s in lines of at most `width` columns, the ones after the first indented by `indent`.
local function wrap(s, indent, width)
  local lines, line = {}, ""
  for word in s:gmatch("%S+") do
    if line ~= "" and #line + 1 + #word > width - indent then
      lines[#lines + 1], line = line, word
    else
      line = line == "" and word or line .. " " .. word
    end
  end
  lines[#lines + 1] = line
  return table.concat(lines, "\n" .. (" "):rep(indent))
end

-- The table of a page's module, if loaded: help loads nothing to answer.
local function module_table(page, ebb)
  if page.module == "ebb" then return ebb end
  return rawget(ebb, page.module) or package.loaded["ebb." .. page.module]
end

-- The entries for x, a field of a module (`task.sleep`, `errors.TimeoutError`,
-- `retry.budget.redis`), or
-- the function of a callable module (`retry`).
local function field_entries(x, ebb)
  return reference.entries(function(e, page)
    local mod = module_table(page, ebb)
    if type(mod) ~= "table" then return false end
    if e.name == page.module then
      local mt = getmetatable(mod)
      return type(mt) == "table" and rawget(mt, "__call") == x
    end
    local prefix, path = e.name:match("^([%w_]+)%.([%w_.]+)$")
    return prefix == page.module and reference.field(mod, path) == x
  end)
end

-- Where fn is kept: { { key =, name = }, ... }, key being fn's name in a table
-- reachable from ebb's modules (fields, metatables, upvalues) or from the
-- metatables the C side registered, and name the name that table was reached
-- by ("Task" for the upvalue holding Task's methods). Nothing is called.
local MAX_VISITS = 20000
local function owners(fn)
  local found, seen, queue = {}, { [_G] = true, [package.loaded] = true }, {}
  local function push(v, name)
    if (type(v) == "table" or type(v) == "function") and not seen[v] then
      seen[v] = true
      queue[#queue + 1] = { v, name }
    end
  end
  for name, m in pairs(package.loaded) do
    if type(name) == "string" and (name == "ebb" or name:sub(1, 4) == "ebb.") then push(m, name) end
  end
  for key, mt in pairs(debug.getregistry()) do
    if type(key) == "string" and type(mt) == "table" then
      local tname = rawget(mt, "__name")
      push(mt, type(tname) == "string" and tname or key)
    end
  end
  local i = 1
  while queue[i] and i <= MAX_VISITS do
    local v, name = queue[i][1], queue[i][2]
    i = i + 1
    if type(v) == "table" then
      for k, f in next, v do
        local public = type(k) == "string" and k:sub(1, 1) ~= "_"
        if f == fn and public then found[#found + 1] = { key = k, name = name } end
        push(f, public and k or name)
      end
      push(debug.getmetatable(v), name)
    else
      for j = 1, 255 do
        local up_name, up = debug.getupvalue(v, j)
        if not up_name then break end
        push(up, up_name ~= "" and up_name or name)
      end
    end
  end
  return found
end

-- Whether the entry's type could be the table reached by `name` (Controller:
-- AbortController; TaskMT: Task; RequestMethods: Request; ebb.abort.signal: AbortSignal).
local function type_matches(tname, name)
  name = name:gsub("MT$", ""):gsub("Methods$", ""):gsub("^.*%.", ""):lower()
  return #name > 0 and tname:lower():sub(-#name) == name
end

-- The entries for x, a method of an object (`Task:await`): those of the type
-- x was found under, else those of x's own module with its name, else all
-- with its name.
local function method_entries(x)
  local src = debug.getinfo(x, "S").source:match("^@ebb/([%w_]+)%.lua$")
  local best, same_page, any, taken = {}, {}, {}, {}
  for _, o in ipairs(owners(x)) do
    reference.entries(function(e, page)
      local tname, k = e.name:match("^([%w_]+)[:%.]([%w_]+)$")
      if k ~= o.key or tname == page.module or taken[e] then return false end
      taken[e] = true
      any[#any + 1] = e
      if page.module == src then same_page[#same_page + 1] = e end
      if type_matches(tname, o.name) then best[#best + 1] = e end
      return false
    end)
  end
  return #best > 0 and best or #same_page > 0 and same_page or any
end

-- The entries of a type ("Task"): its methods and fields.
local function type_entries(tname)
  return reference.entries(function(e) return e.name:match("^([%w_]+)[:%.]") == tname end)
end

-- The type of an object: its metatable's __name, else the word its own
-- tostring starts with (not "table", which every plain table's starts with).
local function type_of(v)
  local mt = debug.getmetatable(v)
  local tname = type(mt) == "table" and rawget(mt, "__name")
  if type(tname) == "string" then return tname end
  if type(mt) ~= "table" or rawget(mt, "__tostring") == nil then return nil end
  local ok, s = pcall(tostring, v)
  return ok and type(s) == "string" and s:match("^([%a_][%w_]*)") or nil
end

-- The entries of the functions that make a tname (`stream.transform` for a
-- Transform, which has no methods of its own).
local function maker_entries(tname)
  local tail = " → " .. tname
  return reference.entries(function(e) return e.heading:sub(-#tail) == tail end)
end

-- For an error, the entry of its class (`errors.TimeoutError`, `channel.ClosedError`),
-- else, for a class made by `errors.class`, `errors.Error`'s.
local function error_class_entry(x, ebb)
  local errors = package.loaded["ebb.errors"]
  if not (errors and errors.is_error(x)) then return {} end
  local list = field_entries(getmetatable(x).__index, ebb) -- an error's __index is its class
  if #list == 0 then list = field_entries(errors.Error, ebb) end
  return { list[1] }
end

local WIDTH = 90

local function show_entries(list)
  for i, e in ipairs(list) do
    if i > 1 then out("") end
    out(e.heading)
    if e.text ~= "" then out(e.text) end
    if e.args then out((e.args:gsub("^%*%*(.-)%*%*", "%1"))) end
    out("(the whole entry: " .. e.file .. ")")
  end
end

local function show_module(page)
  out(wrap(page.title .. ": " .. page.summary, 0, WIDTH))
  local call
  for _, e in ipairs(page.entries) do
    out("  " .. e.heading)
    if e.name == page.module then call = e end
  end
  out("(help(\"name\") for one of them; the whole page: " .. page.file .. ")")
  -- a module that is a function (retry): its name is the module's, so its entry goes here
  if call then
    out("")
    show_entries({ call })
  end
end

local function show_headings(tname, list)
  out("The methods and fields of " .. tname .. " (" .. list[1].file .. "):")
  for _, e in ipairs(list) do out("  " .. e.heading) end
end

local function overview(ebb)
  out("ebb " .. tostring(ebb.version) .. ": Lua on an event loop. Every module is a global here:")
  for _, page in ipairs((reference.modules())) do
    if page.module ~= "ebb" then out(("  %-10s %s"):format(page.module, wrap(first_sentence(page.summary), 13, WIDTH))) end
  end
  out(wrap("help(task), help(task.sleep), help(\"Task:await\"), help(t) for an object: more; "
    .. "help(ebb): ebb's own fields. The whole reference is in docs/ (docs/README.md; the rules "
    .. "every module follows: docs/rules.md). Tab completes; Ctrl-C cancels a running input; Ctrl-D "
    .. "(or Ctrl-C twice at an empty prompt) exits. `local` at the prompt persists.", 0, WIDTH))
end

local function help_name(x, ebb)
  local _, by_module = reference.modules()
  local page = by_module[x] or by_module[x:match("^ebb%.([%w_]+)$") or false]
  if page then return show_module(page) end
  local list = reference.entries(function(e) return e.name == x end)
  if #list > 0 then return show_entries(list) end
  list = type_entries(x)
  if #list > 0 then return show_headings(x, list) end
  out("no help for " .. x .. " (help() lists the modules)")
end

-- help(x): x is nothing (n == 0), a module, a function, an object, or a name
-- ("task.sleep"); a nil given (a misspelt name) is not nothing.
function M.help(ebb, n, x)
  if n == 0 then return overview(ebb) end
  if x == nil then return out("no help for nil (a misspelt name?); help() lists the modules") end
  if type(x) == "string" then return help_name(x, ebb) end
  for _, page in ipairs((reference.modules())) do
    if module_table(page, ebb) == x then return show_module(page) end
  end
  local list = field_entries(x, ebb)
  if type(x) == "function" and #list == 0 then list = method_entries(x) end
  if #list > 0 then return show_entries(list) end
  if type(x) ~= "function" then
    local tname = type_of(x)
    list = tname and type_entries(tname) or list
    if #list > 0 then return show_headings(tname, list) end
    list = error_class_entry(x, ebb)
    if #list == 0 and tname then list = maker_entries(tname) end
    if #list > 0 then return show_entries(list) end
  end
  out("no help for this " .. type(x))
end

return M
