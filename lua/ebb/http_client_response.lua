-- ebb.http's client responses: status, headers (any case), the body as a
-- readable stream, text/json, and what retry needs (StatusError, Retry-After).
local core = require "ebb.http.client.core"
local check = require "ebb.check"
local errors = require "ebb.errors"
local stream = require "ebb.stream"

local type, error, ipairs, setmetatable, rawget, tonumber, concat, format, lower, match, gmatch, floor =
  type, error, ipairs, setmetatable, rawget, tonumber, table.concat, string.format, string.lower, string.match,
  string.gmatch, math.floor

local M = {}

local StatusError = errors.class("StatusError")
M.StatusError = StatusError
local HTTPError = errors.class("HTTPError", errors.SystemError)
M.HTTPError = HTTPError
local BodyUsedError = errors.class("BodyUsedError")

local Response = {}
Response.__index = Response
M.Response = Response

-- Header names in any case; the table holds them in lower case.
local Headers = {
  __index = function(t, name)
    if type(name) == "string" then return rawget(t, lower(name)) end
  end,
}

-- The status line's words, the headers (repeated ones joined with ", ", as
-- fetch joins them) and every (name, value) in order.
local function parse_head(head)
  local headers, list, status_text, version = setmetatable({}, Headers), {}, "", ""
  local first = true
  for line in gmatch(head, "([^\r\n]*)\r?\n") do
    if first then
      version, status_text = match(line, "^HTTP/(%S+)%s+%d+%s*(.-)%s*$")
      version, status_text = version or "", status_text or ""
      first = false
    else
      local name, value = match(line, "^([^:%s]+):%s*(.-)%s*$")
      if name then
        name = lower(name)
        list[#list + 1] = { name, value }
        local had = rawget(headers, name)
        headers[name] = had and had .. ", " .. value or value
      end
    end
  end
  return headers, list, status_text, version
end

-- disarm (may be nil) is called once the transfer has ended.
function M.new(t, status, head, url, feeder, source, disarm)
  local headers, list, status_text, version = parse_head(head)
  local res = setmetatable({
    status = status, ok = status >= 200 and status < 300, status_text = status_text, url = url,
    http_version = version,
    headers = headers, body_used = false,
    _t = t, _list = list, _feeder = feeder, _source = source, _disarm = disarm,
  }, Response)
  local function done()
    if res._feeder then res._feeder:cancel() end
    if res._source then pcall(res._source.close, res._source) end
    if res._disarm then res._disarm() end
    res._feeder, res._source, res._disarm = nil, nil, nil
  end
  res.body = stream.readable(function(signal)
    res.body_used = true
    local ok, a, b = core.read(t, signal)
    if ok == true then
      if a == nil then done() end
      return a
    end
    done()
    if ok == false then error(a, 0) end
    error(HTTPError(format("%s: %s, reading the body of %s", a, b, url),
      { code = a, url = url }), 0)
  end, function()
    core.close(t)
    done()
  end)
  return res
end

local function check_self(self, fname)
  check.self(self, Response, fname, "Response", 2)
end

-- The whole body as one string.
function Response:text(signal)
  check_self(self, "text")
  check.opt_signal(signal, 1, "text")
  if self.body_used then error(BodyUsedError("the body of the response has been read already"), 2) end
  local parts = {}
  for chunk in self.body:chunks(signal) do parts[#parts + 1] = chunk end
  return concat(parts)
end

function Response:json(signal)
  check_self(self, "json")
  check.opt_signal(signal, 1, "json")
  if self.body_used then error(BodyUsedError("the body of the response has been read already"), 2) end
  return require("ebb.json").decode(self:text(signal))
end

-- Every value of a header, in the order they came (set-cookie, which is not
-- joined as others are).
function Response:header_values(name)
  check_self(self, "header_values")
  if type(name) ~= "string" then check.expected(name, 1, "header_values", "string") end
  name = lower(name)
  local values = {}
  for _, pair in ipairs(self._list) do
    if pair[1] == name then values[#values + 1] = pair[2] end
  end
  return values
end

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9, Oct = 10,
  Nov = 11, Dec = 12 }

-- Seconds since 1970 of a UTC date (days from the civil calendar).
local function epoch(y, m, d, hh, mm, ss)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local doy = floor((153 * (m + (m > 2 and -3 or 9)) + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return ((era * 146097 + doe - 719468) * 24 + hh) * 3600 + mm * 60 + ss
end

-- Milliseconds to wait that Retry-After asks for: seconds, or an HTTP date
-- (0 once past); nil when there is none or it cannot be read.
function Response:retry_after()
  check_self(self, "retry_after")
  local v = self.headers["retry-after"]
  if type(v) ~= "string" then return nil end
  local seconds = match(v, "^%s*(%d+)%s*$")
  if seconds then return tonumber(seconds) * 1000 end
  local d, mon, y, hh, mm, ss = match(v, "^%s*%a%a%a, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT%s*$")
  if not d or not MONTHS[mon] then return nil end
  local at = epoch(tonumber(y), MONTHS[mon], tonumber(d), tonumber(hh), tonumber(mm), tonumber(ss))
  local ms = (at - os.time()) * 1000
  return ms > 0 and ms or 0
end

-- Raises a StatusError (status, response, retry_after) unless the status is
-- 2xx; returns the response.
function Response:raise_for_status()
  check_self(self, "raise_for_status")
  if self.ok then return self end
  self.body:close()
  error(StatusError(format("HTTP %d%s, %s", self.status, self.status_text ~= "" and " " .. self.status_text or "",
    self.url), { status = self.status, response = self, retry_after = self:retry_after() }), 2)
end

function Response:close()
  check_self(self, "close")
  self.body:close()
end
Response.__close = Response.close

function Response:__tostring()
  check_self(self, "__tostring")
  return format("Response (%d %s)", self.status, self.url)
end

return M
