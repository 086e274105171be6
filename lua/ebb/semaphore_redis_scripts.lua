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

-- a key lives at least `ms` more (twice that when it is moved on, so that is rare):
-- a semaphore nobody uses leaves nothing
local function last(key, ms)
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, 2 * ms) end
end

local function make_holder(who)
  local lease = lease_of(who)
  redis.call('ZADD', H, now + lease, who)
  last(H, lease)
  return now + lease
end

-- permits not held (holders whose lease ended are taken out first)
local function free()
  redis.call('ZREMRANGEBYSCORE', H, '-inf', now)
  return permits - redis.call('ZCARD', H)
end

local function drop_ticket(who)
  redis.call('ZREM', Q, who)
  redis.call('ZREM', D, who)
end

-- the first tickets of the queue that free permits cover become holders, and
-- their waiters are told ("id lease_end id lease_end ..."; the caller learns it
-- from its answer). A ticket whose waiter stopped asking in time is dropped when
-- it comes to the head.
local function promote()
  if redis.call('ZCARD', Q) == 0 then return end
  local n = free()
  local told = {}
  while n > 0 do
    local heads = redis.call('ZRANGE', Q, 0, n - 1)
    if #heads == 0 then break end
    for i = 1, #heads do
      local who = heads[i]
      local alive = tonumber(redis.call('ZSCORE', D, who) or 0) > now
      drop_ticket(who)
      if alive then
        local ends = make_holder(who)
        n = n - 1
        if who ~= id then told[#told + 1] = who .. ' ' .. string.format('%.0f', ends) end
      end
    end
  end
  if #told > 0 then redis.call('PUBLISH', channel, table.concat(told, ' ')) end
end

local function held() return tonumber(redis.call('ZSCORE', H, id)) end
]]

local function script(body) return redis.script(PRELUDE .. body) end

-- The lease's end when id holds (now or already); 0 when it waits in the queue
-- (a ticket taken at its first call, its deadline moved on at each call).
-- ARGV[4]: 1 at the first call of this id.
M.acquire = script [[
local first = ARGV[4] == '1'
if not first then
  local ends = held()
  if ends then return ends end
end
if first or not redis.call('ZSCORE', Q, id) then
  if redis.call('ZCARD', Q) == 0 and free() > 0 then return make_holder(id) end
  redis.call('ZADD', Q, redis.call('INCR', S), id)
end
local lease = lease_of(id)
redis.call('ZADD', D, now + lease, id)
if redis.call('PTTL', D) < lease then
  for _, k in ipairs { Q, D, S } do redis.call('PEXPIRE', k, 2 * lease) end
end
promote()
return held() or 0]]

-- The lease's end when a permit is free and nobody waits for one; 0 otherwise.
M.try_acquire = script [[
promote()
if redis.call('ZCARD', Q) > 0 or free() <= 0 then return 0 end
return make_holder(id)]]

-- The lease's new end; 0 when it had ended (the permit may have gone to another).
M.renew = script [[
local ends = held()
if not ends or ends <= now then
  redis.call('ZREM', H, id)
  promote()
  return 0
end
return make_holder(id)]]

-- Takes id out, holder or waiter; the permit goes to the head of the queue.
-- 1 when it held a permit.
M.leave = script [[
local was = redis.call('ZREM', H, id)
if was == 0 then drop_ticket(id) end
promote()
return was]]

return M
