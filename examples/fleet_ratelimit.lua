-- A fleet-wide rate limit: 4 ebb processes of 5 busy tasks each share ratelimit.redis
-- { rate = 100 } for 2 s, and together they get 100 requests a second, not 2,000.
-- Usage: ebb examples/fleet_ratelimit.lua [redis://host:port] (default: a redis-server of its own)
local process = require "ebb.process"
local stream = require "ebb.stream"
local task = require "ebb.task"
local clock = require "ebb.clock"
local redis = require "ebb.redis"
local ratelimit = require "ebb.ratelimit"

local PROCESSES, TASKS, RATE, DURATION, TOLERANCE = 4, 5, 100, 2000, 0.05

-- One process of the fleet: ready, then TASKS tasks take as fast as the limit lets
-- them for `duration` ms from "go"; prints how many they took.
local function worker(url, key, duration)
  local client = redis.connect(url)
  local limit = ratelimit.redis { client = client, key = key, rate = RATE }
  local input = stream.lines(require("ebb").stdin)
  print("ready")
  io.stdout:flush()
  input:next() -- "go"
  input:close()
  local stop_at, took = clock.now() + duration, 0
  local function requests() -- one of the process's tasks that make requests
    while pcall(limit.take, limit, 1, { timeout = math.max(0, stop_at - clock.now()) }) do
      took = took + 1
    end
  end
  local tasks = {}
  for i = 1, TASKS do tasks[i] = requests end
  task.all(tasks)
  print(took)
  io.stdout:flush()
  client:close()
end

-- A redis-server on a free loopback port, ready once its log says so.
local function start_server()
  for _ = 1, 20 do
    local port = math.random(20000, 60000)
    local server = process.spawn("redis-server", { "--port", tostring(port), "--bind", "127.0.0.1", "--save", "",
      "--appendonly", "no" })
    local log = stream.lines(server.stdout)
    for line in function() return log:next() end do
      if line:find("Ready to accept connections", 1, true) then return server, "redis://127.0.0.1:" .. port end
      if line:find("Address already in use", 1, true) then break end
    end
    server:kill("SIGKILL")
    server:wait()
    server:close()
  end
  error("no redis-server could start", 0)
end

if arg[1] == "--worker" then
  worker(arg[2], arg[3], tonumber(arg[4]))
  return
end

math.randomseed(os.time() + math.floor(os.clock() * 1e6))
local server, url = nil, arg[1]
if not url then server, url = start_server() end
local key = ("fleet-ratelimit-%d"):format(math.random(1, 1e9))

local fleet, replies = {}, {}
for i = 1, PROCESSES do
  fleet[i] = process.spawn(arg[-1], { arg[0], "--worker", url, key, tostring(DURATION) })
  replies[i] = stream.lines(fleet[i].stdout)
  assert(replies[i]:next() == "ready")
end
for i = 1, PROCESSES do
  fleet[i].stdin:write("go\n")
  fleet[i].stdin:close()
end

local total, each = 0, {}
for i = 1, PROCESSES do
  each[i] = tonumber(replies[i]:next())
  total = total + each[i]
  fleet[i]:wait()
  fleet[i]:close()
end
if server then
  server:kill("SIGTERM")
  server:wait()
  server:close()
end

local rate = total / (DURATION / 1000)
print(("%d processes shared ratelimit.redis { rate = %d } for %d ms"):format(PROCESSES, RATE, DURATION))
local every_one = true
for i = 1, PROCESSES do every_one = every_one and each[i] > 0 end
print("every process got some: " .. tostring(every_one))
-- the figure itself varies from run to run: shown only when it is off
if math.abs(rate - RATE) <= RATE * TOLERANCE then
  print(("aggregate within %d%% of %d req/s: true"):format(TOLERANCE * 100, RATE))
else
  print(("aggregate within %d%% of %d req/s: false (%.1f req/s)"):format(TOLERANCE * 100, RATE, rate))
end
