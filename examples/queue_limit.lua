-- A concurrency-limited download queue (p-limit / p-queue): at most 2 downloads at a time,
-- an urgent one jumps the waiting line, and a stalled one is cut by its per-job timeout.
local queue = require "ebb.queue"
local task = require "ebb.task"
local clock = require "ebb.clock"

clock.auto() -- virtual time: the latencies below take no real time, and print exactly

local LIMIT = 2
local q = queue.new(LIMIT)
local t0 = clock.now()
local most = 0

local function log(fmt, ...)
  print(("[%3.0f ms] %s"):format(clock.now() - t0, fmt:format(...)))
end

-- A pretend download that takes `ms` of (virtual) network time.
local function download(name, ms)
  return function()
    if q.active > most then most = q.active end
    log("start %-10s (%d active, %d waiting)", name, q.active, q.pending)
    local ok, err = pcall(task.sleep, ms)
    if not ok then -- cancelled: clean up, then let the error go on
      log("cut   %-10s partial file removed", name)
      error(err, 0)
    end
    log("done  %-10s %.0f ms", name, ms)
    return name
  end
end

local jobs = {
  { "index.html", 120 },
  { "style.css", 70 },
  { "app.js", 200, { timeout = 150 } }, -- the server stalls: cut after 150 ms
  { "logo.png", 90 },
  { "font.woff", 60 },
}
local tasks = {}
for i, j in ipairs(jobs) do tasks[i] = q:push(download(j[1], j[2]), j[3]) end
log("queued %d downloads, limit %d: %d active, %d waiting", #jobs, LIMIT, q.active, q.pending)

task.sleep(30)
log("urgent: sec.patch (priority 10) joins the queue")
tasks[#tasks + 1] = q:push(download("sec.patch", 40), { priority = 10 })
jobs[#jobs + 1] = { "sec.patch" }

q:idle()
log("idle; at most %d downloads were active at once", most)
for i, t in ipairs(tasks) do
  local ok, err = t:result()
  print(("  %-10s %s"):format(jobs[i][1], ok and "ok" or tostring(err)))
end
