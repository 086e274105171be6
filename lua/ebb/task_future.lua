-- ebb.task.future: a value one task settles and others await. Loaded the
-- first time task.future is called (ebb.task holds a stub for it).
local core = require "ebb.core"
local check = require "ebb.check"
local TimeoutError = require("ebb.errors").TimeoutError
local clock_now = require("ebb.clock.core").now

local select, error, rawget, setmetatable, unpack = select, error, rawget, setmetatable, unpack
local check_abort, waitlist = core.check_abort, core.waitlist

local raise_if_aborted = check.raise_if_aborted

local future = {}

local Future = {}
Future.__index = function(f, k)
  if k == "settled" then return rawget(f, "_state") ~= nil end
  return Future[k]
end

local function check_future(f, fname)
  check.self(f, Future, fname, "future", 2)
end

function Future:resolve(...)
  check_future(self, "resolve")
  if self._state then return false end
  self._state, self._n, self._values = "ok", select("#", ...), { ... }
  self._waiters:wake_all()
  return true
end

function Future:reject(err)
  check_future(self, "reject")
  if self._state then return false end
  self._state, self._error = "error", err
  self._waiters:wake_all()
  return true
end

local AWAIT = { signal = check.kind.signal, timeout = check.kind.ms }

function Future:await(opts)
  check_future(self, "await")
  local signal, timeout
  if opts ~= nil then
    check.options(opts, 1, "await", AWAIT)
    signal, timeout = opts.signal, opts.timeout
  end
  raise_if_aborted(check_abort(signal))
  local deadline = timeout and clock_now() + timeout
  while not self._state do
    local left = deadline and math.max(0, deadline - clock_now())
    local ok, reason = self._waiters:wait(signal, left)
    if ok == nil then error(TimeoutError("the future was not settled within " .. timeout .. " ms"), 2) end
    raise_if_aborted(ok, reason)
  end
  if self._state == "error" then error(self._error, 0) end
  return unpack(self._values, 1, self._n)
end

local STATES = { ok = "resolved", error = "rejected" }

function Future:__tostring()
  check_future(self, "__tostring")
  return "Future (" .. (STATES[rawget(self, "_state")] or "pending") .. ")"
end

function future.future()
  return setmetatable({ _waiters = waitlist() }, Future)
end

return future
