-- A TCP echo server with a per-connection limit of 2 requests in flight (a semaphore that stops
-- reading until a slot frees, so TCP pushes back on the client); clients connect with ebb.retry.
local net = require "ebb.net"
local task = require "ebb.task"
local retry = require "ebb.retry"
local semaphore = require "ebb.semaphore"
local errors = require "ebb.errors"

local IN_FLIGHT = 2 -- per connection
local WORK_MS = 20  -- the pretend work behind each request

-- Lines from a stream: a line may arrive split over two chunks, or many in one.
local function lines(conn)
  local buf = ""
  return function()
    while true do
      local nl = buf:find("\n", 1, true)
      if nl then
        local line = buf:sub(1, nl - 1)
        buf = buf:sub(nl + 1)
        return line
      end
      local chunk = conn:read()
      if not chunk then -- the end: a last line without "\n" still counts
        local rest = buf
        buf = ""
        return rest ~= "" and rest or nil
      end
      buf = buf .. chunk
    end
  end
end

-- ---- the server ----
local stats = {} -- per connection, printed at the end (handlers run concurrently)

local function handle(conn)
  local me = { requests = 0, most = 0 }
  stats[#stats + 1] = me
  local slots = semaphore.new(IN_FLIGHT)
  local in_flight = 0
  local previous -- the reply before this one: replies leave in request order
  task.group(function(g)
    for line in lines(conn) do
      slots:acquire() -- no slot free: stop reading this connection until one is
      in_flight = in_flight + 1
      me.requests = me.requests + 1
      if in_flight > me.most then me.most = in_flight end
      local before, mine = previous, task.future()
      previous = mine
      g:spawn(function()
        local ok, err = pcall(function()
          task.sleep(WORK_MS) -- the work (a database, a disk...): requests overlap here
          if before then before:await() end
          conn:write("echo: " .. line .. "\n")
        end)
        in_flight = in_flight - 1
        slots:release()
        mine:resolve()
        if not ok then error(err, 0) end
      end)
    end
  end)
  conn:finish() -- all replies sent, then the client reads the end
end

-- The server comes up late: its port is known, but nothing listens there yet.
local probe = net.listen("127.0.0.1", 0, function() end)
local port = probe.port
probe:close()
local server
local function start_server()
  server = net.listen("127.0.0.1", port, handle)
  print("  (the server is up now)")
end

-- ---- the clients ----
local function connect(name)
  return retry(function(attempt)
    local conn = net.connect("127.0.0.1", port)
    print(("%s: connected on attempt %d"):format(name, attempt + 1))
    return conn
  end, {
    retries = 5, base = 10, jitter = "none",
    -- refused means "not up yet": worth another try; anything else is raised at once
    should_retry = function(err) return errors.is(err, errors.SystemError) and err.code == "ECONNREFUSED" end,
    on_retry = function(err, attempt, ms)
      print(("%s: attempt %d failed with %s, next in %.0f ms"):format(name, attempt + 1, err.code, ms))
      if attempt == 1 and not server then start_server() end -- for the demo: it boots meanwhile
    end,
  })
end

-- Sends all its requests at once (pipelining), then reads every reply.
local function converse(name, conn, words)
  local msgs = {}
  for i, w in ipairs(words) do msgs[i] = ("%s #%d %s\n"):format(name, i, w) end
  conn:write(table.concat(msgs))
  conn:finish()
  local replies = {}
  for line in lines(conn) do replies[#replies + 1] = line end
  conn:close()
  return replies
end

local alice = connect("alice")
local bob = connect("bob")
local replies = task.all({
  function() return converse("alice", alice, { "apple", "banana", "cherry", "damson", "elder" }) end,
  function() return converse("bob", bob, { "one", "two", "three" }) end,
})
for _, list in ipairs(replies) do
  for _, line in ipairs(list) do print(line) end
end

server:close({ timeout = 1000 }) -- stop accepting, let handlers finish (none is left here)
for i, s in ipairs(stats) do
  print(("server: connection %d served %d requests, at most %d in flight (limit %d)"):format(
    i, s.requests, s.most, IN_FLIGHT))
end
print(("server closed, %d connections open"):format(server.connections))
