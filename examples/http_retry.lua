-- Retry over HTTP, as the guide's retryWithBackoff: 5xx is retried (waiting what the
-- server's Retry-After says), 4xx is a PermanentError that stops at once; all on loopback.
local http = require "ebb.http"
local retry = require "ebb.retry"
local errors = require "ebb.errors"
local clock = require "ebb.clock"

local PermanentError = errors.class("PermanentError")

-- The server: /api/data is busy twice (503, Retry-After: 1), then answers;
-- /api/missing is always 404.
local hits = 0
local server = http.listen("127.0.0.1", 0, function(req, res)
  if req.path == "/api/data" then
    hits = hits + 1
    if hits <= 2 then
      res.status = 503
      res.headers["Retry-After"] = "1"
      return res:finish("busy")
    end
    return res:json({ items = { "a", "b", "c" } })
  end
  res.status = 404
  res:finish("no such thing")
end)
local base = "http://127.0.0.1:" .. server.port

local t0 = clock.now()
-- whole seconds: the waits are of whole seconds, the rest takes a few ms
local function at() return ("[%d s]"):format(math.floor((clock.now() - t0) / 1000)) end

-- One attempt: 5xx raises a StatusError (retried), any other non-2xx a PermanentError.
local function get_json(path)
  local res = http.fetch(base .. path, { timeout = 5000 })
  if res.status >= 500 then res:raise_for_status() end
  if not res.ok then
    error(PermanentError(("%s: HTTP %d"):format(path, res.status), { status = res.status }))
  end
  return res:json()
end

local function fetch_with_retry(path)
  return retry(function() return get_json(path) end, {
    retries = 4,
    base = 50,
    should_retry = function(err) return not errors.is(err, PermanentError) end,
    -- honour the server's Retry-After; otherwise the backoff's own delay
    delay = function(_, err) return errors.is(err, http.StatusError) and err.retry_after or nil end,
    on_retry = function(err, attempt, ms)
      print(at(), ("attempt %d failed (%s), retrying in %d ms"):format(attempt + 1, err.status, ms))
    end,
  })
end

local data = fetch_with_retry("/api/data")
print(at(), "got " .. table.concat(data.items, ","), "after " .. hits .. " requests")

local ok, err = pcall(fetch_with_retry, "/api/missing")
print(at(), ok, tostring(err))
print("retried a 4xx:", errors.is(err, PermanentError) and "no" or "yes")
server:close()
