-- ebb.gen: generators whose bodies may wait (`for v in g do`, g:next(), g:close()),
-- and gen.paginate, a lazy, rate-limited walk over a cursor-paginated API.
local errors = require "ebb.errors"
local check = require "ebb.check"
local task = require "ebb.task"
local core = require "ebb.core"
local host = require "ebb.host"
local remember_coroutine, traced = host.remember_coroutine, host.traced
local clock_now = require("ebb.clock").now

local select, error, getmetatable, setmetatable, unpack, xpcall = select, error, debug.getmetatable,
  setmetatable, unpack, xpcall
-- LuaJIT's own resume: a body's scheduler waits are passed up to the task
-- here, as coroutine.resume passes them, with no varargs on the way of a value
local co_create, co_resume, co_yield, co_running, co_status = coroutine.create, host.co_resume,
  coroutine.yield, host.co_running, coroutine.status
local cur, WAIT = core.cur, core.WAIT

local gen = {}

-- What g:close() raises at the body's pending yield.
gen.CloseRequest = errors.class("CloseRequest")

local YIELDED = {}      -- a yield of one value by a body's own yield function: the value follows
local YIELDED_MANY = {} -- a yield of several: a table of them follows (n: how many)
local CLOSE = {}        -- resume value that makes the pending yield raise the close request

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

local function ended(g, co, ok, e)
  g.status, g._co = "done", nil
  if not ok then raise(co, e) end
  if co_status(co) == "suspended" then -- a bare coroutine.yield: the body is abandoned
    error("a generator's body yielded with coroutine.yield: hand values to the loop with the yield " ..
      "function the body was given (task.yield() lets other tasks run)", 0)
  end
end

-- The body waits in the scheduler: the wait goes up to the task, and what
-- answers it back down to the body, until the body yields or ends.
local function pass_waits(co, ok, tag, v)
  while ok and tag == WAIT and co_status(co) == "suspended" do
    ok, tag, v = co_resume(co, co_yield(WAIT))
  end
  return ok, tag, v
end

-- Runs the body to its next yield. A coroutine keeps its own context values
-- across its yields (as coroutine.resume keeps them), starting from those of
-- its first resumer.
local function resume(g, co, with)
  local t = cur[1]
  if not t then
    local ok, tag, v = co_resume(co, with)
    if tag == WAIT then return pass_waits(co, ok, tag, v) end
    return ok, tag, v
  end
  local saved, own = t.ctx, g._ctx
  if own ~= nil then t.ctx = own end
  local ok, tag, v = co_resume(co, with)
  if tag == WAIT then ok, tag, v = pass_waits(co, ok, tag, v) end
  g._ctx = t.ctx
  t.ctx = saved
  return ok, tag, v
end

local function step(g)
  g.status = "running"
  local co = g._co
  local ok, tag, v = resume(g, co)
  if ok then
    if tag == YIELDED then
      g.status = "suspended"
      return v
    elseif tag == YIELDED_MANY then
      g.status = "suspended"
      return unpack(v, 1, v.n)
    end
  end
  ended(g, co, ok, tag)
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
  local ok, e = resume(g, co, CLOSE)
  if ok or e ~= req then ended(g, co, ok, e) end
  g.status, g._co = "done", nil
end

-- A yield called where it cannot yield: raises at the body's line.
local function misplaced(status)
  if status == "done" then error("yield called after its generator has ended", 3) end
  error("yield called outside its generator's body", 3)
end

local function yielded_after_close()
  error("the generator yielded after close: a body that catches the close request " ..
    "must re-raise it or return", 3)
end

local function nil_yielded()
  check.badarg(1, "yield", "value expected: yield(nil) would end the for loop", 2)
end

function gen.new(body, ...)
  check.callable(body, 1, "new")
  local g = setmetatable({ status = "new", _co = false, _closing = false }, GMT)
  local function yield(v, ...)
    if g.status ~= "running" or co_running() ~= g._co then misplaced(g.status) end
    if g._closing then yielded_after_close() end
    if v == nil then nil_yielded() end
    local answer
    if select("#", ...) == 0 then answer = co_yield(YIELDED, v)
    else answer = co_yield(YIELDED_MANY, { n = select("#", ...) + 1, v, ... }) end
    if answer == CLOSE then error(g._closing, 0) end
  end
  local n, args = select("#", ...), { ... }
  g._co = co_create(function() return body(yield, unpack(args, 1, n)) end)
  return g
end

-- push(body, out, ...): runs body(yield, ...) as a generator's body, but in
-- the caller's task and coroutine, with no resume per value: each value it
-- yields is handed to out(value) before yield returns (a yield's other values
-- are dropped). What out raises ends the body as a close would (a close
-- request raised at its yield) and is raised once the body has ended. As a
-- generator's, the body's context values are its own: out runs with the caller's.
function gen._push(body, out, ...)
  local t = cur[1]
  local outer = t and t.ctx
  local status, closing, failed, failure = "running", false, false, nil
  local function yield(v)
    if status ~= "running" or cur[1] ~= t then misplaced(status) end
    if closing then yielded_after_close() end
    if v == nil then nil_yielded() end
    local inner
    if t then inner, t.ctx = t.ctx, outer end
    local ok, e = xpcall(out, traced, v)
    if t then outer, t.ctx = t.ctx, inner end
    if not ok then
      failed, failure = true, e
      closing = gen.CloseRequest("the generator was closed")
      error(closing, 0)
    end
  end
  local ok, e = xpcall(body, traced, yield, ...)
  status = "done"
  if t then t.ctx = outer end
  if failed then error(failure, 0) end
  if not ok then error(e, 0) end
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
