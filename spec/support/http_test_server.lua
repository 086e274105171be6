-- A small HTTP/1.1 server on ebb.net for the client's specs, writing its bytes
-- by hand so a spec controls them: keep-alive, chunked and slow bodies, a
-- server that never answers, redirects, Retry-After, large bodies. Routes are
-- by path; `routes` adds or replaces them: route(conn, req, server).
local net = require "ebb.net"
local task = require "ebb.task"
local errors = require "ebb.errors"

local M = {}

M.CLIENT_GONE = setmetatable({}, { __tostring = function() return "the client went away inside a request" end })

-- Reads one request from conn (buffer: what was read past the last one):
-- { method, path, query, headers (lower-case names), body }, or nil at the end.
local function read_request(conn, buffer)
  while not buffer.data:find("\r\n\r\n", 1, true) do
    local chunk = conn:read()
    if not chunk then return nil end
    buffer.data = buffer.data .. chunk
  end
  local head_end = buffer.data:find("\r\n\r\n", 1, true)
  local head = buffer.data:sub(1, head_end + 1)
  buffer.data = buffer.data:sub(head_end + 4)
  local method, target = head:match("^(%S+) (%S+) HTTP/1%.%d\r\n")
  local req = { method = method, target = target, headers = {}, head = head }
  req.path, req.query = target:match("^([^?]*)%??(.*)$")
  for name, value in head:gmatch("\r\n([^:\r\n]+):[ \t]*([^\r\n]*)") do
    local key = name:lower()
    req.headers[key] = req.headers[key] and req.headers[key] .. ", " .. value or value
  end
  local function need(n)
    while #buffer.data < n do
      local chunk = conn:read()
      if not chunk then error(M.CLIENT_GONE, 0) end
      buffer.data = buffer.data .. chunk
    end
  end
  local function take(n)
    need(n)
    local s = buffer.data:sub(1, n)
    buffer.data = buffer.data:sub(n + 1)
    return s
  end
  local function line()
    while not buffer.data:find("\r\n", 1, true) do need(#buffer.data + 1) end
    local i = buffer.data:find("\r\n", 1, true)
    return take(i + 1):sub(1, -3)
  end
  if (req.headers["transfer-encoding"] or ""):lower():find("chunked") then
    local parts = {}
    while true do
      local size = tonumber(line():match("^%x+"), 16)
      if size == 0 then
        while line() ~= "" do end
        break
      end
      parts[#parts + 1] = take(size)
      req.chunks = (req.chunks or 0) + 1
      line()
    end
    req.body = table.concat(parts)
  else
    req.body = take(tonumber(req.headers["content-length"] or "0"))
  end
  return req
end

-- "HTTP/1.1 <status>" with the headers and the body given.
function M.response(status, headers, body)
  local lines = { "HTTP/1.1 " .. status }
  for name, value in pairs(headers or {}) do lines[#lines + 1] = name .. ": " .. value end
  if body then lines[#lines + 1] = "Content-Length: " .. #body end
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. (body or "")
end
local response = M.response

local ROUTES = {}

function ROUTES.hello(conn) conn:write(response("200 OK", { ["Content-Type"] = "text/plain" }, "hello")) end

function ROUTES.echo(conn, req)
  conn:write(response("200 OK", { ["X-Method"] = req.method, ["X-Chunks"] = tostring(req.chunks or 0) }, req.body))
end

function ROUTES.headers(conn, req) conn:write(response("200 OK", {}, req.head)) end

function ROUTES.json(conn) conn:write(response("200 OK", { ["Content-Type"] = "application/json" }, '{"a":[1,2],"b":"x"}')) end

function ROUTES.status(conn, req)
  local code = tonumber(req.query:match("code=(%d+)")) or 500
  local headers = {}
  local retry = req.query:match("retry=([^&]+)")
  if retry then headers["Retry-After"] = retry:gsub("%%20", " ") end
  conn:write(response(code .. " Status " .. code, headers, "status " .. code))
end

-- /redirect?n=3 -> /redirect?n=2 ... -> /hello
function ROUTES.redirect(conn, req)
  local n = tonumber(req.query:match("n=(%d+)")) or 1
  local to = n <= 1 and "/hello" or "/redirect?n=" .. (n - 1)
  conn:write(response("302 Found", { Location = to }, ""))
end

function ROUTES.chunked(conn)
  conn:write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
  for _, piece in ipairs({ "one ", "two ", "three" }) do
    conn:write(("%x\r\n%s\r\n"):format(#piece, piece))
  end
  conn:write("0\r\n\r\n")
end

-- /big?size=N: N bytes of "x", written as the client takes them.
function ROUTES.big(conn, req)
  local size = tonumber(req.query:match("size=(%d+)"))
  conn:write(("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"):format(size))
  local block = ("x"):rep(65536)
  local sent = 0
  while sent < size do
    local n = math.min(#block, size - sent)
    conn:write(n == #block and block or block:sub(1, n))
    sent = sent + n
  end
end

-- /bigchunked?size=N: N bytes of "x" in chunks of 64 KiB (no Content-Length).
function ROUTES.bigchunked(conn, req)
  local size = tonumber(req.query:match("size=(%d+)"))
  conn:write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
  local block = ("x"):rep(65536)
  local sent = 0
  while sent < size do
    local n = math.min(#block, size - sent)
    conn:write(("%x\r\n%s\r\n"):format(n, n == #block and block or block:sub(1, n)))
    sent = sent + n
  end
  conn:write("0\r\n\r\n")
end

-- The head and a first piece of the body, then nothing more.
function ROUTES.stall(conn)
  conn:write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst")
  conn:read()
  return "close"
end

-- Reads the request and never answers.
function ROUTES.never(conn)
  conn:read()
  return "close"
end

-- Closes the connection with half the body sent.
function ROUTES.cut(conn)
  conn:write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
  return "close"
end

-- server.port, server.url(path), server.accepted (connections), server.requests
-- (every request read, in order), server.waiting (requests whose route has
-- started), server:close().
function M.start(routes)
  local s = { accepted = 0, requests = {} }
  local all = setmetatable(routes or {}, { __index = ROUTES })
  local function serve(conn)
    local buffer = { data = "" }
    while true do
      local req = read_request(conn, buffer)
      if not req then return end
      s.requests[#s.requests + 1] = req
      local route = all[req.path:match("^/([%w_]*)")]
      if not route then conn:write(response("404 Not Found", {}, "no route " .. req.path))
      elseif route(conn, req, s) == "close" then return end
    end
  end
  s.listener = net.listen("127.0.0.1", 0, function(conn)
    s.accepted = s.accepted + 1
    local ok, err = pcall(serve, conn)
    -- a client that goes away (a cancelled request) resets its connection
    if not ok and err ~= M.CLIENT_GONE
        and not (errors.is(err, errors.SystemError) and (err.code == "ECONNRESET" or err.code == "EPIPE")) then
      error(err, 0)
    end
  end)
  s.port = s.listener.port
  function s.url(path) return ("http://127.0.0.1:%d%s"):format(s.port, path or "/") end
  function s:close() self.listener:close({ timeout = 0 }) end
  -- Waits until the server has read n requests.
  function s.wait_requests(n)
    while #s.requests < n do task.yield() end
  end
  return s
end

return M
