-- ebb.redis_pool: up to `size` clients, each lent to one task at a time (for
-- MULTI/EXEC with WATCH, blocking commands, anything that holds the connection).
local semaphore = require "ebb.semaphore"
local check = require "ebb.check"
local errors = require "ebb.errors"
local client = require "ebb.redis_client"

local type, pairs, error, pcall, select, setmetatable, format = type, pairs, error, pcall, select, setmetatable, string.format

local M = {}
local Pool = {}
Pool.__index = Pool

local function check_pool(p, fname) check.self(p, Pool, fname, "redis pool", 2) end

function M.new(opts)
  local redis = require "ebb.redis"
  local all = { size = check.kind.whole(1, 1e6) }
  for k, v in pairs(redis._CONNECT) do all[k] = v end
  local o, given = redis._settings(opts, nil, "pool", all)
  local size = given.size or 10
  o.size = nil
  return setmetatable({ _opts = o, _sem = semaphore.new(size), _idle = {}, size = size, closed = false,
    address = o.address, _lent = 0 }, Pool)
end

local function take(self, signal)
  self._sem:acquire(signal)
  local idle = self._idle
  local c = idle[#idle]
  if c then
    idle[#idle] = nil
    return c
  end
  local ok, got = pcall(client.new, self._opts)
  if not ok then
    self._sem:release()
    error(got, 0)
  end
  return got
end

local function give_back(self, c, ok, err)
  -- a client that failed in the middle of something (a MULTI, a blocking command)
  -- is not lent again; a reply error leaves it as it was
  if (ok or errors.is(err, client.ReplyError)) and not self.closed and not c.closed then
    self._idle[#self._idle + 1] = c
  else
    c:close()
  end
  if not self.closed then self._sem:release() end
end

local function finish(self, c, ok, ...)
  self._lent = self._lent - 1
  give_back(self, c, ok, (...))
  if not ok then error((...), 0) end
  return ...
end

-- with(fn, ...): fn(client, ...) with a client of the pool's own for its whole run.
function Pool:with(fn, ...)
  check_pool(self, "with")
  check.callable(fn, 1, "with")
  if self.closed then error(client.ClosedError("the pool is closed"), 0) end
  local c = take(self, nil)
  self._lent = self._lent + 1
  return finish(self, c, pcall(fn, c, ...))
end

local function run_command(c, ...) return c:command(...) end

function Pool:command(name, ...)
  check_pool(self, "command")
  if type(name) ~= "string" then check.expected(name, 1, "command", "string") end
  if self.closed then error(client.ClosedError("the pool is closed"), 0) end
  local n = select("#", ...)
  local last = n > 0 and select(n, ...) or nil
  local c = take(self, check.is_signal(last) and last or nil)
  self._lent = self._lent + 1
  return finish(self, c, pcall(run_command, c, name, ...))
end

-- subscribe(channels [, opts]) -> a Subscription on a connection of its own, not one
-- of the clients lent.
local function subscribe(self, command, list, opts, fname)
  check_pool(self, fname)
  if self.closed then error(client.ClosedError("the pool is closed"), 0) end
  return require("ebb.redis_pubsub").open(self._opts, command, list, opts, fname)
end

function Pool:subscribe(channels, opts) return subscribe(self, "SUBSCRIBE", channels, opts, "subscribe") end

function Pool:psubscribe(patterns, opts) return subscribe(self, "PSUBSCRIBE", patterns, opts, "psubscribe") end

function Pool:close()
  check_pool(self, "close")
  if self.closed then return end
  self.closed = true
  for i = 1, #self._idle do self._idle[i]:close() end
  self._idle = {}
  self._sem:close()
end
Pool.__close = Pool.close

function Pool:__tostring()
  check_pool(self, "__tostring")
  return format("RedisPool (%s, %d of %d lent%s)", self.address, self._lent, self.size,
    self.closed and ", closed" or "")
end

return M
