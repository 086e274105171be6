-- ebb.semaphore_redis_grants: how the waiters of one semaphore.redis learn that a
-- permit was handed to them: one subscription to the key's channel per semaphore
-- object, open while some task of it waits, each message waking the waiters it names.
local task = require "ebb.task"

local pcall, tonumber, gmatch = pcall, tonumber, string.gmatch

local M = {}

-- A message is "id lease_end id lease_end ...": the ids just made holders.
local function deliver(waiters, text)
  for id, ends in gmatch(text, "(%S+) (%S+)") do
    local w = waiters[id]
    if w and not w.granted then
      w.granted = tonumber(ends)
      w.wl:wake_all()
    end
  end
end

local function listen(sem, l)
  local ok, sub = pcall(sem.client.subscribe, sem.client, sem.channel)
  if not ok then
    if sem._listening == l then sem._listening = nil end
    return l.ready:resolve(false)
  end
  if l.stopped then
    sub:close()
    return l.ready:resolve(false)
  end
  l.sub = sub
  l.ready:resolve(true)
  while true do
    local got, msg = pcall(sub.recv, sub)
    if not got or msg == nil then break end
    deliver(sem._waiters, msg.message)
  end
  -- the subscription ended (closed, or lost for good): the next waiter opens another
  if sem._listening == l then sem._listening = nil end
  sub:close()
end

-- start(sem) -> true once grants reach sem's waiters from now on (a subscription
-- was opened, or one was open already); false when it could not be opened (the
-- waiters then find their grants when they ask again).
function M.start(sem, signal)
  local l = sem._listening
  if l and l.sub then return true end
  if not l then
    l = { sub = nil, stopped = false, ready = task.future() }
    sem._listening = l
    l.task = task.spawn(listen, sem, l)
  end
  return l.ready:await { signal = signal }
end

-- stop(sem): the subscription goes (an open one would keep the script running).
function M.stop(sem)
  local l = sem._listening
  if not l then return end
  sem._listening = nil
  l.stopped = true
  if l.sub then l.sub:close() end
end

local function close_if_idle(sem)
  task.yield()
  sem._closer = nil
  if sem.waiting == 0 and sem.held == 0 then M.stop(sem) end
end

-- idle(sem): nothing of sem waits or holds. The subscription goes after the tasks
-- ready now have run, unless one of them waits or holds again by then (a loop that
-- releases and acquires keeps it).
function M.idle(sem)
  if sem._listening and not sem._closer then sem._closer = task.spawn(close_if_idle, sem) end
end

return M
