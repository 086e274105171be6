-- A real redis-server for the ebb.redis specs, on a loopback port of its own:
-- started with no persistence, ready once it says so, stopped after the spec.
local process = require "ebb.process"
local errors = require "ebb.errors"

local M = {}

local Server = {}
Server.__index = Server

local function spawn(port, extra, tls)
  local args = { "--port", tostring(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
    "--daemonize", "no", "--loglevel", "notice" }
  if tls then -- TLS only: the plain port off
    args[2] = "0"
    for _, a in ipairs { "--tls-port", tostring(port), "--tls-cert-file", tls.leaf, "--tls-key-file", tls.leaf_key,
      "--tls-ca-cert-file", tls.ca, "--tls-auth-clients", "no" } do args[#args + 1] = a end
  end
  for _, a in ipairs(extra or {}) do args[#args + 1] = a end
  local ok, p = pcall(process.spawn, "redis-server", args, { stderr = "ignore" })
  if not ok then
    if errors.is(p, errors.SystemError) and p.code == "ENOENT" then
      error("redis-server is not installed: the ebb.redis specs need it (make deps installs it)", 0)
    end
    error(p, 0)
  end
  -- its log says when it listens, or why it could not
  local seen = ""
  while true do
    local chunk = p.stdout:read()
    if not chunk then break end
    seen = seen .. chunk
    if seen:find("Ready to accept connections", 1, true) then return p end
    if seen:find("Address already in use", 1, true) then break end
  end
  p:kill("SIGKILL")
  p:wait()
  p:close()
  return nil, seen
end

-- A port from 20000 to 60000 that other processes do not pick alike (math.random
-- starts from the same seed in every process: runs at once would all try the same
-- ports, and a restart could find its port taken by another run's server).
local function random_port()
  local f = io.open("/dev/urandom", "rb")
  local b = f and f:read(2)
  if f then f:close() end
  if not b or #b < 2 then return 20000 + math.random(0, 40000) end
  return 20000 + (b:byte(1) * 256 + b:byte(2)) % 40001
end

-- start([extra args [, tls files]]) -> a Server on a free port (another port is tried
-- on a clash); given tls_support's files, it speaks TLS only (its url is rediss://).
function M.start(extra, tls)
  local why
  for _ = 1, 20 do
    local port = random_port()
    local p
    p, why = spawn(port, extra, tls)
    if p then
      return setmetatable({ process = p, port = port, extra = extra, tls = tls,
        url = (tls and "rediss://127.0.0.1:" or "redis://127.0.0.1:") .. port }, Server)
    end
  end
  error("redis-server did not start: " .. tostring(why), 0)
end

function Server:stop()
  if not self.process then return end
  self.process:kill("SIGKILL")
  self.process:wait()
  self.process:close()
  self.process = nil
end

-- restart(): stopped, then started again on the same port (its data is gone).
function Server:restart()
  self:stop()
  for _ = 1, 50 do
    local p = spawn(self.port, self.extra, self.tls)
    if p then
      self.process = p
      return
    end
  end
  error("redis-server did not start again on port " .. self.port, 0)
end

-- with(fn [, extra [, tls]]): fn(server), the server stopped after, whatever fn does.
function M.with(fn, extra, tls)
  local s = M.start(extra, tls)
  local ok, e = pcall(fn, s)
  s:stop()
  if not ok then error(e, 0) end
end

-- with_client(fn [, opts]): fn(client, server), both closed after.
function M.with_client(fn, opts)
  M.with(function(server)
    local c = require("ebb.redis").connect(server.url, opts)
    local ok, e = pcall(fn, c, server)
    c:close()
    if not ok then error(e, 0) end
  end)
end

-- Objects made on a server of their own (for the docs spec), ended by done(x).
local server_of = setmetatable({}, { __mode = "k" })

function M.client()
  local s = M.start()
  local c = require("ebb.redis").connect(s.url)
  server_of[c] = { s, c }
  return c
end

function M.subscription()
  local s = M.start()
  local c = require("ebb.redis").connect(s.url)
  local sub = c:subscribe("x")
  server_of[sub] = { s, c, sub }
  return sub
end

function M.done(x)
  local held = server_of[x]
  for i = #held, 2, -1 do held[i]:close() end
  held[1]:stop()
end

return M
