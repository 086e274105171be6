-- A raw HTTP/1.1 client over ebb.net for the server's specs: the spec writes
-- the bytes it wants, and reads responses back one at a time.
local net = require "ebb.net"

local M = {}

local Client = {}
Client.__index = Client

function M.connect(port)
  return setmetatable({ conn = net.connect("127.0.0.1", port), buf = "" }, Client)
end

function Client:send(bytes) self.conn:write(bytes) end

-- More bytes into the buffer; false at the end of the stream.
function Client:fill()
  local chunk = self.conn:read()
  if not chunk then return false end
  self.buf = self.buf .. chunk
  return true
end

function Client:take(n)
  local parts, have = { self.buf }, #self.buf
  while have < n do -- chunks gathered, not appended one by one (a large body is many)
    local chunk = self.conn:read()
    assert(chunk, "the connection ended in a body")
    parts[#parts + 1] = chunk
    have = have + #chunk
  end
  local all = table.concat(parts)
  self.buf = all:sub(n + 1)
  return all:sub(1, n)
end

function Client:line()
  while not self.buf:find("\r\n", 1, true) do
    if not self:fill() then return nil end
  end
  local i = self.buf:find("\r\n", 1, true)
  local s = self.buf:sub(1, i - 1)
  self.buf = self.buf:sub(i + 2)
  return s
end

-- The next response: {status =, headers = {lower-case name = value}, body =,
-- chunks = how many chunks a chunked body came in}, or nil at the end.
-- head_only: a response to HEAD (no body follows).
function Client:response(head_only)
  local status_line = self:line()
  if not status_line then return nil end
  local res = { status = tonumber(status_line:match("^HTTP/1%.1 (%d+)")), headers = {}, status_line = status_line }
  while true do
    local l = assert(self:line(), "the connection ended in a head")
    if l == "" then break end
    local k, v = l:match("^([^:]+):%s*(.*)$")
    res.headers[k:lower()] = v
  end
  if head_only or res.status == 204 or res.status == 304 or (res.status >= 100 and res.status < 200) then
    res.body = ""
  elseif res.headers["transfer-encoding"] == "chunked" then
    local parts = {}
    while true do
      local size = tonumber(assert(self:line()), 16)
      if size == 0 then
        assert(self:line() == "")
        break
      end
      parts[#parts + 1] = self:take(size)
      assert(self:take(2) == "\r\n")
    end
    res.body, res.chunks = table.concat(parts), #parts
  elseif res.headers["content-length"] then
    res.body = self:take(tonumber(res.headers["content-length"]))
  else
    local parts = { self.buf }
    self.buf = ""
    for chunk in self.conn:chunks() do parts[#parts + 1] = chunk end
    res.body = table.concat(parts)
  end
  return res
end

-- Whether the server closed the connection (the next read is the end).
function Client:ended()
  if #self.buf > 0 then return false end
  return not self:fill()
end

function Client:close() self.conn:close() end

-- One request on a connection of its own: the response.
function M.request(port, bytes)
  local c = M.connect(port)
  c:send(bytes)
  local res = c:response(bytes:match("^HEAD "))
  c:close()
  return res
end

return M
