-- ebb.ratelimit_redis: one rate limit shared by every process that uses the same
-- Redis key: the GCRA of ebb.ratelimit in one script, on the server's clock. A take
-- books its tokens at the first time the server has them, in the order the takes
-- reach the server, and sleeps until then: one round trip, no polling.
local check = require "ebb.check"
local task = require "ebb.task"
local abort = require "ebb.abort"
local redis = require "ebb.redis"
local ratelimit = require "ebb.ratelimit"
local line = require "ebb.ratelimit_line"
local take_args, timed_out = line.take_args, line.timed_out
local check_abort = require("ebb.core").check_abort

local type, pcall, error, setmetatable, format = type, pcall, error, setmetatable, string.format

local M = {}
local RedisRateLimiter = {}
RedisRateLimiter.__index = RedisRateLimiter

-- KEYS[1]: when the bucket is next empty (ms on the server's clock; absent: full).
-- ARGV: interval ms, tolerance ms (burst * interval), n, the longest wait to book (ms,
-- or -1 for any). Returns the wait in microseconds (0: now), the tokens booked; or,
-- when the wait is longer than allowed, minus it, nothing booked. The time booked
-- until is returned too, for giving the tokens back.
local TAKE = redis.script [[
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval, tolerance, n, longest = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
if tat < now then tat = now end
local after = tat + n * interval
local wait = after - tolerance - now
if wait < 0 then wait = 0 end
if longest >= 0 and wait > longest then return { -math.max(1, math.ceil(wait * 1000)), '' } end
local booked = string.format('%.3f', after)
redis.call('SET', KEYS[1], booked, 'PX', math.ceil(after - now) + 1)
return { math.ceil(wait * 1000), booked }]]

-- ARGV: the time a take booked until, n * interval. Its tokens back if no take
-- booked after it (then nothing depends on them); 1 if given back.
local GIVE_BACK = redis.script [[
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local before = tonumber(ARGV[1]) - tonumber(ARGV[2])
local ttl = redis.call('PTTL', KEYS[1]) - tonumber(ARGV[2])
if ttl <= 0 then redis.call('DEL', KEYS[1]) return 1 end
redis.call('SET', KEYS[1], string.format('%.3f', before), 'PX', math.ceil(ttl))
return 1]]

local function check_limiter(l, fname) check.self(l, RedisRateLimiter, fname, "redis rate limiter", 2) end

-- ask(l, n, longest, signal) -> ms to wait (the tokens booked), or nil and the ms
-- the server would have had them in; and what the booking is (for give_back).
local function ask(l, n, longest, signal)
  local r = TAKE:run(l.client, { l.key }, { l.interval, l.tolerance, n, longest or -1 }, signal)
  if r[1] < 0 then return nil, -r[1] / 1000 end
  return r[1] / 1000, r[2]
end

-- ms: how long giving tokens back may take: a server that stopped answering keeps
-- no task waiting for it (the tokens then stay used).
local GIVE_BACK_WITHIN = 2000

-- In a task of its own, by EVAL (no SCRIPT LOAD to wait for first): the command
-- is written before the take raises, so it goes before the caller's next ones.
local function give_back_in_task(l, booked, n)
  pcall(l.client.command, l.client, "EVAL", GIVE_BACK.source, 1, l.key, booked, n * l.interval,
    abort.timeout(GIVE_BACK_WITHIN))
end

local function give_back(l, booked, n)
  task.spawn(give_back_in_task, l, booked, n)
  task.shield(task.yield)
end

-- take([n] [, signal | opts]): books n tokens on the server and sleeps until they are there.
function RedisRateLimiter:take(a, b)
  check_limiter(self, "take")
  local n, signal, timeout = take_args(a, b, self.burst, "take")
  check.raise_if_aborted(check_abort(signal))
  local ms, booked = ask(self, n, timeout, signal)
  if not ms then timed_out(timeout) end -- they cannot be there in time: no wait for nothing
  if ms == 0 then return end
  self.waiting = self.waiting + 1
  local ok, err = pcall(task.sleep, ms, signal)
  self.waiting = self.waiting - 1
  if not ok then
    -- ended before its time: the tokens go back unless a later take booked after
    -- them; a server that does not answer does not hold the raise up
    give_back(self, booked, n)
    error(err, 0)
  end
end

-- try_take([n] [, signal]) -> true, or false and the ms until the server would have them.
function RedisRateLimiter:try_take(n, signal)
  check_limiter(self, "try_take")
  if type(n) ~= "number" and n ~= nil then check.expected(n, 1, "try_take", "number") end
  n = take_args(n, nil, self.burst, "try_take")
  check.opt_signal(signal, 2, "try_take")
  check.raise_if_aborted(check_abort(signal))
  local ms, later = ask(self, n, 0, signal)
  if ms then return true end
  return false, later
end

function RedisRateLimiter:__tostring()
  check_limiter(self, "__tostring")
  return format("RedisRateLimiter (%s, %s per %s ms, burst %d, %d waiting)", self.key, tostring(self.rate),
    tostring(self.per), self.burst, self.waiting)
end

function M.new(opts)
  local given, o = ratelimit._options(opts, "redis", { client = redis._client_kind, key = check.kind.string })
  check.required(given, { "client", "key" }, 1, "redis")
  o.client, o.key, o.waiting = given.client, given.key, 0
  return setmetatable(o, RedisRateLimiter)
end

return M
