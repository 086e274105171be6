-- Request-scoped context (Node's AsyncLocalStorage): three concurrent requests interleave
-- their waits, and every log line reads its request id, tenant and elapsed time from ebb.context.
local task = require "ebb.task"
local clock = require "ebb.clock"
local context = require "ebb.context"

clock.auto()
local t0 = clock.now()
local request = context.new({ name = "request" }) -- { id=, tenant=, start= } while a request runs

-- Any function can log: the request comes from the context, not from a parameter.
local function log(fmt, ...)
  local r = request:get()
  local who = r and ("%s tenant=%s +%.0f ms"):format(r.id, r.tenant, clock.now() - r.start) or "no request"
  print(("[%3.0f ms] %-28s %s"):format(clock.now() - t0, who, fmt:format(...)))
end

local function query(sql, ms)
  log("db: %s", sql)
  task.sleep(ms)
  log("db: %s took %.0f ms", sql:match("^%S+"), ms)
end

local function handle(id, tenant, order, db_ms)
  request:run({ id = id, tenant = tenant, start = clock.now() }, function()
    log("begin order %d", order)
    query("SELECT order " .. order, db_ms)
    -- an audit task spawned here keeps this request's context, wherever it runs
    task.delay(7, function() log("audit: order %d written", order) end)
    task.yield()
    query("UPDATE order " .. order, db_ms / 2)
    log("end (status 200)")
  end)
end

log("server: three requests arrive")
task.group(function(g)
  g:spawn(handle, "req-1", "acme", 101, 40)
  task.sleep(5)
  g:spawn(handle, "req-2", "globex", 202, 24)
  task.sleep(5)
  g:spawn(handle, "req-3", "acme", 303, 36)
end)
task.sleep(50) -- let the audit tasks finish (every deadline differs: no float ties)
log("server: all requests done")
