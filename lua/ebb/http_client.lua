-- ebb.http's client: http.fetch and its responses (see ebb.http), over
-- libcurl driven by the loop (ebb.http.client.core).
local core = require "ebb.http.client.core"
local check = require "ebb.check"
local errors = require "ebb.errors"
local abort = require "ebb.abort"
local stream = require "ebb.stream"
local response = require "ebb.http_client_response"

local type, pairs, error, tostring, tonumber, format, find, upper, lower = type, pairs, error, tostring, tonumber,
  string.format, string.find, string.upper, string.lower

local M = {}

local HTTPError = response.HTTPError
M.HTTPError = HTTPError
M.StatusError = response.StatusError

local kind = check.kind
local FETCH = {
  method = kind.string, headers = kind.table, body = kind.any, signal = kind.signal, timeout = kind.ms,
  connect_timeout = kind.ms, redirect = kind.one_of("follow", "manual", "error"),
  max_redirects = kind.whole(0, 1000), ca_file = kind.cstring,
}

local TOKEN = "^[!#$%%&'*+%-.^_`|~%w]+$"
-- a tunnel and an echo of the request: not requests fetch makes
local FORBIDDEN_METHODS = { CONNECT = true, TRACE = true, TRACK = true }

-- A failure of the network (curl's code and words): an HTTPError.
local function failed(method, url, code, msg)
  error(HTTPError(format("%s: %s, %s %s", code, msg, method, url), { code = code, url = url, method = method }), 0)
end
M._failed = failed

-- Raised at fetch's caller: depth is how far below header_lines it is called.
local function bad_header(msg, depth) check.badarg(2, "fetch", "option 'headers': " .. msg, 3 + (depth or 0)) end

-- The framing is the body's: a Content-Length is taken when it is the string
-- body's own (curl sends it), never one that would cut the body or run past
-- it; a streamed body's is its length, held to it as it is sent.
local function check_length(name, value, body)
  if not find(value, "^%d+$") then bad_header(format("header '%s' must be a whole number of bytes, got %s", name, value), 1) end
  if body == true then return tonumber(value) end
  local len = body and #body or 0
  if value ~= tostring(len) then bad_header(format("header '%s' says %s, but the body has %d bytes", name, value, len), 1) end
end

-- The header lines for curl, and the length given to a streamed body. body:
-- the string sent, true for a streamed one, false for none.
local function header_lines(headers, body)
  local lines, typed, length = {}, false, nil
  headers = headers or {}
  for name, value in pairs(headers) do
    if type(name) ~= "string" or not find(name, TOKEN) then
      bad_header("a header name must be a token, got " .. (type(name) == "string" and name or type(name)))
    end
    if type(value) ~= "string" then bad_header(format("header '%s' must be a string, got %s", name, type(value))) end
    if find(value, "[%z\r\n]") then bad_header(format("header '%s' must not contain CR, LF or a NUL byte", name)) end
    local key = lower(name)
    if key == "transfer-encoding" then bad_header(format("header '%s' is fetch's own (it frames the body)", name)) end
    if key == "content-length" then length = check_length(name, value, body)
    else
      typed = typed or key == "content-type"
      -- "Name;" is how curl sends a header whose value is empty ("Name:" would remove it)
      lines[#lines + 1] = value == "" and name .. ";" or name .. ": " .. value
    end
  end
  -- as fetch types a body: a string as text, a stream not at all (curl's
  -- default would say a form)
  if not typed and body then
    lines[#lines + 1] = (type(body) == "string" and body ~= "") and "Content-Type: text/plain;charset=UTF-8" or "Content-Type:"
  end
  -- a streamed or large body is sent at once, without waiting for "100 Continue"
  if headers.Expect == nil and headers.expect == nil then lines[#lines + 1] = "Expect:" end
  return lines, length
end

-- The body option: a string, or chunks from a readable or an iterator.
local function chunk_source(body, method)
  if body == nil then return nil end
  if method == "GET" or method == "HEAD" then
    check.badarg(2, "fetch", "option 'body': a " .. method .. " request has no body", 2)
  end
  if type(body) == "string" then return nil end
  if stream.is_readable(body) then return function() return body:read() end, body end
  if check.is_callable(body) then return body end
  check.badarg(2, "fetch", "option 'body' must be a string, a readable stream or an iterator, got " .. type(body), 2)
end

-- Moves the chunks of a streamed body into the transfer, in a task of its own;
-- length: the Content-Length given, which they must make up exactly.
local function feed(t, next_chunk, state, length)
  local ok, err = pcall(function()
    local sent = 0
    while true do
      local chunk = next_chunk()
      if chunk == nil then break end
      if type(chunk) ~= "string" then error(errors.Error("a body chunk must be a string, got " .. type(chunk)), 0) end
      sent = sent + #chunk
      if length and sent > length then
        error(errors.Error(format("the body gave more than its Content-Length of %d bytes", length)), 0)
      end
      if core.write(t, chunk) ~= true then return end -- the transfer has ended; fetch or the reader says why
    end
    if length and sent < length then
      error(errors.Error(format("the body ended after %d bytes, short of its Content-Length of %d", sent, length)), 0)
    end
    core.write(t, nil)
  end)
  if not ok then
    state.upload_error = err
    core.close(t)
  end
end

function M.fetch(url, opts)
  check.cstring(url, 1, "fetch", "url")
  opts = check.options(opts, 2, "fetch", FETCH)
  local method = opts.method and upper(opts.method) or "GET"
  if not find(method, TOKEN) then check.badarg(2, "fetch", "option 'method' must be an HTTP method, got " .. method) end
  if FORBIDDEN_METHODS[method] then
    check.badarg(2, "fetch", "option 'method' must not be CONNECT, TRACE or TRACK (as fetch refuses them), got " .. method)
  end
  local next_chunk, source = chunk_source(opts.body, method)
  local body = type(opts.body) == "string" and opts.body or next_chunk ~= nil
  -- as fetch does: a POST, PUT or PATCH without a body says Content-Length: 0
  if body == false and (method == "POST" or method == "PUT" or method == "PATCH") then body = "" end
  local lines, length = header_lines(opts.headers, body)
  if length then body = length end -- streamed with this length, not chunked
  local redirect = opts.redirect or "follow"
  local signal, disarm = opts.signal, nil
  if opts.timeout and signal then
    -- an abort.any would keep an abort.timeout armed to its end: this time limit is
    -- disarmed once the transfer ends (fetch fails, the body ends or is closed)
    signal, disarm = abort._deadline(opts.timeout, signal)
  elseif opts.timeout then
    signal = abort.timeout(opts.timeout) -- armed only while a task waits on the transfer
  end
  local started, t = pcall(check.result, failed, method, url, core.start(url, method, lines, body,
    redirect == "follow", opts.max_redirects, opts.connect_timeout, opts.ca_file, signal))
  if not started then
    if disarm then disarm() end
    error(t, 0)
  end
  local state, feeder = {}, nil
  if next_chunk then feeder = require("ebb.task").spawn(feed, t, next_chunk, state, length) end
  local ok, status, head, final_url = core.head(t)
  if ok ~= true then
    if disarm then disarm() end
    if feeder then feeder:cancel() end
    if source then pcall(source.close, source) end
    if state.upload_error ~= nil then error(state.upload_error, 0) end
    check.result(failed, method, url, ok, status, head, final_url)
  end
  local res = response.new(t, status, head, final_url, feeder, source, disarm)
  if redirect == "error" and status >= 300 and status < 400 and res.headers.location then
    res:close()
    failed(method, url, "REDIRECT", format("redirected to %s (redirect = \"error\")", tostring(res.headers.location)))
  end
  return res
end

return M
