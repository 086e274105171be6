-- Five permits shared by six processes through Redis: the peak of holders across them all
-- stays 5, and a holder killed with SIGKILL gives its permit back once its lease ends.
-- Usage: ebb examples/fleet_semaphore.lua [redis://host:port] (none: it starts a redis-server)
package.path = "spec/support/?.lua;" .. package.path -- the specs' redis-server starter
local semaphore = require "ebb.semaphore"
local redis = require "ebb.redis"
local process = require "ebb.process"
local task = require "ebb.task"
local clock = require "ebb.clock"
local ebb = require "ebb"

local PERMITS, WORKERS, HOLDS, LEASE = 5, 6, 12, 500
local EBB = arg[-1] or "build/ebb" -- the interpreter running this script
local role, url = arg[1], arg[2]

-- What an observer sees on the server: how many hold now, and the most there ever were.
local ENTER = redis.script [[
local n = redis.call('INCR', KEYS[1])
if n > tonumber(redis.call('GET', KEYS[2]) or '0') then redis.call('SET', KEYS[2], n) end
return n]]

local function open(u)
  local client = redis.connect(u)
  return semaphore.redis { client = client, key = "fleet", permits = PERMITS, lease = LEASE }, client
end

if role == "worker" then -- holds a permit HOLDS times, 20 ms each
  local sem, client = open(url)
  for _ = 1, HOLDS do
    sem:with(function()
      ENTER:run(client, { "holding", "peak" })
      task.sleep(20)
      client:command("DECR", "holding")
    end)
  end
  client:close()
  return
elseif role == "holder" then -- holds one permit until its stdin ends (or it is killed)
  local sem, client = open(url)
  local lease = sem:acquire()
  ebb.stdout:write("held\n")
  ebb.stdin:read()
  lease:release()
  client:close()
  return
end

local server
if not role then
  server = require("redis_server").start()
  url = server.url
else
  url = role
end
local function spawn(kind) return process.spawn(EBB, { arg[0], kind, url }) end

print(("%d processes share %d permits (lease %d ms)"):format(WORKERS, PERMITS, LEASE))
local workers = {}
for i = 1, WORKERS do workers[i] = spawn("worker") end
for i = 1, WORKERS do
  workers[i]:wait()
  workers[i]:close()
end
local sem, client = open(url)
print("peak of concurrent holders across them: " .. client:command("GET", "peak"))

-- five holders take every permit; one of them is killed while it holds
local holders = {}
for i = 1, PERMITS do
  holders[i] = spawn("holder")
  holders[i].stdout:read()
end
local extra = sem:try_acquire()
print("all held, a try from here gets one: " .. tostring(extra ~= false))
if extra then extra:release() end
holders[3]:kill("SIGKILL")
holders[3]:wait()
local killed_at = clock.now()
local lease = sem:acquire()
local waited = clock.now() - killed_at
print(("killed one holder with SIGKILL; its permit came back after its lease: %s"):format(
  tostring(waited >= LEASE * 0.6 and waited < LEASE * 3)))
lease:release()

for i, h in ipairs(holders) do
  if i ~= 3 then h.stdin:finish() end
  h:wait()
  h:close()
end
print(("at the end: %d permits held, %d tickets waiting"):format(
  client:command("ZCARD", "fleet:holders"), client:command("ZCARD", "fleet:queue")))
client:close()
if server then server:stop() end
