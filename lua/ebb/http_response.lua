-- ebb.http's server side: the ResponseWriter a handler answers with. Its
-- head and body go to C in one call (finish), or the head with the first
-- chunk (write).
local core = require "ebb.httpserver.core"
local json = require "ebb.json"
local check = require "ebb.check"
local stream = require "ebb.stream"
local errors = require "ebb.errors"

local type, error, setmetatable, rawget, rawset, tostring, tonumber, pairs = type, error, setmetatable, rawget,
  rawset, tostring, tonumber, pairs
local lower, find, format = string.lower, string.find, string.format
local c_send, c_close_after = core.send, core.close_after

local M = {}

local ResponseWriter = {}
M.ResponseWriter = ResponseWriter

-- res.headers: set and read by name in any case; the name goes out as it
-- was first set. _v holds the values by lower-case name, _n the names.
local Headers = {}

-- Names already checked, with their lower case: most handlers set the same few.
local checked, nchecked = {}, 0

local function key_of(name, level)
  local key = checked[name]
  if key then return key end
  if type(name) ~= "string" or not find(name, "^[%w!#$%%&'*+%-.^_`|~]+$") then
    error(format("bad header name %s (a token: letters, digits and !#$%%&'*+-.^_`|~)", tostring(name)), level + 1)
  end
  key = lower(name)
  if nchecked < 1024 then
    checked[name], nchecked = key, nchecked + 1
  end
  return key
end

Headers.__index = function(t, name)
  if type(name) ~= "string" then return nil end
  return rawget(t, "_v")[checked[name] or lower(name)]
end

-- One value of header `name` as it will be sent, checked; level: the setter's caller.
local function header_value(name, key, value, level)
  local tv = type(value)
  if tv == "number" then value = tostring(value)
  elseif tv ~= "string" then
    error(format("header '%s' must be a string, a number or a list of them, got %s", name, tv), level + 1)
  end
  -- plain finds: a pattern with a class is not compiled, and costs ~0.5 us a call
  if find(value, "\r", 1, true) or find(value, "\n", 1, true) or find(value, "\0", 1, true) then
    error(format("header '%s' must not contain CR, LF or NUL", name), level + 1)
  end
  if key == "content-length" and not find(value, "^%d+$") then
    error(format("header '%s' must be a whole number of bytes, got %s", name, value), level + 1)
  end
  return value
end

-- A list is sent as one line per value (Set-Cookie): copied, so that what
-- the handler changes in it afterwards is not sent unchecked.
local function header_values(name, key, list, level)
  if key == "content-length" or key == "connection" then
    error(format("header '%s' takes one value, got a list", name), level + 1)
  end
  local copy = {}
  for i = 1, #list do copy[i] = header_value(name, key, list[i], level + 1) end
  return copy
end

Headers.__newindex = function(t, name, value)
  local key, names = key_of(name, 2), rawget(t, "_n")
  if type(value) == "table" then
    value = header_values(name, key, value, 2)
    rawset(t, "_lists", true) -- read back, a list may be changed: checked again when sent
  elseif value ~= nil then
    value = header_value(name, key, value, 2)
  end
  rawget(t, "_v")[key] = value
  if value == nil then names[key] = nil
  elseif not names[key] then names[key] = name end
end

local function new_headers() return setmetatable({ _v = {}, _n = {} }, Headers) end

local ResponseWriterMethods = {}

ResponseWriter.__index = function(res, k)
  local m = ResponseWriterMethods[k]
  if m then return m end
  if k == "headers" then
    local h = new_headers()
    rawset(res, "headers", h)
    return h
  end
end

local function check_res(res, fname) check.self(res, ResponseWriter, fname, "response writer", 2) end

local ClosedError = stream.ClosedError

local function write_failed(_, _, code, msg)
  error(check.system_error(code, code == "ECONNRESET" and "the client went away" or msg, "write", "response"), 0)
end

-- What C needs of the head: the status, checked, and the header tables.
local function head(res, fname)
  local status = res.status
  if type(status) ~= "number" or status % 1 ~= 0 or status < 100 or status > 999 then
    error(format("bad response status in '%s' (a whole number from 100 to 999 expected, got %s)", fname,
      tostring(status)), 3)
  end
  local h = rawget(res, "headers")
  if not h then return status end
  local values, names = rawget(h, "_v"), rawget(h, "_n")
  if rawget(h, "_lists") then
    for key, v in pairs(values) do
      if type(v) == "table" then values[key] = header_values(names[key], key, v, 3) end
    end
  end
  return status, values, names
end

-- A written response's body is held to the Content-Length its handler set:
-- more would be read as the next response on a kept-alive connection. _left
-- is what it still allows (false without one), from the first write on.
local function take_length(res, n, fname)
  local left = rawget(res, "_left")
  if left == nil then
    local h = rawget(res, "headers")
    left = h and tonumber(h["content-length"]) or false
  end
  if left and n > left then
    error(errors.Error(format("%s of %d bytes past the Content-Length of the response (%d bytes left)", fname, n,
      left)), 3)
  end
  res._left = left and left - n
end

-- write(chunk [, signal]): the first write sends the head.
function ResponseWriterMethods.write(res, chunk, signal)
  check_res(res, "write")
  if type(chunk) ~= "string" then check.expected(chunk, 1, "write", "string") end
  check.opt_signal(signal, 2, "write")
  if res.finished then error(ClosedError("write after finish"), 2) end
  local status, v, n = head(res, "write")
  take_length(res, #chunk, "write")
  check.result(write_failed, nil, nil, c_send(res._r, status, v, n, chunk, false, signal))
end

-- finish([body]): the whole response at once, or the end of a written one.
function ResponseWriterMethods.finish(res, body)
  check_res(res, "finish")
  if body ~= nil and type(body) ~= "string" then check.expected(body, 1, "finish", "string or nil") end
  if res.finished then return end
  local status, v, n = head(res, "finish")
  if rawget(res, "_left") ~= nil then
    take_length(res, body and #body or 0, "finish")
    -- a body short of its length leaves the client waiting: the connection ends
    if res._left and res._left > 0 then c_close_after(res._r) end
  end
  res.finished = true
  c_send(res._r, status, v, n, body, true)
end

-- json(value [, status]): value encoded, as application/json.
function ResponseWriterMethods.json(res, value, status)
  check_res(res, "json")
  if status ~= nil then
    check.whole(status, 2, "json", "status", 100, 999)
    res.status = status
  end
  local body = json.encode(value)
  local h = res.headers
  if not h["content-type"] then h["Content-Type"] = "application/json" end
  return ResponseWriterMethods.finish(res, body)
end

function ResponseWriter.__tostring(res)
  check_res(res, "__tostring")
  return ("ResponseWriter (%s%s)"):format(tostring(res.status), res.finished and ", finished" or "")
end

function M.new(r) return setmetatable({ _r = r, status = 200, finished = false }, ResponseWriter) end

return M
