-- A request-id logger on an HTTP server, through ebb.context (the guide's AsyncLocalStorage):
-- code deep in a handler, and tasks it spawns, log the id of the request they serve unasked.
local http = require "ebb.http"
local task = require "ebb.task"
local context = require "ebb.context"

-- Who is asking: set once per request from a header, read anywhere below.
local user = context.new({ name = "user", default = "anonymous" })

-- The logger knows nothing of requests: it reads the context.
local function log(fmt, ...)
  print(("[req %s %s] " .. fmt):format(http.request_id:get() or "-", user:get(), ...))
end

local function load_profile(name)
  log("loading profile of %s", name)
  task.yield() -- a wait: another task runs meanwhile, the context stays
  return { name = name, plan = name == "ada" and "pro" or "free" }
end

local function load_usage()
  log("loading usage")
  task.yield()
  return 42
end

local server = http.listen("127.0.0.1", 0, function(req, res)
  user:run(req.headers["x-user"] or "anonymous", function()
    log("%s %s", req.method, req.path)
    -- two lookups side by side, in tasks of their own: both inherit the context
    local profile, usage = task.spawn(load_profile, user:get()), task.spawn(load_usage)
    local body = ("%s (%s): %d calls"):format(profile:await().name, profile:await().plan, usage:await())
    log("answered %s", body)
    res:finish(body)
  end)
end)

log("server on a port of its own")
local base = "http://127.0.0.1:" .. server.port
for _, who in ipairs({ "ada", "grace" }) do
  local res = http.fetch(base .. "/me", { headers = { ["X-User"] = who } })
  print("client got:", res:text())
end
print("client got:", http.fetch(base .. "/me"):text())
server:close()
