-- redis: GET/SET against a redis-server on 127.0.0.1:PORT (started by bench/run).
-- Modes: roundtrip (20,000 SET+GET pairs one after another: latency), concurrent
-- (200,000 GETs from 64 tasks at once: what automatic pipelining gives), pipeline
-- (200 explicit pipelines of 1,000 SETs). Usage: ebb redis.lua PORT MODE.
-- Prints `redis <mode> <replies checked>`.
local redis = require "ebb.redis"
local task = require "ebb.task"

local port, mode = tonumber(arg[1]), arg[2] or "roundtrip"
local client = redis.connect("redis://127.0.0.1:" .. port)
local ok = 0

if mode == "roundtrip" then
  for i = 1, 20000 do
    client:command("SET", "k" .. i % 100, i)
    if client:command("GET", "k" .. i % 100) == tostring(i) then ok = ok + 1 end
  end
elseif mode == "concurrent" then
  client:command("SET", "shared", "value")
  local tasks = {}
  for t = 1, 64 do
    tasks[t] = task.spawn(function()
      local n = 0
      for _ = 1, 200000 / 64 do
        if client:command("GET", "shared") == "value" then n = n + 1 end
      end
      return n
    end)
  end
  for t = 1, 64 do ok = ok + tasks[t]:await() end
elseif mode == "pipeline" then
  for b = 1, 200 do
    local replies = client:pipeline(function(p)
      for i = 1, 1000 do p:command("SET", "p" .. i, b) end
    end)
    for i = 1, replies.n do if replies[i] == "OK" then ok = ok + 1 end end
  end
end
client:close()
print("redis " .. mode .. " " .. ok)
