-- ebb.retry_budget_redis: retry.budget's token bucket shared by every process that
-- uses the same Redis key. The tokens are a number at the key (absent: full); a
-- script takes a retry's cost or gives back a deposit atomically.
local check = require "ebb.check"
local errors = require "ebb.errors"
local task = require "ebb.task"
local redis = require "ebb.redis"
local check_abort = require("ebb.core").check_abort

local pairs, pcall, error, setmetatable, format, tostring =
  pairs, pcall, error, setmetatable, string.format, tostring

local M = {}
local RedisBudget = {}
RedisBudget.__index = RedisBudget

-- ARGV: capacity, cost. 1: paid, 0: too few tokens.
local WITHDRAW = redis.script [[
local v = redis.call('GET', KEYS[1])
local tokens = v and tonumber(v) or tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
if tokens < cost then return 0 end
redis.call('SET', KEYS[1], string.format('%.17g', tokens - cost))
return 1]]

-- ARGV: capacity, amount. Full again: the key goes.
local DEPOSIT = redis.script [[
local v = redis.call('GET', KEYS[1])
if not v then return 1 end
local tokens = tonumber(v) + tonumber(ARGV[2])
if tokens >= tonumber(ARGV[1]) then redis.call('DEL', KEYS[1])
else redis.call('SET', KEYS[1], string.format('%.17g', tokens)) end
return 1]]

local function check_budget(b, fname) check.self(b, RedisBudget, fname, "redis budget", 2) end

-- A script on the budget's key, given at most `timeout` ms.
local function call(self, script, a, b, signal)
  return task.timeout(self.timeout, script.run, script, self.client, { self.key }, { a, b }, signal)
end

-- A closed client (or pool) is the caller's mistake, not an outage: raised.
local function raise_if_closed(err)
  if errors.is(err, redis.ClosedError) then error(err, 0) end
end

-- What a failed round trip means: the caller's abort, a reply error and a closed
-- client are raised; a server out of reach is the `unreachable` policy's to answer.
local function failed(self, err, signal)
  check.raise_if_aborted(check_abort(signal))
  if errors.is(err, redis.ReplyError) then error(err, 0) end
  raise_if_closed(err)
  self.failures = self.failures + 1
  return self.unreachable == "allow"
end

-- withdraw(err [, signal]) -> true when the fleet's budget paid for a retry after err.
function RedisBudget:withdraw(err, signal)
  check_budget(self, "withdraw")
  check.opt_signal(signal, 2, "withdraw")
  local cost = errors.is(err, errors.TimeoutError) and self.timeout_cost or self.retry_cost
  local ok, r = pcall(call, self, WITHDRAW, self.capacity, cost, signal)
  if ok then return r == 1 end
  return failed(self, r, signal)
end

-- deposit([signal]): a success gives back `refund` tokens. Deposits made while one
-- is under way go together in the next round trip; one that could not be made is
-- kept for the next.
function RedisBudget:deposit(signal)
  check_budget(self, "deposit")
  check.opt_signal(signal, 1, "deposit")
  if self.refund == 0 then return end
  self._owed = self._owed + self.refund
  if self._depositing then return end
  self._depositing = true
  while self._owed > 0 do
    local amount = self._owed
    self._owed = 0
    local ok, err = pcall(call, self, DEPOSIT, self.capacity, amount, signal)
    if not ok then
      self._owed = self._owed + amount
      self._depositing = false
      raise_if_closed(err)
      self.failures = self.failures + 1
      return
    end
  end
  self._depositing = false
end

-- tokens([signal]) -> the tokens the fleet has left.
function RedisBudget:tokens(signal)
  check_budget(self, "tokens")
  check.opt_signal(signal, 1, "tokens")
  local v
  if signal then v = self.client:command("GET", self.key, signal) else v = self.client:command("GET", self.key) end
  return v and tonumber(v) or self.capacity
end

function RedisBudget:__tostring()
  check_budget(self, "__tostring")
  return format("RedisBudget (%s, %s tokens at most, %s when unreachable)", self.key, tostring(self.capacity),
    self.unreachable == "allow" and "retries" or "no retries")
end

-- new(opts, defaults, kinds, check_costs): the options of retry.budget (defaults,
-- kinds, and its check of the costs against the capacity) and the Redis ones.
function M.new(opts, defaults, kinds, check_costs)
  local valid = { client = redis._client_kind, key = check.kind.string, unreachable = check.kind.one_of("allow", "deny"),
    timeout = check.kind.ms }
  for k, v in pairs(kinds) do valid[k] = v end
  opts = check.options(opts, 1, "redis", valid, 1)
  check.required(opts, { "client", "key" }, 1, "redis")
  local b = { client = opts.client, key = opts.key, unreachable = opts.unreachable or "allow",
    timeout = opts.timeout or 1000, failures = 0, _owed = 0, _depositing = false }
  for k, v in pairs(defaults) do
    if opts[k] ~= nil then b[k] = opts[k] else b[k] = v end
  end
  check_costs(b, "redis")
  return setmetatable(b, RedisBudget)
end

return M
