-- ebb.repl_inspect: how the REPL prints a value. Strings are quoted, tables
-- shown to a limited depth with their keys sorted, a table met again on its
-- own path marked <cycle>, errors with their cause chain, and long output cut.
local errors = require "ebb.errors"

local M = {}

local MAX_DEPTH = 3      -- nested tables deeper than this print as {...}
local MAX_ITEMS = 40     -- entries shown per table
local MAX_CHARS = 4000   -- of the whole output
local WIDTH = 72         -- a table that fits on one line stays on one

local function quote(s)
  local q = ("%q"):format(s):gsub("\\\n", "\\n"):gsub("\r", "\\r"):gsub("%z", "\\0")
  return q
end

local function ident(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil
end

local KIND = { number = 1, string = 2, boolean = 3 }
local function key_less(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return (KIND[ta] or 9) < (KIND[tb] or 9) end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

-- Known functions by name: the globals, the standard libraries and ebb's loaded modules.
local known, nloaded, renamed = nil, -1, {}
local function count_loaded()
  local n = 0
  for _ in pairs(package.loaded) do n = n + 1 end
  return n
end
local function known_name(f)
  if renamed[f] then return renamed[f] end
  if not known or (known[f] == nil and count_loaded() ~= nloaded) then -- a module loaded since
    nloaded = count_loaded()
    known = setmetatable({}, { __mode = "k" })
    for k, v in pairs(_G) do
      if type(v) == "function" then known[v] = k
      elseif type(v) == "table" and v ~= _G and type(k) == "string" then
        for k2, v2 in pairs(v) do
          if type(v2) == "function" and type(k2) == "string" then known[v2] = known[v2] or k .. "." .. k2 end
        end
      end
    end
    for name, m in pairs(package.loaded) do
      local short = type(name) == "string" and name:match("^ebb%.([%a_]+)$")
      if short and type(m) == "table" then
        for k, v in pairs(m) do
          if type(v) == "function" and type(k) == "string" then known[v] = short .. "." .. k end
        end
      end
    end
  end
  return known[f]
end

-- Functions print replaced in the REPL go by the name of what they replace.
function M.name_function(f, name)
  renamed[f] = name
end

local function func_name(f)
  local name = known_name(f)
  if name then return "function: " .. name end
  local info = debug.getinfo(f, "S")
  if info and info.what ~= "C" and info.short_src then
    return ("function: %s:%d"):format(info.short_src, info.linedefined)
  end
  return "function: builtin"
end

-- A metatable's own way of printing (an __tostring), if any.
local function custom_tostring(v)
  local mt = getmetatable(v)
  if type(mt) == "table" and rawget(mt, "__tostring") then
    local ok, s = pcall(tostring, v)
    if ok and type(s) == "string" then return s end
  end
end

local format

local function format_table(t, depth, path, indent)
  if errors.is_error(t) then return tostring(t) end
  local s = custom_tostring(t)
  if s then return s end
  if path[t] then return "<cycle>" end
  local mt = getmetatable(t)
  local name = type(mt) == "table" and type(rawget(mt, "__name")) == "string" and rawget(mt, "__name") .. " " or ""
  if next(t) == nil then return name .. "{}" end
  if depth >= MAX_DEPTH then return name .. "{...}" end
  path[t] = true
  local parts, n = {}, #t
  for i = 1, math.min(n, MAX_ITEMS) do parts[#parts + 1] = format(rawget(t, i), depth + 1, path, indent .. "  ") end
  local keys = {}
  for k in pairs(t) do
    if not (type(k) == "number" and k >= 1 and k <= n and k % 1 == 0) then keys[#keys + 1] = k end
  end
  table.sort(keys, key_less)
  local shown = #parts
  for _, k in ipairs(keys) do
    if shown >= MAX_ITEMS then break end
    shown = shown + 1
    local ks = ident(k) and k or "[" .. format(k, MAX_DEPTH, path, indent) .. "]"
    parts[#parts + 1] = ks .. " = " .. format(rawget(t, k), depth + 1, path, indent .. "  ")
  end
  local total = n + #keys
  if total > shown then parts[#parts + 1] = ("... (%d more)"):format(total - shown) end
  path[t] = nil
  local one = name .. "{ " .. table.concat(parts, ", ") .. " }"
  if #one + #indent <= WIDTH and not one:find("\n", 1, true) then return one end
  local inner = indent .. "  "
  -- short entries share lines, as many as fit
  local lines, line = {}, nil
  for i, p in ipairs(parts) do
    local piece = p .. (i < #parts and "," or "")
    if line and not p:find("\n", 1, true) and #p <= 16 and #line + 1 + #piece + #inner <= WIDTH then
      line = line .. " " .. piece
    else
      if line then lines[#lines + 1] = line end
      line = piece
    end
    if p:find("\n", 1, true) or #p > 16 then
      lines[#lines + 1] = line
      line = nil
    end
  end
  if line then lines[#lines + 1] = line end
  return name .. "{\n" .. inner .. table.concat(lines, "\n" .. inner) .. "\n" .. indent .. "}"
end

function format(v, depth, path, indent)
  local tv = type(v)
  if tv == "string" then return quote(v) end
  if tv == "table" then return format_table(v, depth, path, indent) end
  if tv == "function" then return func_name(v) end
  return errors._host.tostring(v) -- a userdata's __tostring may raise
end

local function shorten(s)
  if #s <= MAX_CHARS then return s end
  local cut = s:sub(1, MAX_CHARS)
  local lines = select(2, s:gsub("\n", "")) - select(2, cut:gsub("\n", ""))
  return cut .. ("\n... (output shortened: %d more characters, %d more lines)"):format(#s - MAX_CHARS, lines)
end

-- inspect(v) → a string
function M.inspect(v)
  return shorten(format(v, 0, {}, ""))
end

-- An error as the REPL shows it: Name: message, each cause, then where.
function M.error(e, tb)
  local head
  if errors.is_error(e) then head = tostring(e)
  elseif type(e) == "string" then head = "Error: " .. e
  else head = "Error: " .. M.inspect(e) end
  tb = (type(e) == "table" and rawget(e, "traceback")) or tb
  if type(tb) ~= "string" or tb == "" then return head end
  local at = tb:find("stack traceback:", 1, true)
  tb = at and tb:sub(at) or "stack traceback:\n" .. tb
  local kept = {}
  for line in tb:gmatch("[^\n]+") do
    if line:find("ebb/repl", 1, true) or line:find("ebb/task.lua", 1, true) or line:find("ebb/boot.lua", 1, true)
      or line:find("[C]: in function 'xpcall'", 1, true) then
      break
    end
    kept[#kept + 1] = line
  end
  if #kept <= 1 then return head end
  return shorten(head .. "\n" .. table.concat(kept, "\n"))
end

return M
