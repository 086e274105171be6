-- ebb.worker: pools of worker threads for CPU-heavy work. Each worker runs a
-- runtime of its own (a Lua state, a loop); jobs, their arguments and their
-- results are copied between the states (host/worker_*.c).
local getmetatable = debug.getmetatable -- recorded right by the JIT for every value (docs/rules.md)
local core = require "ebb.worker.core"
local check = require "ebb.check"
local errors = require "ebb.errors"
local wire = require "ebb.worker_wire"
local context_by_name = require("ebb.context")._by_name

local M = {}
M.WorkerError, M.CopyError = wire.WorkerError, wire.CopyError

local DEFAULT_GRACE = 1000
local DEFAULT_NICE = 10
local MAX_SIZE = 256

local Pool = {}
-- pending and active are read as ebb.queue's are: fields that are always current
local stats = core.stats
local STAT_OF = { active = 2, pending = 3, paused = 6 }
-- A function, not the check module, in __index's upvalues: the REPL's completion
-- lists the functions of the tables there as the pool's methods.
local function not_a_pool(p) check.expected(p, 1, "__index", "worker pool", 3) end
Pool.__index = function(p, k)
  local method = Pool[k]
  if method ~= nil then return method end
  local at = STAT_OF[k]
  if not at then return nil end
  if getmetatable(p) ~= Pool then not_a_pool(p) end
  return (select(at, stats(rawget(p, "_core"))))
end

local kind = check.kind
local POOL_OPTS = {
  size = kind.whole(1, MAX_SIZE),
  max_memory = kind.whole(0, 2 ^ 40),
  grace = kind.ms,
  nice = kind.whole(0, 19),
}

local function pool_tostring(p)
  if getmetatable(p) ~= Pool then check.expected(p, 1, "__tostring", "worker pool", 2) end
  local size, active, pending, closed, _, paused = core.stats(p._core)
  return ("Pool (%d workers, %d active, %d pending%s%s)"):format(size, active, pending,
    paused and ", paused" or "", closed and ", closed" or "")
end
Pool.__tostring = pool_tostring

function M.pool(opts)
  if opts ~= nil then check.options(opts, 1, "pool", POOL_OPTS) end
  opts = opts or {}
  local size = opts.size or core.parallelism()
  local pc, why = core.new(size, opts.max_memory or 0, opts.grace or DEFAULT_GRACE, opts.nice or DEFAULT_NICE)
  if not pc then error(wire.WorkerError(why), 2) end
  return setmetatable({ _core = pc, size = size }, Pool)
end

local function check_pool(p, fname)
  if getmetatable(p) ~= Pool then check.expected(p, 1, fname, "worker pool", 2) end
end

local RUN_OPTS = {
  signal = kind.signal, timeout = kind.ms,
  priority = kind.priority,
}

local function ended(timeout, ok, status, ...)
  if ok == false then error(status, 0) end -- cancelled or aborted: the reason
  if status == "ok" then return ... end
  if status == "error" then error(wire.error((...)), 0) end
  if status == "timeout" then
    error(errors.TimeoutError("the job timed out after " .. timeout .. " ms"), 0)
  end
  if status == "lost" then error(wire.WorkerError("the worker's Lua state failed"), 0) end
  if status == "copy" then error(wire.CopyError((...)), 0) end
  if status == "closed" then error(wire.WorkerError("the pool is closed"), 0) end
  -- nil, code, message: the pool closed under the job (at exit)
  error(wire.WorkerError("the pool closed before the job ran"), 0)
end

local function run(p, fname, code, ...)
  local signal, timeout, priority
  if type(code) == "table" then -- {code, signal = s, timeout = ms, priority = n}
    local opts = {}
    for k, v in pairs(code) do
      if k ~= 1 then opts[k] = v end
    end
    check.options(opts, 1, fname, RUN_OPTS) -- run is reached by a tail call: its caller is the script
    code, signal, timeout, priority = code[1], opts.signal, opts.timeout, opts.priority
  end
  if type(code) ~= "string" then check.expected(code, 1, fname, "string (a module name or Lua source)") end
  return ended(timeout, core.run(p._core, timeout or -1, signal, priority or 0, context_by_name(), code, ...))
end

function Pool:run(code, ...)
  check_pool(self, "run")
  return run(self, "run", code, ...)
end

function Pool:close()
  check_pool(self, "close")
  repeat
    local r, reason = core.close(self._core)
    if r == false then error(reason, 0) end
  until r == "done"
end
Pool.__close = Pool.close

function Pool:idle(signal)
  check_pool(self, "idle")
  if signal ~= nil and not check.is_signal(signal) then check.expected(signal, 1, "idle", "abort signal") end
  check.raise_if_aborted(core.idle(self._core, signal))
end

-- Fails every job still queued with reason (an AbortError by default), as ebb.queue's clear.
function Pool:clear(reason)
  check_pool(self, "clear")
  if reason == nil then reason = errors.AbortError("the queue was cleared") end
  core.clear(self._core, reason)
end

-- Stops handing queued jobs to workers (the running ones go on) until resume, as ebb.queue's pause.
function Pool:pause()
  check_pool(self, "pause")
  core.pause(self._core, true)
end

function Pool:resume()
  check_pool(self, "resume")
  core.pause(self._core, false)
end

function Pool:stats()
  check_pool(self, "stats")
  local size, active, pending, closed, replaced = core.stats(self._core)
  return { size = size, active = active, pending = pending, closed = closed, replaced = replaced }
end

local default_pool

function M.run(code, ...)
  if not default_pool then default_pool = M.pool() core._lasting(default_pool._core) end
  return run(default_pool, "run", code, ...)
end

-- Threads let go (a job that would not stop) and still running, in the whole process.
function M.abandoned() return core.abandoned() end

return M
