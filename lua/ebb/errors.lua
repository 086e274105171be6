-- ebb.errors: the error classes every ebb module raises (Error, AbortError, TimeoutError, ...)
-- and the helpers that build, inspect and print them (cause chains, creation-site tracebacks).
local check = require "ebb.check"

local getmetatable = debug.getmetatable

local errors = {}

-- Private marks kept in metatables, so only this module's classes and errors are recognised.
local ERROR, CLASS = {}, {}

local function class_of(v)
  if type(v) ~= "table" then return nil end
  local mt = getmetatable(v)
  if type(mt) == "table" and rawget(mt, "mark") == ERROR then return rawget(mt, "class") end
  return nil
end

local function is_class(v)
  local mt = type(v) == "table" and getmetatable(v)
  return type(mt) == "table" and rawget(mt, "mark") == CLASS
end

-- A field of a table given, of the wrong kind: "field 'name' must be a string, got
-- number", as an option's kind is worded.
local function bad_field(fname, n, field, why, level)
  check.badarg(n, fname, ("field '%s'%s"):format(field, why), level + 1)
end

-- e, then its causes, stopping at a non-Error, a missing cause or an error seen before.
local function links(e)
  local list, n, seen = {}, 0, {}
  repeat
    n = n + 1
    list[n] = e
    if not class_of(e) then break end
    seen[e] = true
    e = e.cause
  until e == nil or seen[e]
  return list, n
end

-- tostring that never raises (a cause or message may have a __tostring that does),
-- so printing an error never loses it.
local function safe_tostring(v)
  local ok, s = pcall(tostring, v)
  if not ok then return "(" .. type(v) .. " whose __tostring raised: " .. (type(s) == "string" and s or type(s)) .. ")" end
  if type(s) ~= "string" then return "(" .. type(v) .. " whose __tostring returned a " .. type(s) .. ")" end
  return s
end

-- Like JavaScript's Error.prototype.toString: an empty message prints the name alone.
local function header(v)
  if not class_of(v) then return safe_tostring(v) end
  local name, message = safe_tostring(v.name), safe_tostring(v.message)
  if message == "" then return name end
  if name == "" then return message end
  return name .. ": " .. message
end

local function format(e)
  local lines, n = links(e)
  for i = 1, n do lines[i] = header(lines[i]) end
  return table.concat(lines, "\ncaused by: ")
end

-- Inside ebb, a cheaper traceback that leaves out the host's own frames.
local host_core = package.loaded["ebb.core"]
local host_traceback = type(host_core) == "table" and host_core.traceback or nil

-- Levels below count from create: 1 is create, 2 the public entry point, 3 its caller.
local function create(C, fname, message, pos, opts, fields)
  local cm = getmetatable(C)
  if message == nil then
    message = cm.default
  elseif type(message) ~= "string" then
    check.expected(message, pos, fname, "string", 2)
  end
  -- every usual field a constant, so the table is built at its full size
  local e = { name = false, message = false, traceback = false }
  if opts ~= nil then
    if type(opts) ~= "table" then check.expected(opts, pos + 1, fname, "table", 2) end
    if opts.name ~= nil and type(opts.name) ~= "string" then
      bad_field(fname, pos + 1, "name", check.kind.string(opts.name), 2)
    end
    for k, v in pairs(opts) do e[k] = v end
  end
  if fields then
    for k, v in pairs(fields) do e[k] = v end
  end
  if not e.name then e.name = C.name end
  e.message = message
  -- the traceback starts at the caller of the entry point
  e.traceback = host_traceback and host_traceback(3) or debug.traceback("", 3):sub(2)
  return setmetatable(e, cm.instance)
end

-- A class's __call; its results are kept in a local so no tail call shifts create's levels.
local function construct(C, ...)
  if not is_class(C) then check.expected(C, 1, "__call", "error class") end
  local message, pos, opts, fields = getmetatable(C).parse(C.name, ...)
  local e = create(C, C.name, message, pos, opts, fields)
  return e
end

-- Argument parsers, inherited by subclasses: (...) -> message, its position, opts, fields.
local function plain_args(_, message, opts)
  return message, 1, opts, nil
end

-- AggregateError(list [, message [, opts]]) when the first argument is a table that is not an
-- Error, else AggregateError(message [, {errors = list, cause = ...}]). The list is copied.
local function aggregate_args(fname, a, b, c)
  local list, message, pos, opts
  if type(a) == "table" and not class_of(a) then
    list, message, pos, opts = a, b, 2, c
  else
    message, pos, opts = a, 1, b
    if type(opts) == "table" then list = opts.errors end
  end
  if list ~= nil and type(list) ~= "table" then
    bad_field(fname, pos + 1, "errors", check.kind.table(list), 2) -- at the class's caller
  end
  local copy = {}
  for i = 1, list and #list or 0 do copy[i] = list[i] end
  return message, pos, opts, { errors = copy }
end

-- SuppressedError(error, suppressed [, message [, opts]]), as in JavaScript.
local function suppressed_args(_, err, suppressed, message, opts)
  return message, 3, opts, { error = err, suppressed = suppressed }
end

local function class_tostring(C)
  if not is_class(C) then check.expected(C, 1, "__tostring", "error class") end
  return "ErrorClass (" .. tostring(rawget(C, "name")) .. ")"
end

local function new_class(name, parent, default, parse)
  local C = { name = name }
  local pm = parent and getmetatable(parent)
  setmetatable(C, {
    mark = CLASS, parent = parent, __index = parent, __call = construct, __tostring = class_tostring,
    default = default or pm.default, parse = parse or pm.parse,
    instance = { mark = ERROR, class = C, __index = C, __tostring = format },
  })
  return C
end

errors.Error = new_class("Error", nil, "", plain_args)
errors.AbortError = new_class("AbortError", errors.Error, "This operation was aborted")
errors.TimeoutError = new_class("TimeoutError", errors.Error, "The operation timed out")
-- A failed system call: fields code ("ENOENT"), syscall and, where one is
-- involved, path, address and port.
errors.SystemError = new_class("SystemError", errors.Error, "")
errors.AggregateError = new_class("AggregateError", errors.Error, "", aggregate_args)
errors.SuppressedError = new_class("SuppressedError", errors.Error,
  "An error was suppressed during disposal", suppressed_args)

-- A subclass inherits its parent's default message and constructor arguments.
function errors.class(name, parent)
  if type(name) ~= "string" then check.expected(name, 1, "class", "string") end
  if parent ~= nil and not is_class(parent) then check.expected(parent, 2, "class", "class") end
  return new_class(name, parent or errors.Error)
end

function errors.new(message, opts)
  local e = create(errors.Error, "new", message, 1, opts)
  return e
end

function errors.wrap(e, message)
  local err = create(errors.Error, "wrap", message, 2, nil, { cause = e })
  return err
end

-- A string class name matches the error's own name or the name of any class it descends from.
function errors.is(e, cls)
  if type(cls) ~= "string" and not is_class(cls) then
    check.expected(cls, 2, "is", "class or string")
  end
  local C = class_of(e)
  if not C then return false end
  if e.name == cls then return true end
  while C do
    if C == cls or C.name == cls then return true end
    C = getmetatable(C).parent
  end
  return false
end

function errors.chain(e)
  local list, n = links(e)
  for i = 1, n do
    local v = list[i]
    if class_of(v) then v = v.message end
    list[i] = safe_tostring(v)
  end
  return list
end

function errors.is_error(v)
  return class_of(v) ~= nil
end

function errors.traceback(e)
  if class_of(e) then return e.traceback end
  return nil
end

-- for the host's reports
errors._host = { tostring = safe_tostring }

return errors
