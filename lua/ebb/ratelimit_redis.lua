-- ebb.ratelimit_redis: one rate limit shared by every process that uses the same
-- Redis key: the GCRA of ebb.ratelimit in one script, on the server's clock; a take
-- refused sleeps what the server said to wait (with a little jitter) and asks again.
local check = require "ebb.check"
local redis = require "ebb.redis"
local ratelimit = require "ebb.ratelimit"
local line = require "ebb.ratelimit_line"
local waiting = line.waiting

local type, ipairs, setmetatable, format, random, min = type, ipairs, setmetatable, string.format, math.random, math.min

local M = {}
local RedisRateLimiter = {}
RedisRateLimiter.__index = function(l, k)
  if k == "waiting" then return waiting(l) end
  return RedisRateLimiter[k]
end

-- KEYS[1]: when the bucket is next empty (ms on the server's clock, absent: full);
-- ARGV: interval ms, tolerance ms (burst * interval), n. 0: taken; else ms to wait.
local TAKE = redis.script [[
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval, tolerance, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
if tat < now then tat = now end
local after = tat + n * interval
local wait = after - tolerance - now
if wait > 0 then return math.max(1, math.ceil(wait)) end
redis.call('SET', KEYS[1], string.format('%.3f', after), 'PX', math.ceil(after - now) + 1)
return 0]]

local function client_kind(v)
  if type(v) ~= "table" or type(v.command) ~= "function" then
    return " must be a redis client or pool, got " .. type(v)
  end
end
M.client_kind = client_kind

local function check_limiter(l, fname) check.self(l, RedisRateLimiter, fname, "redis rate limiter", 2) end

local function ask(l, n, signal)
  return TAKE:run(l.client, { l.key }, { l.interval, l.tolerance, n }, signal)
end

-- The line's attempt: nil once taken, else the ms to sleep: what the server said,
-- and up to a quarter interval more, so that waiters across the fleet do not ask
-- in step.
local function attempt(l, n, signal)
  local ms = ask(l, n, signal)
  if ms == 0 then return nil end
  return ms + random() * 0.25 * min(ms, l.interval)
end

function RedisRateLimiter:take(a, b)
  check_limiter(self, "take")
  local n, signal, timeout = line.take_args(a, b, self.burst, "take")
  line.take(self, n, signal, timeout, attempt)
end

-- try_take([n] [, signal]) -> true, or false and the ms the server said to wait (an
-- estimate from this process's own line while takes wait here).
function RedisRateLimiter:try_take(n, signal)
  check_limiter(self, "try_take")
  if type(n) ~= "number" and n ~= nil then check.expected(n, 1, "try_take", "number") end
  n = line.take_args(n, nil, self.burst, "try_take")
  check.opt_signal(signal, 2, "try_take")
  if not line.empty(self) then return false, (self.queued + n) * self.interval end
  local ms = ask(self, n, signal)
  if ms == 0 then return true end
  return false, ms
end

function RedisRateLimiter:__tostring()
  check_limiter(self, "__tostring")
  return format("RedisRateLimiter (%s, %s per %s ms, burst %d, %d waiting)", self.key, tostring(self.rate),
    tostring(self.per), self.burst, line.waiting(self))
end

function M.new(opts)
  local given, o = ratelimit._options(opts, "redis", { client = client_kind, key = check.kind.string })
  for _, name in ipairs { "client", "key" } do
    if given[name] == nil then check.badarg(1, "redis", format("option '%s' is required", name)) end
  end
  o.client, o.key = given.client, given.key
  return setmetatable(line.init(o), RedisRateLimiter)
end

return M
