-- The RequestTracker leak, fixed: each pending request is a future in a map, settled by its
-- response or dropped when f:await{timeout=} gives up; the map empties and no timer is left.
local task = require "ebb.task"
local clock = require "ebb.clock"
local errors = require "ebb.errors"
local core = require "ebb.core"

clock.auto()
local t0 = clock.now()
local timers_at_start = core.stats().timers
local function log(fmt, ...) print(("[%3.0f ms] " .. fmt):format(clock.now() - t0, ...)) end

local Tracker = {}
Tracker.__index = Tracker

function Tracker.new() return setmetatable({ pending = {}, size = 0 }, Tracker) end

-- Waits for the response to request id; whatever happens (response, timeout, cancellation)
-- the entry leaves the map. The await's timer is cleared as soon as the future settles.
function Tracker:track(id, timeout_ms)
  local f = task.future()
  self.pending[id], self.size = f, self.size + 1
  local ok, res = pcall(f.await, f, { timeout = timeout_ms })
  self.pending[id], self.size = nil, self.size - 1
  if not ok then error(errors.wrap(res, "request " .. id .. " failed"), 0) end
  return res
end

-- Called by the transport when a response arrives; a late one finds no entry.
function Tracker:deliver(id, response)
  local f = self.pending[id]
  if not f then
    log("response for %s arrived after its timeout: dropped (nothing to leak)", id)
    return
  end
  f:resolve(response)
end

local tracker = Tracker.new()

-- The simulated server: response latency per request, nil = the response never comes.
local latency = { ["req-1"] = 40, ["req-2"] = 130, ["req-3"] = nil, ["req-4"] = 75, ["req-5"] = 25 }
local ids = { "req-1", "req-2", "req-3", "req-4", "req-5" }
local responses = {} -- the server's reply tasks, awaited at the end

local function request(id)
  log("%s sent (pending: %d)", id, tracker.size + 1)
  if latency[id] then
    responses[#responses + 1] = task.delay(latency[id], tracker.deliver, tracker, id, "200 OK")
  end
  local ok, res = pcall(tracker.track, tracker, id, 100) -- each request gets 100 ms
  if not ok then
    log("%s gave up: %s (pending: %d)", id, table.concat(errors.chain(res), " -> "), tracker.size)
    error(res, 0)
  end
  log("%s resolved: %s (pending: %d)", id, res, tracker.size)
  return res
end

-- Five requests, sent 5 ms apart, all in flight together.
local results = task.all_settled((function()
  local list = {}
  for i, id in ipairs(ids) do
    list[i] = function()
      task.sleep((i - 1) * 5)
      return request(id)
    end
  end
  return list
end)())

local ok_count = 0
for _, r in ipairs(results) do if r.ok then ok_count = ok_count + 1 end end
log("all settled: %d resolved, %d timed out; pending entries: %d", ok_count, #results - ok_count, tracker.size)
log("timers armed: %d (req-2's late response, still on its way)", core.stats().timers - timers_at_start)
task.all(responses) -- the late response for req-2 still comes in, and finds nothing to resolve
log("pending entries: %d, timers left: %d (at start: %d)", tracker.size, core.stats().timers, timers_at_start)
