-- Specs for ebb.gen: generators whose bodies may wait, their close, and gen.paginate, as
-- the API contract ("ebb.gen", "rules every module follows") describes. Timed specs run on
-- the virtual clock (clock.auto()); every `it` body runs in a task of its own.
package.path = "spec/support/?.lua;" .. package.path
local gen = require "ebb.gen"
local task = require "ebb.task"
local clock = require "ebb.clock"
local abort = require "ebb.abort"
local errors = require "ebb.errors"

-- Asserts fn raises an error matching `pattern`, positioned at this spec file.
local assert_bad = require("asserts").bad_at("gen_spec%.lua")

local raised = require("asserts").raised -- calls fn(...), which must raise; returns what it raised
local await_error = require("task_support").await_error
local pack = require("values").pack

local function collect(g)
  local out = {}
  for v in g do out[#out + 1] = v end
  return out
end

local assert_at = require("asserts").elapsed -- the clock reads t0 + ms, to within rounding

-- A body yielding 1..n, logging "cleanup" into `log` however it ends (re-raising errors).
local function counting(log, n)
  return function(yield)
    local ok, e = pcall(function()
      for i = 1, n do yield(i) end
    end)
    log[#log + 1] = "cleanup"
    if not ok then error(e, 0) end
  end
end

-- A simulated cursor API over `pages` (a list of item lists): records each request's
-- cursor and start time in `log`, and takes `latency` ms of virtual time per request.
local function api(pages, log, latency)
  return function(cursor)
    log[#log + 1] = { cursor = cursor, at = clock.now() }
    if latency then task.sleep(latency) end
    local i = cursor or 1
    return pages[i], (i < #pages) and i + 1 or nil
  end
end

describe("ebb.gen", function()
  describe("new", function()
    it("iterates with a for loop, handing every yielded value to the loop variables", function()
      local g = gen.new(function(yield)
        yield(1, "one", nil, 1.5)
        yield(false, 2)
        yield("three")
      end)
      local seen = {}
      for a, b, c, d in g do seen[#seen + 1] = { a, b, c, d } end
      assert.same({ { 1, "one", nil, 1.5 }, { false, 2 }, { "three" } }, seen)
    end)

    it("passes the extra arguments of new to the body after yield", function()
      local g = gen.new(function(yield, from, to, step)
        for i = from, to, step do yield(i) end
      end, 10, 30, 10)
      assert.same({ 10, 20, 30 }, collect(g))
    end)

    it("next returns all the yielded values, then nothing once the body has returned", function()
      local g = gen.new(function(yield)
        yield(1, nil, 3)
        return "ignored"
      end)
      local r = pack(g:next())
      assert.same({ n = 3, 1, nil, 3 }, r)
      assert.equal(0, select("#", g:next()))
      assert.equal(0, select("#", g:next())) -- finished: still nothing
      assert.equal(0, select("#", g()))
      assert.equal("done", g.status)
    end)

    it("is lazy: the body starts on the first request and stops at each yield", function()
      local log = {}
      local g = gen.new(function(yield)
        log[#log + 1] = "start"
        yield(1)
        log[#log + 1] = "after 1"
        yield(2)
        log[#log + 1] = "end"
      end)
      assert.same({}, log)
      assert.equal("new", g.status)
      assert.equal(1, g:next())
      assert.same({ "start" }, log)
      assert.equal("suspended", g.status)
      assert.equal(2, g())
      assert.same({ "start", "after 1" }, log)
      assert.is_nil(g:next())
      assert.same({ "start", "after 1", "end" }, log)
    end)

    it("accepts a callable table as the body", function()
      local body = setmetatable({}, { __call = function(_, yield, x) yield(x) end })
      assert.same({ "x" }, collect(gen.new(body, "x")))
    end)

    it("lets the body wait; the loop waits with it (exact on the virtual clock)", function()
      clock.auto()
      local t0 = clock.now()
      local g = gen.new(function(yield)
        for i = 1, 3 do
          task.sleep(100)
          yield(i, clock.now() - t0)
        end
        task.yield()
      end)
      local seen = {}
      for i, at in g do seen[i] = at end
      assert.near(100, seen[1], 1e-6)
      assert.near(200, seen[2], 1e-6)
      assert.near(300, seen[3], 1e-6)
      assert_at(t0, 300)
    end)

    it("hands the body what its waits answer, every value (a file read, a stat)", function()
      local p = os.tmpname()
      require("ebb.fs").write_file(p, "abc")
      local g = gen.new(function(yield)
        local f = require("ebb.fs").open(p)
        yield(f:read(2), f:read(), f:stat().size)
        f:close()
      end)
      assert.same({ n = 3, "ab", "c", 3 }, pack(g:next()))
      assert.equal(0, select("#", g:next()))
      os.remove(p)
    end)

    it("lets the body iterate another waiting generator", function()
      clock.auto()
      local inner = gen.new(function(yield)
        for i = 1, 2 do task.sleep(5); yield(i) end
      end)
      local outer = gen.new(function(yield)
        for v in inner do yield(v * 10) end
      end)
      assert.same({ 10, 20 }, collect(outer))
    end)

    it("refuses yield(nil) and yield(): nil would end a for loop silently", function()
      local g = gen.new(function(yield) yield(nil, "lost") end)
      assert_bad(function() for _ in g do end end, "bad argument #1 to 'yield' %(value expected: yield%(nil%)")
      assert.equal("done", g.status)
      assert_bad(function() gen.new(function(yield) yield() end):next() end, "bad argument #1 to 'yield'")
    end)

    it("raises when yield is called outside its own body", function()
      local saved
      local g = gen.new(function(yield) saved = yield; yield(1) end)
      g:next()
      assert_bad(function() saved(2) end, "yield called outside its generator's body")
      local other = gen.new(function() saved(3) end)
      assert_bad(function() other:next() end, "yield called outside its generator's body")
    end)

    it("raises when yield is called after its generator has ended, however it ended", function()
      local after = "yield called after its generator has ended"
      local y
      for _ in gen.new(function(yield) y = yield end) do end
      assert_bad(function() y(1) end, after)
      local g = gen.new(function(yield) y = yield; yield(1); yield(2) end)
      g:next()
      g:close()
      assert_bad(function() y(3) end, after)
      g = gen.new(function(yield) y = yield; error("boom", 0) end)
      assert.equal("boom", raised(g.next, g))
      assert_bad(function() y(4) end, after)
      assert_bad(function() task.spawn(function() y(5) end):await() end, after) -- from another task too
    end)

    it("raises when the body yields with a bare coroutine.yield", function()
      local g = gen.new(function() coroutine.yield(1) end)
      assert.matches("yielded with coroutine%.yield", raised(g.next, g))
      assert.equal("done", g.status)
    end)

    it("refuses a second next while the body waits, and a next from inside the body", function()
      clock.auto()
      local g = gen.new(function(yield) task.sleep(10); yield(1) end)
      local first = task.spawn(function() return g:next() end)
      task.yield()
      assert.equal("running", g.status)
      assert_bad(function() g:next() end, "the generator is already running")
      assert_bad(function() for _ in g do end end, "the generator is already running")
      assert_bad(function() g:close() end, "cannot close a running generator")
      assert.equal(1, first:await())

      local self_call
      self_call = gen.new(function(yield) yield(self_call:next()) end)
      assert_bad(function() self_call:next() end, "the generator is already running")
    end)

    it("is a generator, with a readable tostring", function()
      local g = gen.new(function() end)
      assert.is_true(gen.is_generator(g))
      assert.is_false(gen.is_generator({}))
      assert.equal("Generator (new)", tostring(g))
    end)
  end)

  describe("errors", function()
    it("propagate from the body to the loop unchanged", function()
      local boom = errors.new("boom")
      local g = gen.new(function(yield) yield(1); error(boom) end)
      local seen = {}
      local e = raised(function() for v in g do seen[#seen + 1] = v end end)
      assert.equal(boom, e)
      assert.same({ 1 }, seen)
      local plain = { code = 7 }
      assert.equal(plain, raised(function() gen.new(function() error(plain) end):next() end))
      assert.equal("as is", raised(function() gen.new(function() error("as is", 0) end):next() end))
      assert.equal(42, raised(function() gen.new(function() error(42, 0) end):next() end))
      local where = raised(function() gen.new(function() error("positioned") end):next() end)
      assert.matches("gen_spec%.lua:%d+: positioned$", where)
    end)

    it("end the generator: after a failure it returns nothing", function()
      local g = gen.new(function(yield) error("once", 0) end)
      raised(g.next, g)
      assert.equal("done", g.status)
      assert.equal(0, select("#", g:next()))
      g:close() -- does nothing
    end)
  end)

  describe("close", function()
    it("after an early break runs the body's cleanup exactly once", function()
      local log = {}
      local g = gen.new(counting(log, 10))
      local seen = {}
      for v in g do
        seen[#seen + 1] = v
        if v == 3 then break end
      end
      assert.same({}, log)
      g:close()
      assert.same({ 1, 2, 3 }, seen)
      assert.same({ "cleanup" }, log)
      g:close()
      assert.same({ "cleanup" }, log)
      assert.equal("done", g.status)
      assert.equal(0, select("#", g:next()))
      assert.same({}, collect(g)) -- a closed generator ends a loop at once
    end)

    it("raises a CloseRequest at the pending yield; a body that re-raises it closes quietly", function()
      local caught
      local g = gen.new(function(yield)
        local ok, e = pcall(yield, 1)
        caught = e
        if not ok then error(e, 0) end
      end)
      g:next()
      g:close()
      assert.is_true(errors.is(caught, gen.CloseRequest))
      assert.equal("CloseRequest: the generator was closed", tostring(caught))
      assert.equal("done", g.status)
    end)

    it("lets a body that catches the close request return instead", function()
      local log = {}
      local g = gen.new(function(yield)
        while true do
          local ok = pcall(yield, "tick")
          if not ok then
            log[#log + 1] = "returned"
            return
          end
        end
      end)
      g:next()
      g:next()
      g:close()
      assert.same({ "returned" }, log)
    end)

    it("raises when the body yields again after close, and the body's cleanup still runs once", function()
      local log = {}
      local g = gen.new(function(yield)
        local ok, e = pcall(function()
          pcall(yield, 1)       -- swallows the close request
          yield(2)              -- and yields again
        end)
        log[#log + 1] = "cleanup"
        if not ok then error(e, 0) end
      end)
      g:next()
      local e = raised(g.close, g)
      assert.matches("gen_spec%.lua:%d+: the generator yielded after close", e)
      assert.same({ "cleanup" }, log)
      assert.equal("done", g.status)
      g:close()
      assert.same({ "cleanup" }, log)
    end)

    it("of a generator never started runs nothing; of a finished one does nothing", function()
      local ran = false
      local g = gen.new(function(yield) ran = true; yield(1) end)
      g:close()
      assert.is_false(ran)
      assert.equal("done", g.status)
      assert.equal(0, select("#", g:next()))
      local log = {}
      local f = gen.new(counting(log, 2))
      assert.same({ 1, 2 }, collect(f))
      assert.same({ "cleanup" }, log)
      f:close()
      assert.same({ "cleanup" }, log)
    end)

    it("raises what the cleanup raises, unchanged", function()
      local bad = errors.new("cleanup failed")
      local g = gen.new(function(yield)
        local ok = pcall(yield, 1)
        if not ok then error(bad) end
      end)
      g:next()
      assert.equal(bad, raised(g.close, g))
      assert.equal("done", g.status)
    end)

    it("waits for a cleanup that waits", function()
      clock.auto()
      local t0 = clock.now()
      local g = gen.new(function(yield)
        local ok, e = pcall(yield, 1)
        task.sleep(25) -- e.g. a graceful goodbye
        if not ok then error(e, 0) end
      end)
      g:next()
      g:close()
      assert_at(t0, 25)
    end)
  end)

  describe("cancellation", function()
    it("raises the task's reason inside a waiting body; its cleanup runs once; the loop gets it", function()
      clock.auto()
      local t0 = clock.now()
      local log = {}
      local g = gen.new(function(yield)
        local ok, e = pcall(function()
          yield(1)
          task.sleep(1000)
          yield(2)
        end)
        log[#log + 1] = "cleanup"
        if not ok then error(e, 0) end
      end)
      local t = task.spawn(function()
        for v in g do log[#log + 1] = v end
        log[#log + 1] = "loop ended normally"
      end)
      task.sleep(10)
      local reason = errors.AbortError("stop")
      t:cancel(reason)
      assert.equal(reason, await_error(t))
      assert.equal("cancelled", t.status)
      assert.same({ 1, "cleanup" }, log)
      assert.equal("done", g.status)
      assert_at(t0, 10)
    end)
  end)

  describe("paginate", function()
    local pages = { { "a", "b" }, { "c" }, {}, { "d" } }

    it("yields each page in order, first asking with a nil cursor, until next_cursor is nil", function()
      local log = {}
      local seen = {}
      for page in gen.paginate(api(pages, log)) do seen[#seen + 1] = page end
      assert.same(pages, seen)
      assert.equal(4, #log)
      assert.is_nil(log[1].cursor)
      assert.same({ 2, 3, 4 }, { log[2].cursor, log[3].cursor, log[4].cursor })
    end)

    it("is lazy: a page is requested only when the loop asks for it", function()
      local log = {}
      local g = gen.paginate(api(pages, log))
      assert.equal(0, #log)
      for page in g do
        if page[1] == "c" then break end
      end
      assert.equal(2, #log)
      g:close()
      assert.equal(2, #log)
      local all = gen.paginate(api(pages, log))
      for _ = 1, 4 do all:next() end
      assert.equal(6, #log) -- the last page says "no more": asking again requests nothing
      assert.is_nil(all:next())
      assert.equal(6, #log)
    end)

    it("requests at most once per interval, measured from the start of the previous request", function()
      clock.auto()
      local t0 = clock.now()
      local log = {}
      for _ in gen.paginate(api(pages, log, 30), { interval = 100 }) do end
      assert.equal(4, #log)
      for i = 1, 4 do assert_at(t0, (i - 1) * 100, log[i].at) end
      assert_at(t0, 330)
    end)

    it("does not wait when the loop was slower than the interval", function()
      clock.auto()
      local t0 = clock.now()
      local log = {}
      for _ in gen.paginate(api(pages, log), { interval = 100 }) do task.sleep(150) end
      for i = 1, 4 do assert_at(t0, (i - 1) * 150, log[i].at) end
      log = {}
      local g = gen.paginate(api(pages, log), { interval = 100 })
      t0 = clock.now()
      g:next()
      task.sleep(60)
      g:next()
      assert_at(t0, 100, log[2].at) -- waited only the 40 ms left
    end)

    it("passes the signal to fetch_page", function()
      local ctl = abort.controller()
      local got
      gen.paginate(function(_, signal) got = signal; return {} end, { signal = ctl.signal }):next()
      assert.equal(ctl.signal, got)
    end)

    it("raises the reason of an already-aborted signal without requesting", function()
      local log = {}
      local reason = errors.new("gone")
      local g = gen.paginate(api(pages, log), { signal = abort.aborted(reason) })
      assert.equal(reason, raised(g.next, g))
      assert.equal(0, #log)
      assert.equal("done", g.status)
    end)

    it("raises the reason at once when the signal aborts during the interval wait", function()
      clock.auto()
      local t0 = clock.now()
      local ctl = abort.controller()
      local log = {}
      local reason = errors.new("user left")
      local g = gen.paginate(api(pages, log), { signal = ctl.signal, interval = 1000 })
      g:next()
      task.delay(300, function() ctl:abort(reason) end)
      assert.equal(reason, raised(g.next, g))
      assert.equal(1, #log)
      assert_at(t0, 300)
    end)

    it("raises the reason before the next request when the signal aborts between pages", function()
      local ctl = abort.controller()
      local log = {}
      local g = gen.paginate(api(pages, log), { signal = ctl.signal })
      g:next()
      ctl:abort("enough")
      assert.equal("enough", raised(g.next, g))
      assert.equal(1, #log)
    end)

    it("stops when its task is cancelled during the interval wait", function()
      clock.auto()
      local log = {}
      local t = task.spawn(function()
        for _ in gen.paginate(api(pages, log), { interval = 1000 }) do end
      end)
      task.sleep(10)
      local reason = errors.AbortError("cancelled")
      t:cancel(reason)
      assert.equal(reason, await_error(t))
      assert.equal(1, #log)
    end)

    it("raises fetch_page's errors unchanged, and refuses nil items", function()
      local boom = errors.new("HTTP 503")
      local g = gen.paginate(function() error(boom) end)
      assert.equal(boom, raised(g.next, g))
      local n = gen.paginate(function() return nil, "next" end)
      assert.matches("fetch_page returned no items", raised(n.next, n))
    end)
  end)

  describe("bad input", function()
    it("is refused at the caller's line", function()
      assert_bad(function() gen.new() end, "bad argument #1 to 'new' %(function expected, got nil%)")
      assert_bad(function() gen.new(42) end, "bad argument #1 to 'new' %(function expected, got number%)")
      local g = gen.new(function() end)
      assert_bad(function() g.next({}) end, "bad argument #1 to 'next' %(generator expected, got table%)")
      assert_bad(function() g.close(nil) end, "bad argument #1 to 'close' %(generator expected, got nil%)")
      assert_bad(function() gen.new(function(yield) yield(nil) end):next() end, "bad argument #1 to 'yield'")
      local f = function() return {} end
      assert_bad(function() gen.paginate() end, "bad argument #1 to 'paginate' %(function expected, got nil%)")
      assert_bad(function() gen.paginate("f") end, "bad argument #1 to 'paginate' %(function expected, got string%)")
      assert_bad(function() gen.paginate(f, 5) end, "bad argument #2 to 'paginate' %(table of options expected, got number%)")
      assert_bad(function() gen.paginate(f, { signal = {} }) end,
        "bad argument #2 to 'paginate' %(option 'signal' must be an abort signal, got table%)")
      assert_bad(function() gen.paginate(f, { interval = -1 }) end,
        "bad argument #2 to 'paginate' %(option 'interval' must be a non%-negative number of milliseconds, at most 1e12, got %-1%)")
      assert_bad(function() gen.paginate(f, { interval = 0 / 0 }) end, "option 'interval' must be .*got n?a?n")
      assert_bad(function() gen.paginate(f, { interval = math.huge }) end, "option 'interval' must be .*got inf")
      assert_bad(function() gen.paginate(f, { interval = "1" }) end, "option 'interval': number of milliseconds expected, got string")
    end)
  end)
end)
