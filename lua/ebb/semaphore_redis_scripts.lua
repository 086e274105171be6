-- ebb.semaphore_redis_scripts: the server-side half of semaphore.redis, each step one
-- Redis script (atomic). Time is the server's TIME, so the processes' clocks never count.
--
-- KEYS: holders (id -> lease end), queue (id -> ticket number), deadlines (id -> when
-- the ticket ends unless its waiter asks again), seq (the ticket counter).
-- ARGV: permits, the channel grants are published on, the id. An id starts with its
-- lease in ms ("10000:..."), so a grant made by another process's script knows it.
local redis = require "ebb.redis"

local M = {}

local PRELUDE = [[
local H, Q, D, S = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local permits, channel, id = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function lease_of(who) return tonumber(string.match(who, '^(%d+):')) end

-- holders whose lease ended and tickets nobody asked for in time go
local function purge()
  redis.call('ZREMRANGEBYSCORE', H, '-inf', now)
  local gone = redis.call('ZRANGEBYSCORE', D, '-inf', now)
  for i = 1, #gone do
    redis.call('ZREM', Q, gone[i])
    redis.call('ZREM', D, gone[i])
  end
end

-- the first tickets of the queue that free permits cover become holders, and
-- their waiters are told ("id lease_end id lease_end ...")
local function promote()
  local free = permits - redis.call('ZCARD', H)
  if free <= 0 then return end
  local heads = redis.call('ZRANGE', Q, 0, free - 1)
  if #heads == 0 then return end
  local told = {}
  for i = 1, #heads do
    local who = heads[i]
    local ends = now + lease_of(who)
    redis.call('ZADD', H, ends, who)
    redis.call('ZREM', Q, who)
    redis.call('ZREM', D, who)
    told[#told + 1] = who .. ' ' .. string.format('%.0f', ends)
  end
  redis.call('PUBLISH', channel, table.concat(told, ' '))
end

-- each key ends with the last deadline in it: a semaphore nobody uses leaves nothing
local function keep()
  local last = redis.call('ZRANGE', H, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIREAT', H, string.format('%.0f', tonumber(last[2]) + 1)) end
  last = redis.call('ZRANGE', D, -1, -1, 'WITHSCORES')
  if last[2] then
    local at = string.format('%.0f', tonumber(last[2]) + 1)
    redis.call('PEXPIREAT', Q, at)
    redis.call('PEXPIREAT', D, at)
    redis.call('PEXPIREAT', S, at)
  end
end

local function held() return tonumber(redis.call('ZSCORE', H, id)) end
]]

local function script(body) return redis.script(PRELUDE .. body) end

-- The lease's end when id holds (now or already); 0 when it waits in the queue
-- (a ticket taken at its first call, its deadline moved on at each call).
M.acquire = script [[
purge()
if not held() then
  if not redis.call('ZSCORE', Q, id) then redis.call('ZADD', Q, redis.call('INCR', S), id) end
  redis.call('ZADD', D, now + lease_of(id), id)
  promote()
end
keep()
return held() or 0]]

-- The lease's end when a permit is free and nobody waits for one; 0 otherwise.
M.try_acquire = script [[
purge()
promote()
if not held() then
  if redis.call('ZCARD', Q) > 0 or redis.call('ZCARD', H) >= permits then return 0 end
  redis.call('ZADD', H, now + lease_of(id), id)
end
keep()
return held()]]

-- The lease's new end; 0 when it had ended (the permit may have gone to another).
M.renew = script [[
local ends = held()
if not ends or ends <= now then
  redis.call('ZREM', H, id)
  purge()
  promote()
  return 0
end
redis.call('ZADD', H, now + lease_of(id), id)
keep()
return now + lease_of(id)]]

-- Takes id out, holder or waiter; the permit goes to the head of the queue.
-- 1 when it held a permit.
M.leave = script [[
local was = redis.call('ZREM', H, id)
redis.call('ZREM', Q, id)
redis.call('ZREM', D, id)
purge()
promote()
keep()
return was]]

return M
