-- The RequestTracker on a long-lived emitter: each request's listeners are added with its
-- own signal, so its response, its timeout or its caller giving up removes all of them.
local task = require "ebb.task"
local clock = require "ebb.clock"
local abort = require "ebb.abort"
local events = require "ebb.events"
local errors = require "ebb.errors"

clock.auto()
local t0 = clock.now()
local function log(fmt, ...) print(("[%3.0f ms] " .. fmt):format(clock.now() - t0, ...)) end

-- The connection lives for the whole run: it emits "progress" (id, percent) and
-- "response" (id, body) for every request sent over it.
local connection = events.new()

local Tracker = {}
Tracker.__index = Tracker

function Tracker.new(conn) return setmetatable({ conn = conn }, Tracker) end

-- A listener for one request's events only.
local function for_request(id, fn)
  return function(rid, ...) if rid == id then fn(...) end end
end

-- Waits for the response to request id, for at most timeout_ms, or until the caller's
-- signal aborts. Whatever ends the wait, `request:abort()` takes the request's listeners
-- off the connection: nothing of it stays behind.
function Tracker:track(id, timeout_ms, signal)
  local request = abort.controller()
  local response = task.future()
  self.conn:on("response", for_request(id, function(body) response:resolve(body) end), { signal = request.signal })
  self.conn:on("progress", for_request(id, function(pct) log("%s at %d%%", id, pct) end), { signal = request.signal })
  local ok, res = pcall(response.await, response, { timeout = timeout_ms, signal = signal })
  request:abort()
  if not ok then error(errors.wrap(res, "request " .. id .. " failed"), 0) end
  return res
end

local tracker = Tracker.new(connection)

-- The simulated server: the latency of each response (nil: it never comes); halfway
-- through, a progress event.
local latency = { ["req-1"] = 40, ["req-2"] = 130, ["req-3"] = nil, ["req-4"] = 60 }
local ids = { "req-1", "req-2", "req-3", "req-4" }
local server = {} -- its tasks, awaited at the end

local function send(id)
  local ms = latency[id]
  if not ms then return end
  server[#server + 1] = task.delay(ms / 2, connection.emit, connection, "progress", id, 50)
  server[#server + 1] = task.delay(ms, function()
    if not connection:emit("response", id, "200 OK") then log("%s: response came late, nobody listens", id) end
  end)
end

-- The caller of req-4 gives up after 25 ms (its user went away).
local user_left = abort.controller()
task.delay(25, function() user_left:abort(errors.AbortError("the user went away")) end)

local results = task.all_settled((function()
  local list = {}
  for i, id in ipairs(ids) do
    list[i] = function()
      task.sleep((i - 1) * 5)
      log("%s sent (listeners: %d)", id, connection:listener_count("response"))
      send(id)
      local ok, res = pcall(tracker.track, tracker, id, 100, id == "req-4" and user_left.signal or nil)
      if not ok then
        log("%s gave up: %s", id, table.concat(errors.chain(res), " -> "))
        error(res, 0)
      end
      log("%s resolved: %s", id, res)
      return res
    end
  end
  return list
end)())

local resolved = 0
for _, r in ipairs(results) do if r.ok then resolved = resolved + 1 end end
log("all settled: %d resolved, %d gave up; listeners left: response %d, progress %d", resolved,
  #results - resolved, connection:listener_count("response"), connection:listener_count("progress"))
task.all(server)
log("%s", tostring(connection))
