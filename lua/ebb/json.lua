-- ebb.json: JSON text to Lua values and back, in C on yajl (bindings/json*.c); here the
-- argument checks, and the errors, which say where (a line and column) and what.
local core = require "ebb.json.core"
local errors = require "ebb.errors"
local check = require "ebb.check"

local type, error, setmetatable, getmetatable = type, error, setmetatable, debug.getmetatable
local find, byte, format = string.find, string.byte, string.format
local c_encode, c_decode = core.encode, core.decode

local json = {}

json.null = core.null
local ARRAY = core.array_mt()

json.DecodeError = errors.class("JSONDecodeError")
json.EncodeError = errors.class("JSONEncodeError")

-- The line and column (in UTF-8 characters, from 1) of byte `pos` of text.
local function line_and_column(text, pos)
  local line, line_start = 1, 1
  while true do
    local nl = find(text, "\n", line_start, true)
    if not nl or nl >= pos then break end
    line, line_start = line + 1, nl + 1
  end
  local column = 1
  for i = line_start, pos - 1 do
    local b = byte(text, i)
    if b < 0x80 or b >= 0xC0 then column = column + 1 end -- not a continuation byte
  end
  return line, column
end

local function decode_error(text, msg, pos)
  local line, column = line_and_column(text, pos)
  return json.DecodeError(format("%s at line %d, column %d (byte %d)", msg, line, column, pos),
    { position = pos, line = line, column = column })
end

-- decode(text) -> the value; objects and arrays are tables (arrays marked so
-- they encode as arrays again), null is json.null.
function json.decode(text)
  if type(text) ~= "string" then check.expected(text, 1, "decode", "string") end
  local ok, v, pos = c_decode(text)
  if ok then return v end
  error(decode_error(text, v, pos), 2)
end

local kind = check.kind
local ENCODE = { indent = kind.whole(0, 10), sort_keys = kind.boolean }

-- encode(value [, {indent=, sort_keys=}]) -> JSON text
function json.encode(value, opts)
  local indent, sort_keys = 0, false
  if opts ~= nil then
    opts = check.options(opts, 2, "encode", ENCODE)
    indent, sort_keys = opts.indent or 0, opts.sort_keys or false
  end
  local s, msg, path = c_encode(value, indent, sort_keys)
  if s then return s end
  error(json.EncodeError(msg .. " at " .. (path or "$"), { path = path or "$" }), 2)
end

-- array([t]) -> t (a new table without t), marked to encode as an array even empty.
function json.array(t)
  if t == nil then return setmetatable({}, ARRAY) end
  if type(t) ~= "table" then check.expected(t, 1, "array", "table") end
  local mt = getmetatable(t)
  if mt ~= nil and mt ~= ARRAY then check.badarg(1, "array", "table without a metatable expected") end
  return setmetatable(t, ARRAY)
end

-- Whether t is a table marked as an array (by json.array, or decoded from one).
function json.is_array(t)
  return type(t) == "table" and getmetatable(t) == ARRAY
end

return json
