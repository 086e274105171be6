-- Error cause chains across waits: processOrder -> getUser -> HTTP 503, each layer wrapping the
-- one below with errors.wrap; the top prints the whole chain and still finds the HttpError's status.
local task = require "ebb.task"
local clock = require "ebb.clock"
local errors = require "ebb.errors"

clock.auto()
local t0 = clock.now()
local function log(fmt, ...) print(("[%3.0f ms] " .. fmt):format(clock.now() - t0, ...)) end

local HttpError = errors.class("HttpError") -- HttpError(message, {status=}) keeps the field

-- The simulated API: the orders service answers, the users service is down.
local function http_get(path, latency, status)
  log("GET %s", path)
  task.sleep(latency)
  if status >= 400 then error(HttpError("HTTP " .. status, { status = status })) end
  return { path = path }
end

local function get_order(order_id)
  http_get("/api/orders/" .. order_id, 30, 200)
  return { id = order_id, user_id = 42, total = 99.5 }
end

local function get_user(id)
  local ok, res = pcall(http_get, "/api/users/" .. id, 45, 503)
  if not ok then error(errors.wrap(res, "Failed to fetch user " .. id), 0) end
  return res
end

local function charge_user(user, total)
  task.sleep(20)
  return "charged " .. total
end

local function process_order(order_id)
  local ok, res = pcall(function()
    local order = get_order(order_id)
    local user = get_user(order.user_id)
    return charge_user(user, order.total)
  end)
  if not ok then error(errors.wrap(res, ("processOrder(%d) failed"):format(order_id)), 0) end
  return res
end

local ok, e = pcall(process_order, 123)
log("ok: %s", tostring(ok))
print("tostring(e):")
print(tostring(e))
print("errors.chain(e): " .. table.concat(errors.chain(e), " -> "))

-- Walk the causes to act on the root: a 5xx is worth retrying, a 4xx is not.
local root = e
while root.cause do root = root.cause end
print(("root cause: %s, status %d, retryable: %s"):format(
  root.name, root.status, tostring(errors.is(root, HttpError) and root.status >= 500)))
-- The traceback is the one captured where the HttpError was made, after the sleep.
print("HttpError made at: " .. root.traceback:match("\n%s*([^%s]+:%d+):"))
print("top error is an Error: " .. tostring(errors.is(e, errors.Error)) ..
  ", is an HttpError: " .. tostring(errors.is(e, HttpError)))
