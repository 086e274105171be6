-- ebb.worker_wire: how an error crosses between a worker thread and its pool:
-- as a plain table (name, message, cause chain, fields, the worker's
-- traceback) that host/worker_copy.c can copy, made into an error again on
-- the other side, of the same class when the class is one of ebb's.
local errors = require "ebb.errors"

local wire = {}

-- A worker failed outside the job's own code: out of memory, its state lost.
wire.WorkerError = errors.class("WorkerError")
-- A value that cannot be copied to or from a worker (a function, a cycle...).
wire.CopyError = errors.class("CopyError")

local CLASSES = {
  Error = errors.Error, AbortError = errors.AbortError, TimeoutError = errors.TimeoutError,
  SystemError = errors.SystemError, AggregateError = errors.AggregateError,
  WorkerError = wire.WorkerError, CopyError = wire.CopyError,
}

local OWN = { name = true, message = true, cause = true, traceback = true }
local PLAIN = { string = true, number = true, boolean = true }
local MAX_CAUSES = 20

local function pack(e, tb, depth)
  if depth > MAX_CAUSES then return nil end
  if errors.is_error(e) then
    local fields
    for k, v in pairs(e) do
      if type(k) == "string" and not OWN[k] and PLAIN[type(v)] then
        fields = fields or {}
        fields[k] = v
      end
    end
    return {
      name = tostring(e.name), message = tostring(e.message), fields = fields,
      traceback = type(e.traceback) == "string" and e.traceback or tb,
      cause = e.cause ~= nil and pack(e.cause, nil, depth + 1) or nil,
    }
  end
  -- any other value: an Error whose message is the value, kept as `value` when plain
  return { name = "Error", message = tostring(e), traceback = tb, value = PLAIN[type(e)] and e or nil }
end

-- In the worker: what crosses for the error e (raised where tb says).
function wire.pack_error(e, tb) return pack(e, tb, 0) end

function wire.out_of_memory()
  return wire.WorkerError("the worker ran out of memory (its max_memory)")
end

function wire.copy_error(why) return wire.CopyError(why) end

local function build(t)
  local C = CLASSES[t.name] or errors.Error
  local opts = t.fields or {}
  if not CLASSES[t.name] then opts.name = t.name end
  if t.cause then opts.cause = build(t.cause) end
  if t.value ~= nil then opts.value = t.value end
  local e = C(t.message, opts)
  if t.traceback then -- the worker's frames, marked as such under the usual first line
    e.traceback = "stack traceback:\n\t(in a worker thread)\n" .. t.traceback:gsub("^stack traceback:\n?", "")
  end
  return e
end

-- On the pool's side: the error the job's caller gets.
function wire.error(t) return build(t) end

return wire
