local events = require "ebb.events"
local abort = require "ebb.abort"
local abort_core = require "ebb.abort.core"
local task = require "ebb.task"
local clock = require "ebb.clock"
local errors = require "ebb.errors"
local host = require "ebb.host"
package.path = "spec/support/?.lua;" .. package.path
local run = require "run_ebb"

local function full_gc()
  collectgarbage()
  collectgarbage()
end

-- Runs fn with listener errors captured instead of reported: the list of { error, what }.
local function capturing_listener_errors(fn)
  local caught = {}
  local previous = host.set_unhandled_hook(function(t, e, _, what)
    if t then return false end
    caught[#caught + 1] = { e, what }
    return true
  end)
  local ok, e = pcall(fn)
  host.set_unhandled_hook(previous)
  if not ok then error(e, 0) end
  return caught
end

local function assert_bad(fn, pattern)
  local ok, e = pcall(fn)
  assert.is_false(ok)
  assert.matches(pattern, tostring(e))
end

describe("ebb.events", function()
  describe("on and emit", function()
    it("calls the listeners in the order they were added, with the emitted values", function()
      local em, got = events.new(), {}
      em:on("data", function(a, b) got[#got + 1] = "1:" .. a .. b end)
      em:on("data", function(a, b) got[#got + 1] = "2:" .. a .. b end)
      assert.is_true(em:emit("data", "x", "y"))
      assert.same({ "1:xy", "2:xy" }, got)
    end)

    it("passes nils and the count of values as they were given", function()
      local em, n, third = events.new(), nil, nil
      em:on("e", function(...) n, third = select("#", ...), select(3, ...) end)
      em:emit("e", nil, nil, 3, nil)
      assert.equal(4, n)
      assert.equal(3, third)
    end)

    it("returns false when no listener is there, and names are kept apart", function()
      local em, hits = events.new(), 0
      em:on("a", function() hits = hits + 1 end)
      assert.is_false(em:emit("b"))
      assert.equal(0, hits)
      local key = {}
      em:on(key, function() hits = hits + 10 end)
      assert.is_true(em:emit(key))
      assert.equal(10, hits)
    end)

    it("the returned off removes that listener once; off twice does nothing", function()
      local em, hits = events.new(), 0
      local off = em:on("e", function() hits = hits + 1 end)
      assert.equal(1, em:listener_count("e"))
      assert.is_true(off())
      assert.is_false(off())
      assert.equal(0, em:listener_count("e"))
      assert.is_false(em:emit("e"))
      assert.equal(0, hits)
    end)

    it("off(name, fn) removes the latest adding of fn", function()
      local em, got = events.new(), {}
      local function f(tag) got[#got + 1] = tag end
      em:on("e", f)
      em:on("e", function(tag) got[#got + 1] = "other " .. tag end)
      em:on("e", f)
      assert.is_true(em:off("e", f))
      em:emit("e", "x")
      assert.same({ "x", "other x" }, got)
      assert.is_false(em:off("e", function() end))
      assert.is_false(em:off("none", f))
    end)

    it("emit calls the listeners there were when it began (added or removed meanwhile: as Node)", function()
      local em, got = events.new(), {}
      local off_b
      em:on("e", function()
        got[#got + 1] = "a"
        em:on("e", function() got[#got + 1] = "late" end)
        off_b()
      end)
      off_b = em:on("e", function() got[#got + 1] = "b" end)
      em:emit("e")
      assert.same({ "a", "b" }, got)
      got = {}
      em:emit("e")
      assert.same({ "a", "late" }, got)
    end)

    it("a once listener is removed before it runs, and runs once even when emit nests", function()
      local em, hits = events.new(), 0
      em:on("e", function(depth) if depth == 1 then em:emit("e", 2) end end)
      em:on("e", function() hits = hits + 1 end, { once = true })
      em:emit("e", 1)
      assert.equal(1, hits)
      assert.equal(1, em:listener_count("e"))
      em:emit("e", 3)
      assert.equal(1, hits)
    end)

    it("once(name, fn) adds a listener called once", function()
      local em, got = events.new(), {}
      em:once("e", function(v) got[#got + 1] = v end)
      em:emit("e", 1)
      em:emit("e", 2)
      assert.same({ 1 }, got)
    end)

    it("remove_all_listeners removes one name's or all, detaching their signals", function()
      local em, c = events.new(), abort.controller()
      em:on("a", function() end, { signal = c.signal })
      em:on("a", function() end)
      em:on("b", function() end, { signal = c.signal })
      em:remove_all_listeners("a")
      assert.equal(0, em:listener_count("a"))
      assert.equal(1, em:listener_count("b"))
      assert.equal(1, abort_core.listeners(c.signal))
      em:remove_all_listeners()
      assert.equal(0, em:listener_count("b"))
      assert.equal(0, abort_core.listeners(c.signal))
      assert.equal("EventEmitter (0 listeners, 0 events)", tostring(em))
    end)

    it("an 'error' event with no listener raises its error; with one, the listener gets it", function()
      local em = events.new()
      local e = errors.new("broken")
      local ok, got = pcall(em.emit, em, "error", e)
      assert.is_false(ok)
      assert.equal(e, got)
      ok, got = pcall(em.emit, em, "error")
      assert.is_false(ok)
      assert.matches("'error' event was emitted with no listener", tostring(got))
      local seen
      em:on("error", function(x) seen = x end)
      assert.is_true(em:emit("error", e))
      assert.equal(e, seen)
    end)

    it("listeners and event_names give what listens now", function()
      local em = events.new()
      local function f() end
      local function g() end
      em:on("a", f)
      em:once("a", g)
      em:on("b", f)
      assert.same({ f, g }, em:listeners("a"))
      assert.same({}, em:listeners("c"))
      local names = em:event_names()
      table.sort(names)
      assert.same({ "a", "b" }, names)
      em:emit("a")
      assert.same({ f }, em:listeners("a"))
    end)

    it("prints as its counts", function()
      local em = events.new()
      em:on("a", function() end)
      em:on("a", function() end)
      em:on("b", function() end)
      assert.equal("EventEmitter (3 listeners, 2 events)", tostring(em))
      assert.is_true(events.is_emitter(em))
      assert.is_false(events.is_emitter({}))
    end)
  end)

  describe("a listener that raises", function()
    it("is reported as an abort listener's error is, and the others still run", function()
      local em, ran = events.new(), {}
      local caught = capturing_listener_errors(function()
        em:on("e", function() ran[#ran + 1] = 1 end)
        em:on("e", function() error("in listener 2") end)
        em:on("e", function() ran[#ran + 1] = 3 end)
        assert.is_true(em:emit("e"))
      end)
      assert.same({ 1, 3 }, ran)
      assert.equal(1, #caught)
      assert.matches("in listener 2", caught[1][1])
      assert.equal("an event listener for 'e'", caught[1][2])
    end)

    it("makes the exit status 1 and shows where it raised (a run of its own)", function()
      local code = "local em = require('ebb.events').new()\n"
        .. "em:on('tick', function() error('in listener') end)\n"
        .. "em:on('tick', function() print('second') end)\n"
        .. "em:emit('tick') print('after')"
      local out, err, status = run.ebb("-e " .. run.quote(code))
      assert.equal("second\nafter\n", out)
      assert.equal(1, status)
      assert.matches("^ebb: error in an event listener for 'tick':\nError: %(command line%):2: in listener\n"
        .. "stack traceback:\n", err)
    end)
  end)

  describe("a listener that waits", function()
    it("holds up emit in the emitting task; a cancel of that task raises out of emit", function()
      clock.auto()
      local em, got = events.new(), {}
      em:on("e", function() task.sleep(10) got[#got + 1] = "slow" end)
      em:on("e", function() got[#got + 1] = "after" end)
      em:emit("e")
      assert.same({ "slow", "after" }, got)
      local t = task.spawn(function() em:emit("e") end)
      task.yield()
      t:cancel("stop")
      assert.same({ false, "stop" }, { pcall(t.await, t) })
      assert.same({ "slow", "after" }, got)
    end)
  end)

  describe("the listener limit", function()
    it("warns once per emitter and name past 10, naming the event and the count", function()
      local code = "local events = require('ebb.events')\n"
        .. "local em, other = events.new(), events.new()\n"
        .. "for i = 1, 12 do em:on('data', function() end) end\n"
        .. "for i = 1, 11 do other:on('data', function() end) end\n"
        .. "em:set_max_listeners(0) for i = 1, 20 do em:on('more', function() end) end\n"
        .. "other:set_max_listeners(2) for i = 1, 3 do other:on('x', function() end) end\n"
      local out, err, status = run.ebb("-e " .. run.quote(code))
      assert.equal("", out)
      assert.equal(0, status)
      local lines = {}
      for line in err:gmatch("[^\n]+") do lines[#lines + 1] = line end
      assert.equal(3, #lines, err)
      assert.matches("^ebb: warning: possible listener leak: 11 listeners for event 'data' on one emitter, "
        .. "above its limit of 10 %(emitter:set_max_listeners%(n%) raises it, 0 for no limit%)$", lines[1])
      assert.matches("11 listeners for event 'data'", lines[2])
      assert.matches("3 listeners for event 'x' on one emitter, above its limit of 2", lines[3])
    end)
  end)

  describe("listeners with a signal", function()
    it("are removed when the signal aborts, and leave the signal when removed first", function()
      local em, c, hits = events.new(), abort.controller(), 0
      em:on("e", function() hits = hits + 1 end, { signal = c.signal })
      local off = em:on("e", function() hits = hits + 10 end, { signal = c.signal })
      assert.equal(2, abort_core.listeners(c.signal))
      off()
      assert.equal(1, abort_core.listeners(c.signal))
      em:emit("e")
      c:abort()
      assert.equal(0, em:listener_count("e"))
      assert.is_false(em:emit("e"))
      assert.equal(1, hits)
    end)

    it("a once listener that ran leaves its signal", function()
      local em, c = events.new(), abort.controller()
      em:on("e", function() end, { signal = c.signal, once = true })
      em:emit("e")
      assert.equal(0, abort_core.listeners(c.signal))
    end)

    it("is not added when the signal is aborted already", function()
      local em, hits = events.new(), 0
      local off = em:on("e", function() hits = hits + 1 end, { signal = abort.aborted() })
      assert.equal(0, em:listener_count("e"))
      assert.is_false(off())
      em:emit("e")
      assert.equal(0, hits)
    end)

    it("20,000 added and aborted on one long-lived emitter keep the heap flat (a leak of 13 bytes each would show)", function()
      local em, sum = events.new(), 0
      full_gc()
      local base, peak = collectgarbage("count"), 0
      for i = 1, 20000 do
        local c = abort.controller()
        em:on("data", function(x) sum = sum + x end, { signal = c.signal })
        em:emit("data", 1)
        c:abort()
        if i % 2000 == 0 then
          full_gc()
          peak = math.max(peak, collectgarbage("count"))
        end
      end
      assert.equal(20000, sum)
      assert.equal(0, em:listener_count("data"))
      assert.is_true(peak - base < 256, ("the heap grew by %.0f KB"):format(peak - base))
    end)

    it("20,000 added and removed on one long-lived signal leave nothing on it, and the heap flat", function()
      local em, c = events.new(), abort.controller()
      full_gc()
      local base, peak = collectgarbage("count"), 0
      for i = 1, 20000 do
        local off = em:on("data", function() end, { signal = c.signal })
        if i % 2 == 0 then off() else em:once("data", function() end) em:emit("data") off() end
        if i % 2000 == 0 then
          full_gc()
          peak = math.max(peak, collectgarbage("count"))
        end
      end
      assert.equal(0, abort_core.listeners(c.signal))
      assert.equal(0, em:listener_count("data"))
      assert.is_true(peak - base < 256, ("the heap grew by %.0f KB"):format(peak - base))
    end)
  end)

  describe("emitter:once(name [, opts]) waiting", function()
    it("returns the values of the next event, nils kept", function()
      local em = events.new()
      task.spawn(function() em:emit("ready", 1, nil, 3) end)
      local a, b, c = em:once("ready")
      assert.same({ 1, nil, 3 }, { a, b, c })
      assert.equal(0, em:listener_count("ready"))
      assert.equal(0, em:listener_count("error"))
    end)

    it("raises a TimeoutError past its timeout and leaves no listener", function()
      clock.auto()
      local em, t0 = events.new(), clock.now()
      local ok, e = pcall(em.once, em, "ready", { timeout = 50 })
      assert.is_false(ok)
      assert.is_true(errors.is(e, errors.TimeoutError))
      assert.equal("TimeoutError: no 'ready' event within 50 ms", tostring(e))
      assert.near(t0 + 50, clock.now(), 1e-6) -- the auto clock starts from the real time: not a whole number
      assert.equal(0, em:listener_count("ready"))
    end)

    it("with a signal aborted already, raises its reason at once, adding nothing", function()
      local em = events.new()
      local ok, e = pcall(em.once, em, "ready", { signal = abort.aborted("gone") })
      assert.is_false(ok)
      assert.equal("gone", e)
      assert.equal(0, em:listener_count("ready"))
    end)

    it("ends with the reason when the signal aborts while it waits", function()
      local em, c = events.new(), abort.controller()
      task.spawn(function() c:abort("stop") end)
      local ok, e = pcall(em.once, em, "ready", { signal = c.signal })
      assert.is_false(ok)
      assert.equal("stop", e)
      assert.equal(0, em:listener_count("ready"))
      assert.equal(0, abort_core.listeners(c.signal))
    end)

    it("a cancelled task's wait ends and its listener goes", function()
      local em = events.new()
      local t = task.spawn(function() return em:once("ready") end)
      task.yield()
      assert.equal(1, em:listener_count("ready"))
      t:cancel("bye")
      local ok, e = pcall(t.await, t)
      assert.is_false(ok)
      assert.equal("bye", e)
      assert.equal(0, em:listener_count("ready"))
      assert.equal(0, em:listener_count("error"))
    end)

    it("raises an 'error' event emitted while it waits", function()
      local em = events.new()
      task.spawn(function() em:emit("error", "failed") end)
      local ok, e = pcall(em.once, em, "ready")
      assert.is_false(ok)
      assert.equal("failed", e)
    end)
  end)

  describe("events.iter", function()
    it("loops over the events in a task until a close event, after the buffered ones", function()
      local em, got = events.new(), {}
      local it = events.iter(em, "tick", { close = { "end" } })
      task.spawn(function()
        for i = 1, 3 do em:emit("tick", i, "x") end
        task.yield()
        em:emit("tick", 4)
        em:emit("end")
        em:emit("tick", 5)
      end)
      for ev in it do got[#got + 1] = ev[1] .. "/" .. ev.n end
      assert.same({ "1/2", "2/2", "3/2", "4/1" }, got)
      assert.equal(0, em:listener_count("tick"))
      assert.equal(0, em:listener_count("end"))
    end)

    it("a full buffer fails the iterator with an EventOverflowError after what it holds", function()
      local em, got = events.new(), {}
      local it = events.iter(em, "e", { buffer = 2 })
      for i = 1, 4 do em:emit("e", i) end
      assert.equal(0, em:listener_count("e")) -- it stopped listening at once
      local ok, e = pcall(function() for ev in it do got[#got + 1] = ev[1] end end)
      assert.is_false(ok)
      assert.same({ 1, 2 }, got)
      assert.is_true(errors.is(e, events.OverflowError))
      assert.matches("more than 2 'e' events were waiting to be read", tostring(e))
      assert.is_nil(it())
    end)

    it("drops the oldest or the newest when told to, counting them", function()
      local em = events.new()
      local oldest = events.iter(em, "e", { buffer = 2, overflow = "drop_oldest" })
      local newest = events.iter(em, "e", { buffer = 2, overflow = "drop_newest" })
      for i = 1, 5 do em:emit("e", i) end
      assert.equal(3, oldest.dropped)
      assert.equal(3, newest.dropped)
      assert.same({ 4, 5 }, { oldest()[1], oldest()[1] })
      assert.same({ 1, 2 }, { newest()[1], newest()[1] })
      oldest:close()
      newest:close()
      assert.equal(0, em:listener_count("e"))
    end)

    it("an abort ends a waiting loop with the reason and removes its listeners", function()
      local em, c = events.new(), abort.controller()
      task.spawn(function()
        em:emit("e", 1)
        task.yield() -- the loop takes it
        em:emit("e", 2)
        c:abort("enough") -- 2 is dropped: the loop ends at once
      end)
      local got = {}
      local ok, e = pcall(function()
        for ev in events.iter(em, "e", { signal = c.signal }) do got[#got + 1] = ev[1] end
      end)
      assert.is_false(ok)
      assert.equal("enough", e)
      assert.same({ 1 }, got)
      assert.equal(0, em:listener_count("e"))
      assert.equal(0, abort_core.listeners(c.signal))
    end)

    it("with a signal aborted already, listens to nothing and raises its reason", function()
      local em = events.new()
      local it = events.iter(em, "e", { signal = abort.aborted("no") })
      assert.equal(0, em:listener_count("e"))
      local ok, e = pcall(it)
      assert.is_false(ok)
      assert.equal("no", e)
    end)

    it("a cancelled task's loop ends and the listeners go", function()
      local em = events.new()
      local t = task.spawn(function() for _ in events.iter(em, "e") do end end)
      task.yield()
      assert.equal(1, em:listener_count("e"))
      t:cancel("bye")
      assert.same({ false, "bye" }, { pcall(t.await, t) })
      assert.equal(0, em:listener_count("e"))
      assert.equal(0, em:listener_count("error"))
    end)

    it("raises an 'error' event after the events buffered before it", function()
      local em = events.new()
      local it = events.iter(em, "e")
      em:emit("e", 1)
      em:emit("error", "bad")
      assert.equal(1, it()[1])
      local ok, e = pcall(it)
      assert.is_false(ok)
      assert.equal("bad", e)
      assert.is_nil(it())
    end)

    it("one left by break without close stops listening once collected", function()
      local em = events.new()
      do
        local it = events.iter(em, "e")
        em:emit("e", 1)
        for _ in it do break end
      end
      em:emit("e", 2) -- buffered in the iterator nobody holds any more
      full_gc()
      em:emit("e", 3)
      assert.equal(0, em:listener_count("e"))
      assert.equal(0, em:listener_count("error"))
    end)

    it("one left by break on a long-lived signal: collected, the signal lets go of it and of its emitter", function()
      local long = abort.controller().signal
      local gone = setmetatable({}, { __mode = "k" })
      do
        local em = events.new()
        gone[em] = true
        local it = events.iter(em, "e", { signal = long })
        em:emit("e", 1)
        for _ in it do break end
      end
      assert.equal(1, abort_core.listeners(long))
      full_gc()
      assert.equal(0, abort_core.listeners(long))
      assert.is_nil(next(gone), "the emitter is kept alive by the signal")
    end)

    it("is closed by ebb.scope as a resource", function()
      local scope = require "ebb.scope"
      local em = events.new()
      scope.run(function(s)
        s:use(events.iter(em, "e"))
        assert.equal(1, em:listener_count("e"))
      end)
      assert.equal(0, em:listener_count("e"))
      assert.equal(0, em:listener_count("error"))
    end)

    it("close() stops it at once; it prints its state", function()
      local em = events.new()
      local it = events.iter(em, "e")
      em:emit("e", 1)
      assert.equal("EventIterator (listening 'e', 1 buffered, 0 dropped)", tostring(it))
      it:close()
      assert.equal("EventIterator (ended 'e', 0 buffered, 0 dropped)", tostring(it))
      assert.equal(0, em:listener_count("e"))
      assert.is_nil(it())
    end)
  end)

  describe("bad input", function()
    local em = events.new()
    local function f() end
    it("names the argument", function()
      assert_bad(function() em:on(nil, f) end, "bad argument #1 to 'on' %(event name expected, got nil%)")
      assert_bad(function() em:on("e", 5) end, "bad argument #2 to 'on' %(function expected, got number%)")
      assert_bad(function() em:on("e", f, 5) end, "bad argument #3 to 'on' %(table of options expected, got number%)")
      assert_bad(function() em:on("e", f, { sigal = 1 }) end,
        "bad argument #3 to 'on' %(unknown option 'sigal'; valid options: once, signal%)")
      assert_bad(function() em:on("e", f, { signal = 1 }) end,
        "bad argument #3 to 'on' %(option 'signal' must be an abort signal, got number%)")
      assert_bad(function() em.on({}, "e", f) end, "bad argument #1 to 'on' %(emitter expected, got table%)")
      assert_bad(function() em:emit(nil) end, "bad argument #1 to 'emit' %(event name expected, got nil%)")
      assert_bad(function() em:off("e", nil) end, "bad argument #2 to 'off' %(function expected, got nil%)")
      assert_bad(function() em:once("e", 5) end,
        "bad argument #2 to 'once' %(function or table of options expected, got number%)")
      assert_bad(function() em:once("e", { timeout = -1 }) end,
        "bad argument #2 to 'once' %(option 'timeout' must be a non%-negative number of milliseconds")
      assert_bad(function() em:set_max_listeners(-1) end,
        "bad argument #1 to 'set_max_listeners' %(n must be a whole number from 0 to")
      assert_bad(function() events.iter({}, "e") end, "bad argument #1 to 'iter' %(emitter expected, got table%)")
      assert_bad(function() events.iter(em, nil) end, "bad argument #2 to 'iter' %(event name expected, got nil%)")
      assert_bad(function() events.iter(em, "e", { buffer = 0 }) end,
        "bad argument #3 to 'iter' %(option 'buffer' must be a whole number from 1 to")
      assert_bad(function() events.iter(em, "e", { overflow = "drop" }) end,
        "bad argument #3 to 'iter' %(option 'overflow' must be \"error\", \"drop_oldest\" or \"drop_newest\", got drop%)")
      assert.equal(0, em:listener_count("e"))
    end)

    it("raises at the caller's line", function()
      local ok, e = pcall(function() em:on("e", 5) end)
      assert.is_false(ok)
      assert.matches("^spec/events_spec.lua:%d+: bad argument", e)
    end)

    it("raises a waiting once's option errors at the caller's line too", function()
      for _, opts in ipairs({ { timeout = -1 }, { timeout = 0 / 0 }, { signal = 1 }, { timout = 1 } }) do
        local line = debug.getinfo(1, "l").currentline + 1
        local ok, e = pcall(function() em:once("e", opts) end)
        assert.is_false(ok)
        assert.matches("^spec/events_spec.lua:" .. line .. ": bad argument #2 to 'once' %(", e)
      end
      assert.equal(0, em:listener_count("e"))
    end)

    it("says an iterator's NaN name is NaN, as the emitter's methods do", function()
      assert_bad(function() events.iter(em, 0 / 0) end, "bad argument #2 to 'iter' %(event name expected, got NaN%)")
    end)
  end)
end)
