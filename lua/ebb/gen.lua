-- ebb.gen: generators whose bodies may wait (`for v in g do`, g:next(), g:close()),
-- and gen.paginate, a lazy, rate-limited walk over a cursor-paginated API.
local errors = require "ebb.errors"
local check = require "ebb.check"
local task = require "ebb.task"
local core = require "ebb.core"
local remember_coroutine = require("ebb.host").remember_coroutine
local clock_now = require("ebb.clock").now

local select, error, getmetatable, setmetatable, unpack = select, error, getmetatable,
  setmetatable, unpack
-- the host's resume: the body's scheduler waits pass through it to the task
local co_create, co_resume, co_yield, co_running, co_status = coroutine.create, coroutine.resume,
  coroutine.yield, coroutine.running, coroutine.status

local gen = {}

-- What g:close() raises at the body's pending yield.
gen.CloseRequest = errors.class("CloseRequest")

local YIELDED = {} -- first value of a yield made by a body's own yield function
local CLOSE = {}   -- resume value that makes the pending yield raise the close request

local G = {}
local GMT = { __name = "Generator", __index = G }

local function check_gen(g, fname)
  if getmetatable(g) ~= GMT then check.expected(g, 1, fname, "generator", 2) end
end

-- A string error's traceback is the body's, where it was raised (tables carry their own).
local function raise(co, e)
  remember_coroutine(co, e)
  error(e, 0)
end

local function ended(g, co, ok, ...)
  g.status, g._co = "done", nil
  if not ok then raise(co, (...)) end
  if co_status(co) == "suspended" then -- a bare coroutine.yield: the body is abandoned
    error("a generator's body yielded with coroutine.yield: hand values to the loop with the yield " ..
      "function the body was given (task.yield() lets other tasks run)", 0)
  end
end

local function resumed(g, co, ok, first, ...)
  if ok and first == YIELDED then
    g.status = "suspended"
    return ...
  end
  ended(g, co, ok, first, ...)
end

local function step(g)
  g.status = "running"
  local co = g._co
  return resumed(g, co, co_resume(co))
end

local function already_running()
  error("the generator is already running (its body is running or waiting in another call)", 3)
end

function G.next(g)
  check_gen(g, "next")
  local st = g.status
  if st == "done" then return end
  if st == "running" then already_running() end
  return step(g)
end

-- the for loop's iterator: g(nil, previous)
GMT.__call = function(g)
  check_gen(g, "__call")
  local st = g.status
  if st == "done" then return end
  if st == "running" then already_running() end
  return step(g)
end

GMT.__tostring = function(g)
  check_gen(g, "__tostring")
  return "Generator (" .. g.status .. ")"
end

-- Raises a close request at the pending yield, so the body's cleanup runs
-- (once). A body that catches it must re-raise it or return; any other error
-- its cleanup raises comes out of close, unchanged.
function G.close(g)
  check_gen(g, "close")
  local st = g.status
  if st == "done" then return end
  if st == "new" then -- never started: there is no cleanup to run
    g.status, g._co = "done", nil
    return
  end
  if st == "running" then error("cannot close a running generator (its body is running or waiting)", 2) end
  local req = gen.CloseRequest("the generator was closed")
  g._closing = req
  g.status = "running"
  local co = g._co
  local ok, e = co_resume(co, CLOSE)
  if ok or e ~= req then ended(g, co, ok, e) end
  g.status, g._co = "done", nil
end

function gen.new(body, ...)
  check.callable(body, 1, "new")
  local g = setmetatable({ status = "new", _co = false, _closing = false }, GMT)
  local function yield(...)
    -- once done, g._co is nil: so is co_running() in the main coroutine
    if g.status == "done" then error("yield called after its generator has ended", 2) end
    if co_running() ~= g._co then error("yield called outside its generator's body", 2) end
    if g._closing then
      error("the generator yielded after close: a body that catches the close request " ..
        "must re-raise it or return", 2)
    end
    if (...) == nil then check.badarg(1, "yield", "value expected: yield(nil) would end the for loop") end
    if co_yield(YIELDED, ...) == CLOSE then error(g._closing, 0) end
  end
  local n, args = select("#", ...), { ... }
  g._co = co_create(function() return body(yield, unpack(args, 1, n)) end)
  return g
end

function gen.is_generator(v) return getmetatable(v) == GMT end

local function throw_if_aborted(signal)
  check.raise_if_aborted(core.check_abort(signal))
end

-- fetch_page(cursor, signal) -> items, next_cursor; the first cursor is nil.
local PAGINATE = { signal = check.kind.signal, interval = check.kind.ms }

function gen.paginate(fetch_page, opts)
  check.callable(fetch_page, 1, "paginate")
  opts = check.options(opts, 2, "paginate", PAGINATE)
  local signal, interval = opts.signal, opts.interval or 0
  return gen.new(function(yield)
    local cursor, started
    repeat
      if started then
        local left = started + interval - clock_now()
        if left > 0 then task.sleep(left, signal) end
      end
      throw_if_aborted(signal)
      started = clock_now()
      local items, next_cursor = fetch_page(cursor, signal)
      throw_if_aborted(signal) -- an aborted walk hands over nothing more
      if items == nil then
        error("fetch_page returned no items (nil) for cursor " .. tostring(cursor) ..
          ": return an empty table for an empty page", 0)
      end
      yield(items)
      cursor = next_cursor
    until cursor == nil
  end)
end

return gen
