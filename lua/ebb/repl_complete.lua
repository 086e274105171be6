-- ebb.repl_complete: what Tab offers. A name completes from the session's
-- locals, the globals, ebb's modules and Lua's keywords; `a.b.<prefix>` from
-- the fields of a.b (and of its metatable's __index tables), `a:<prefix>`
-- from the methods of a. Nothing here calls a function or an __index function.
local M = {}

local KEYWORDS = {
  "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
  "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
}

-- The fields of v a program could read with `.` (methods only for `:`).
local function fields(v, methods_only, out, seen)
  seen = seen or {}
  if seen[v] then return out end
  seen[v] = true
  if type(v) == "table" then
    for k, x in pairs(v) do
      if type(k) == "string" and (not methods_only or type(x) == "function") then out[k] = true end
    end
  end
  local mt = getmetatable(v)
  if type(mt) == "table" then
    local idx = rawget(mt, "__index")
    if type(idx) == "table" then fields(idx, methods_only, out, seen) end
    local extra = rawget(mt, "__fields") -- lazy tables name what __index would make
    if type(extra) == "table" then
      for _, k in ipairs(extra) do out[k] = true end
    end
  end
  return out
end

-- The public methods of v when its __index is a function (a Task, a
-- semaphore): the functions of the tables that function reads.
function M.index_methods(v)
  local mt = getmetatable(v)
  local idx = type(mt) == "table" and rawget(mt, "__index")
  if type(idx) ~= "function" then return nil end
  local list = {}
  for i = 1, 64 do
    local name, up = debug.getupvalue(idx, i)
    if not name then break end
    if type(up) == "table" and up ~= _G then
      for k, f in pairs(up) do
        if type(k) == "string" and type(f) == "function" and k:sub(1, 1) ~= "_" then list[#list + 1] = k end
      end
    end
  end
  return list
end

-- complete(text, session) → the candidates for `text`, the word before the cursor.
-- session: { names = function() → set of top-level names, lookup = function(name) → value,
--            field = function(t, k) → t.k without side effects but loading a module,
--            methods = function(v) → table of extra method names or nil }
function M.complete(text, session)
  local out = {}
  local path, sep, partial = text:match("^([%a_][%w_%.:]-)([%.:])([%a_]?[%w_]*)$")
  local names
  if not sep then
    if not text:match("^[%a_]?[%w_]*$") then return out end
    partial, names = text, session.names()
    for _, k in ipairs(KEYWORDS) do names[k] = true end
  else
    local v
    for part, i in path:gmatch("([^%.:]+)()") do
      if v == nil and i == #part + 1 then
        v = session.lookup(part)
      elseif type(v) == "table" then
        v = session.field(v, part)
        if v == nil then return out end
      else
        return out
      end
      if v == nil then return out end
    end
    names = fields(v, sep == ":", {})
    local more = session.methods(v)
    for _, k in ipairs(more or {}) do names[k] = true end
  end
  for k in pairs(names) do
    if k:sub(1, #partial) == partial and k:match("^[%a_][%w_]*$") then
      out[#out + 1] = (sep and path .. sep or "") .. k
    end
  end
  table.sort(out)
  return out
end

return M
