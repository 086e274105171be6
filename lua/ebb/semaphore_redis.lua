-- ebb.semaphore_redis: permits shared by every process that uses the same Redis key.
-- The holders are a sorted set of ids scored by when their lease ends (the server's
-- clock, so the processes' clocks need not agree); a script takes, renews and gives
-- back a permit atomically; a holder renews its lease while it holds, so one that
-- dies gives its permit back when the lease runs out.
local task = require "ebb.task"
local check = require "ebb.check"
local errors = require "ebb.errors"
local redis = require "ebb.redis"

local type, ipairs, pairs, error, pcall, setmetatable, format, random =
  type, ipairs, pairs, error, pcall, setmetatable, string.format, math.random
local kind = check.kind

local M = {}
local RedisSemaphore = {}
RedisSemaphore.__index = RedisSemaphore

local NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "

-- KEYS[1]: the holders; ARGV: permits, lease ms, id. 1: taken (or already held), 0: none free.
local ACQUIRE = redis.script(NOW .. [[
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1]])

-- ARGV: lease ms, id. 1: renewed, 0: the lease had ended (the permit is someone else's).
local RENEW = redis.script(NOW .. [[
local until_ = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[2]))
if not until_ or until_ <= now then
  redis.call('ZREM', KEYS[1], ARGV[2])
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1]])

local OPTIONS = {
  client = function(v)
    if type(v) ~= "table" or type(v.command) ~= "function" then
      return " must be a redis client or pool, got " .. type(v)
    end
  end,
  key = kind.string, permits = kind.whole(1, 2 ^ 31), lease = kind.whole(30, 1e9), poll = kind.ms,
}

local function check_sem(s, fname) check.self(s, RedisSemaphore, fname, "redis semaphore", 2) end

function M.new(opts)
  opts = check.options(opts, 1, "redis", OPTIONS)
  for _, name in ipairs { "client", "key", "permits" } do
    if opts[name] == nil then check.badarg(1, "redis", format("option '%s' is required", name)) end
  end
  return setmetatable({
    client = opts.client, key = opts.key, permits = opts.permits, lease = opts.lease or 10000,
    poll = opts.poll or 50, held = {}, nheld = 0, lost = 0,
    prefix = format("%08x%08x", random(0, 2 ^ 31 - 1), random(0, 2 ^ 31 - 1)), count = 0,
  }, RedisSemaphore)
end

-- Renews the holder's lease every third of it, until released or the client is
-- closed; a lease found ended is counted in `lost` (its permit may be someone
-- else's by then).
local function renew_loop(self, id)
  local period = self.lease / 3
  while true do
    task.sleep(period)
    if self.held[id] == nil then return end
    local ok, r = pcall(RENEW.run, RENEW, self.client, { self.key }, { self.lease, id })
    if not ok and errors.is(r, redis.ClosedError) then -- the client is closed: the lease runs out
      self.held[id] = nil
      self.nheld = self.nheld - 1
      return
    end
    if ok and r == 0 then
      self.held[id] = nil
      self.nheld = self.nheld - 1
      self.lost = self.lost + 1
      return
    end
  end
end

local function give_back(self, id)
  pcall(self.client.command, self.client, "ZREM", self.key, id)
end

-- acquire([signal]): waits (polling every `poll` ms, with jitter) for a permit.
function RedisSemaphore:acquire(signal)
  check_sem(self, "acquire")
  check.opt_signal(signal, 1, "acquire")
  self.count = self.count + 1
  local id = self.prefix .. ":" .. self.count
  while true do
    local ok, r = pcall(ACQUIRE.run, ACQUIRE, self.client, { self.key }, { self.permits, self.lease, id }, signal)
    if not ok then
      -- the script may have run (its reply lost to a cancel or a dropped
      -- connection): the id is removed, so no permit is held for nobody
      task.spawn(give_back, self, id)
      error(r, 0)
    end
    if r == 1 then
      self.held[id] = task.spawn(renew_loop, self, id)
      self.nheld = self.nheld + 1
      self.last = id
      return id
    end
    task.sleep(self.poll * (0.5 + random()), signal)
  end
end

-- release([id]): gives back the permit `id` (default: the one taken last and held).
function RedisSemaphore:release(id)
  check_sem(self, "release")
  if id == nil then
    for k in pairs(self.held) do if id == nil or k > id then id = k end end
    if id == nil then check.badarg(1, "release", "nothing is held") end
  end
  local renewer = self.held[id]
  if renewer == nil then return false end
  self.held[id] = nil
  self.nheld = self.nheld - 1
  renewer:cancel()
  -- given back even by a task being cancelled (a with() whose fn was cancelled)
  task.shield(self.client.command, self.client, "ZREM", self.key, id)
  return true
end

function RedisSemaphore:with(fn, ...)
  check_sem(self, "with")
  check.callable(fn, 1, "with")
  local id = self:acquire()
  local function finish(ok, ...)
    self:release(id)
    if not ok then error((...), 0) end
    return ...
  end
  return finish(pcall(fn, ...))
end

function RedisSemaphore:__tostring()
  check_sem(self, "__tostring")
  return format("RedisSemaphore (%s, %d permits, %d held here)", self.key, self.permits, self.nheld)
end

return M
