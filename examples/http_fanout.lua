-- Twelve fetches, five at a time behind a semaphore, all aborted by the first failure (the
-- guide's Promise.all with a shared AbortController): requests in flight are cut off at once.
local http = require "ebb.http"
local task = require "ebb.task"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local semaphore = require "ebb.semaphore"

-- The server: every item takes its time, but /items/5 fails as soon as four
-- other requests are in flight. Handlers count the clients that went away.
local in_flight, cut_off = 0, 0
local crowd = task.future()
local server = http.listen("127.0.0.1", 0, function(req, res)
  in_flight = in_flight + 1
  if in_flight == 5 then crowd:resolve() end
  if req.path == "/items/5" then
    crowd:await()
    res.status = 500
    return res:finish("database on fire")
  end
  local ok = pcall(task.sleep, 10000, req.signal) -- aborts when the client goes away
  if not ok then cut_off = cut_off + 1 return end
  res:finish("item")
end)
local base = "http://127.0.0.1:" .. server.port

local sem = semaphore.new(5)
local controller = abort.controller()
local outcome = {}

-- One fetch: a permit first (the wait ends if anything fails meanwhile), then the
-- request; a failure of its own aborts everyone else with that error as the reason.
local function get(i)
  local ok, err = pcall(sem.acquire, sem, controller.signal)
  if not ok then
    outcome[i] = "aborted before its turn"
    error(err, 0)
  end
  ok, err = pcall(function()
    return http.fetch(base .. "/items/" .. i, { signal = controller.signal }):raise_for_status():text()
  end)
  sem:release()
  if ok then
    outcome[i] = "ok"
  elseif controller.signal.aborted and err == controller.signal.reason then
    outcome[i] = "aborted while fetching"
  else
    outcome[i] = ("failed: %s %d"):format(err.name, err.status)
    controller:abort(err) -- the first failure stops everyone else
  end
  if not ok then error(err, 0) end
end

local tasks = {}
for i = 1, 12 do tasks[i] = task.spawn(get, i) end
local ok, first = pcall(task.all, tasks)
print("task.all raised the first failure:", not ok and first.status)

for i = 1, 12 do print(("/items/%-2d %s"):format(i, outcome[i])) end
print("permits free:", sem.available, "waiting:", sem.waiting)
server:close()
print("server: requests cut off by their client:", cut_off)
