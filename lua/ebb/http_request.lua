-- ebb.http's server side: the Request a handler gets. Its head is read from
-- C only when asked for (headers, query, the peer's address), once.
local core = require "ebb.httpserver.core"
local stream = require "ebb.stream"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local json = require "ebb.json"
local check = require "ebb.check"

local type, error, setmetatable, rawset, rawget, tonumber = type, error, setmetatable, rawset, rawget, tonumber
local lower, char, concat, find, sub = string.lower, string.char, table.concat, string.find, string.sub
local c_body_read, c_info = core.body_read, core.info

local M = {}

local Request = {}
M.Request = Request

-- Headers by name in any case: the table holds lower-case names.
local Headers = {}
Headers.__index = function(t, name)
  if type(name) ~= "string" then return nil end
  return rawget(t, lower(name))
end
M.Headers = Headers

local function unescape(s)
  s = s:gsub("+", " ")
  return (s:gsub("%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end

-- "a=1&b=2&a=3" -> {a = {"1", "3"}, b = "2"}: a repeated key gives a list.
local function parse_query(q)
  local t = {}
  for pair in q:gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    k, v = unescape(k), unescape(v)
    local old = t[k]
    if old == nil then t[k] = v
    elseif type(old) == "table" then old[#old + 1] = v
    else t[k] = { old, v } end
  end
  return t
end

local BODY_ERRORS = {
  E2BIG = "the request body is larger than max_body_size",
  EPROTO = "the request body is malformed",
  ECONNRESET = "the client went away before the body ended",
  ETIMEDOUT = "the request body did not come within request_timeout",
}

local function body_failed(_, _, code, msg)
  if code == "ECANCELED" then
    error(stream.ClosedError("read of a request body dropped when its response was finished"), 0)
  end
  error(check.system_error(code, BODY_ERRORS[code] or msg, "read", "request body"), 0)
end

local function read_body(r, signal) return check.result(body_failed, nil, nil, c_body_read(r, signal)) end

local function info(req)
  local version, ip, port, gone, has_body = c_info(req._r)
  rawset(req, "http_version", version)
  rawset(req, "remote_address", ip)
  rawset(req, "remote_port", port)
  rawset(req, "_has_body", has_body)
  return gone
end

-- What a request works out the first time it is asked.
local lazy = {}

function lazy.headers(req) return setmetatable(core.headers(req._r), Headers) end

-- Where the path ends in the target (plain finds: LuaJIT compiles them, not
-- patterns with classes): the index of '?' or '#', or #url + 1.
local function path_end(url)
  local q, h = find(url, "?", 1, true), find(url, "#", 1, true)
  if q and h then return q < h and q or h end
  return q or h or #url + 1
end

function lazy.path(req)
  local url = req.url
  local e = path_end(url)
  if e > #url then return url end
  return sub(url, 1, e - 1)
end

function lazy.query(req)
  local url = req.url
  local q = find(url, "?", 1, true)
  if not q or q ~= path_end(url) then return {} end
  local h = find(url, "#", q + 1, true)
  return parse_query(sub(url, q + 1, h and h - 1 or #url))
end

function lazy.body(req)
  info(req)
  if not req._has_body then return nil end
  local r = req._r
  return stream.readable(function(signal) return read_body(r, signal) end)
end

local AbortError = errors.AbortError

function lazy.signal(req)
  local ctl = abort.controller()
  local reason = AbortError("the client went away")
  if not core.watch(req._r, ctl.signal, reason) then ctl:abort(reason) end
  return ctl.signal
end

function lazy.http_version(req)
  info(req)
  return rawget(req, "http_version")
end
lazy.remote_address = function(req)
  info(req)
  return rawget(req, "remote_address")
end
lazy.remote_port = function(req)
  info(req)
  return rawget(req, "remote_port")
end

local RequestMethods = {}

Request.__index = function(req, k)
  local m = RequestMethods[k]
  if m then return m end
  local make = lazy[k]
  if make then
    local v = make(req)
    rawset(req, k, v)
    return v
  end
end

local function check_req(req, fname) check.self(req, Request, fname, "request", 2) end

-- The whole body as a string ("" without one).
function RequestMethods.text(req, signal)
  check_req(req, "text")
  check.opt_signal(signal, 1, "text")
  local body = req.body
  if not body then return "" end
  local parts, n = {}, 0
  for chunk in body:chunks(signal) do
    n = n + 1
    parts[n] = chunk
  end
  return concat(parts)
end

function RequestMethods.json(req, signal)
  check_req(req, "json")
  check.opt_signal(signal, 1, "json")
  return json.decode(RequestMethods.text(req, signal))
end

function Request.__tostring(req)
  check_req(req, "__tostring")
  return ("Request (%s %s)"):format(req.method, req.url)
end

function M.new(r, method, url, id)
  return setmetatable({ _r = r, method = method, url = url, id = id }, Request)
end

return M
