-- Specs for ebb.scope, as the API contract ("ebb.scope") and the TC39 explicit
-- resource management proposal (DisposeResources, DisposableStack) describe it.
local scope = require "ebb.scope"
local task = require "ebb.task"
local clock = require "ebb.clock"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
package.path = "spec/support/?.lua;" .. package.path
local assert_bad = require("asserts").bad_at("scope_spec%.lua")

local raised = require("asserts").raised -- calls fn(...), which must raise; returns what it raised
local pack = require("values").pack

-- A resource named `name` whose close logs "close <name>" (and raises `fail`, if given).
local function resource(log, name, fail)
  return {
    name = name,
    close = function(self)
      log[#log + 1] = "close " .. self.name
      if fail ~= nil then error(fail, 0) end
    end,
  }
end

describe("ebb.scope", function()
  describe("run", function()
    it("calls fn(s, ...) and returns all its results, nils included", function()
      local r = pack(scope.run(function(s, a, b)
        assert.equal("table", type(s))
        return a + b, nil, "x", nil
      end, 1, 2))
      assert.same({ n = 4, 3, nil, "x", nil }, r)
      assert.equal(0, select("#", scope.run(function() end)))
    end)

    it("disposes last first when fn returns", function()
      local log = {}
      local v = scope.run(function(s)
        s:use(resource(log, "a"))
        s:defer(function() log[#log + 1] = "defer b" end)
        s:adopt("c", function(x) log[#log + 1] = "adopt " .. x end)
        log[#log + 1] = "body"
        return "result"
      end)
      assert.equal("result", v)
      assert.same({ "body", "adopt c", "defer b", "close a" }, log)
    end)

    it("disposes last first when fn fails, and raises its error unchanged", function()
      local log, e = {}, errors.new("body failed")
      local got = raised(scope.run, function(s)
        s:use(resource(log, "a"))
        s:use(resource(log, "b"))
        error(e)
      end)
      assert.equal(e, got)
      assert.same({ "close b", "close a" }, log)
      local msg = raised(scope.run, function(s)
        s:use(resource(log, "c"))
        error("plain")
      end)
      assert.matches("^[^\n]*scope_spec%.lua:%d+: plain$", msg)
    end)

    it("disposes last first when its task is cancelled while it waits; disposers may sleep", function()
      clock.auto()
      local t0, log = clock.now(), {}
      local function at() return clock.now() - t0 end
      local t = task.spawn(function()
        scope.run(function(s)
          s:defer(function()
            task.sleep(50) -- the task is cancelled, yet this waits its 50 ms
            log[#log + 1] = ("a at %.0f"):format(at())
          end)
          s:defer(function()
            task.sleep(20)
            log[#log + 1] = ("b at %.0f"):format(at())
          end)
          task.sleep(1000)
          log[#log + 1] = "not reached"
        end)
        log[#log + 1] = "not reached either"
      end)
      task.sleep(100)
      local reason = errors.AbortError("stop")
      t:cancel(reason)
      assert.equal(reason, raised(t.await, t))
      assert.equal("cancelled", t.status)
      assert.same({ "b at 120", "a at 170" }, log)
    end)

    it("the next wait after a cancelled task's disposal raises the reason", function()
      clock.auto()
      local log = {}
      local t = task.spawn(function()
        local ok = pcall(scope.run, function(s)
          s:defer(function() task.sleep(10); log[#log + 1] = "closed" end)
          task.sleep(1000)
        end)
        log[#log + 1] = "caught: " .. tostring(ok)
        task.sleep(10)
        log[#log + 1] = "not reached"
      end)
      task.sleep(5)
      t:cancel()
      raised(t.await, t)
      assert.equal("cancelled", t.status)
      assert.same({ "closed", "caught: false" }, log)
    end)

    it("a disposer failing in a cancelled task: the task fails with SuppressedError(D, reason)", function()
      local t = task.spawn(function()
        scope.run(function(s)
          s:defer(function() error("D", 0) end)
          task.sleep(1e6)
        end)
      end)
      task.yield()
      t:cancel("stop")
      local e = raised(t.await, t)
      assert.equal("failed", t.status)
      assert.is_true(errors.is(e, errors.SuppressedError))
      assert.equal("D", e.error)
      assert.equal("stop", e.suppressed)
    end)

    it("disposers that wait run in order on virtual time when fn returns", function()
      clock.auto()
      local t0, log = clock.now(), {}
      scope.run(function(s)
        for _, name in ipairs({ "a", "b" }) do
          s:defer(function()
            task.sleep(10)
            log[#log + 1] = ("%s at %.0f"):format(name, clock.now() - t0)
          end)
        end
      end)
      assert.same({ "b at 10", "a at 20" }, log)
    end)

    it("nested scopes: the inner one is disposed first", function()
      local log = {}
      scope.run(function(outer)
        outer:use(resource(log, "outer"))
        scope.run(function(inner) inner:use(resource(log, "inner")) end)
        log[#log + 1] = "between"
      end)
      assert.same({ "close inner", "between", "close outer" }, log)
    end)

    it("works outside a task's waits, e.g. in an abort listener (nothing to shield)", function()
      local log, ctl = {}, abort.controller()
      ctl.signal:on_abort(function()
        scope.run(function(s) s:use(resource(log, "l")) end)
      end)
      ctl:abort()
      assert.same({ "close l" }, log)
    end)

    it("s:move() hands the resources out of the scope", function()
      local log = {}
      local kept = scope.run(function(s)
        s:use(resource(log, "a"))
        s:use(resource(log, "b"))
        return s:move()
      end)
      assert.same({}, log)
      kept:dispose()
      assert.same({ "close b", "close a" }, log)
    end)

    it("s cannot be used once the scope has ended, nor by a disposer", function()
      local s0
      scope.run(function(s) s0 = s end)
      assert.is_true(s0.disposed)
      assert_bad(function() s0:defer(print) end, "'defer' on a disposed DisposableStack")
      local e = raised(scope.run, function(s)
        s:defer(function() s:defer(print) end)
      end)
      assert.matches("'defer' on a disposed DisposableStack", e)
    end)
  end)

  describe("use", function()
    it("prefers the __close metamethod over a close method, calling it with v", function()
      local log = {}
      local v = setmetatable({
        close = function() log[#log + 1] = "close" end,
      }, { __close = function(x, ...) log[#log + 1] = { x = x, n = select("#", ...) } end })
      local got
      scope.run(function(s) got = s:use(v) end)
      assert.equal(v, got)
      assert.same({ { x = v, n = 0 } }, log)
    end)

    it("calls a close method with v (also one found through __index)", function()
      local seen = {}
      local Conn = {}
      Conn.__index = Conn
      function Conn:close() seen[#seen + 1] = self end
      local a, b = setmetatable({}, Conn), { close = function(self) seen[#seen + 1] = self end }
      scope.run(function(s)
        s:use(a)
        s:use(b)
      end)
      assert.same({ b, a }, seen)
      assert.equal(b, seen[1])
      assert.equal(a, seen[2])
    end)

    it("accepts a callable table as the close method", function()
      local called
      local v = { close = setmetatable({}, { __call = function(_, x) called = x end }) }
      scope.run(function(s) s:use(v) end)
      assert.equal(v, called)
    end)

    it("looks the disposer up at use, as `using` does", function()
      local log = {}
      local v = resource(log, "v")
      scope.run(function(s)
        s:use(v)
        v.close = function() log[#log + 1] = "replaced" end
      end)
      assert.same({ "close v" }, log)
    end)

    it("skips nil", function()
      local n = 0
      local r = pack(scope.run(function(s)
        s:defer(function() n = n + 1 end)
        return s:use(nil)
      end))
      assert.same({ n = 1 }, r)
      assert.equal(1, n)
    end)

    it("raises at use, naming the argument, for anything that is not disposable", function()
      scope.run(function(s)
        for _, v in ipairs({ 1, "s", true, print, {}, coroutine.create(print) }) do
          assert_bad(function() s:use(v) end,
            "bad argument #1 to 'use' %(value with a __close metamethod or a close method expected, got "
              .. type(v) .. "%)")
        end
        assert_bad(function() s:use({ close = 42 }) end,
          "bad argument #1 to 'use' %(its close method must be a function, got number%)")
        assert_bad(function() s:use(setmetatable({}, { __close = "x" })) end,
          "bad argument #1 to 'use' %(its __close metamethod must be a function, got string%)")
        assert.equal("DisposableStack (0 resources)", tostring(s)) -- nothing was added
      end)
    end)
  end)

  describe("adopt and defer", function()
    it("adopt returns v and calls on_dispose(v) at disposal, nil included", function()
      local log = {}
      scope.run(function(s)
        assert.equal("h", s:adopt("h", function(v) log[#log + 1] = { v = v } end))
        assert.is_nil(s:adopt(nil, function(...) log[#log + 1] = { n = select("#", ...), v = (...) } end))
      end)
      assert.same({ { n = 1 }, { v = "h" } }, log)
    end)

    it("defer calls fn with no arguments and returns nothing", function()
      local n
      scope.run(function(s)
        assert.equal(0, select("#", s:defer(function(...) n = select("#", ...) end)))
      end)
      assert.equal(0, n)
    end)
  end)

  describe("errors (the proposal's DisposeResources)", function()
    -- Resources 1..#fails are used in order; fails[i] is what the close of i raises.
    local function run_failing(fails, body_error)
      local log = {}
      local e = raised(scope.run, function(s)
        for i = 1, #fails do s:use(resource(log, tostring(i), fails[i] or nil)) end
        if body_error ~= nil then error(body_error, 0) end
      end)
      return e, log
    end

    it("one failing disposer, no body error: its error is raised unchanged", function()
      local d = errors.new("D")
      local e, log = run_failing({ d, false })
      assert.equal(d, e)
      assert.same({ "close 2", "close 1" }, log)
    end)

    it("the body's error is raised unchanged when every disposer succeeds", function()
      local body = errors.new("body")
      local e, log = run_failing({ false, false }, body)
      assert.equal(body, e)
      assert.same({ "close 2", "close 1" }, log)
    end)

    it("a body error and one failing disposer: SuppressedError(D, E)", function()
      local e = run_failing({ "D" }, "E")
      assert.is_true(errors.is(e, errors.SuppressedError))
      assert.is_true(errors.is(e, errors.Error))
      assert.equal("D", e.error)
      assert.equal("E", e.suppressed)
    end)

    it("two failing disposers, no body error: the later-run error suppresses the earlier", function()
      -- 2 is disposed first and fails with D2 (pending), then 1 fails with D1
      local e, log = run_failing({ "D1", "D2" })
      assert.same({ "close 2", "close 1" }, log)
      assert.equal("D1", e.error)
      assert.equal("D2", e.suppressed)
    end)

    it("two failing disposers and a body error", function()
      local e = run_failing({ "D1", "D2" }, "E")
      assert.equal("D1", e.error)
      assert.equal("D2", e.suppressed.error)
      assert.equal("E", e.suppressed.suppressed)
    end)

    it("three failing disposers, no body error", function()
      local e = run_failing({ "D1", "D2", "D3" })
      assert.equal("D1", e.error)
      assert.equal("D2", e.suppressed.error)
      assert.equal("D3", e.suppressed.suppressed)
    end)

    it("three failing disposers and a body error, with succeeding ones between", function()
      local e, log = run_failing({ "D1", false, "D2", false, "D3" }, "E")
      assert.same({ "close 5", "close 4", "close 3", "close 2", "close 1" }, log)
      assert.equal("D1", e.error)
      assert.equal("D2", e.suppressed.error)
      assert.equal("D3", e.suppressed.suppressed.error)
      assert.equal("E", e.suppressed.suppressed.suppressed)
    end)

    it("a disposer failing after fn returned replaces the results with its error", function()
      local e = raised(scope.run, function(s)
        s:defer(function() error("late") end)
        return "ignored"
      end)
      assert.matches("scope_spec%.lua:%d+: late$", e)
    end)
  end)

  describe("stack", function()
    it("use, adopt and defer; dispose runs them last first and sets disposed", function()
      local log = {}
      local st = scope.stack()
      assert.is_false(st.disposed)
      local r = resource(log, "r")
      assert.equal(r, st:use(r))
      assert.equal(7, st:adopt(7, function(v) log[#log + 1] = "adopt " .. v end))
      st:defer(function() log[#log + 1] = "defer" end)
      assert.equal("DisposableStack (3 resources)", tostring(st))
      st:dispose()
      assert.is_true(st.disposed)
      assert.equal("DisposableStack (disposed)", tostring(st))
      assert.same({ "defer", "adopt 7", "close r" }, log)
    end)

    it("dispose raises the resulting error; a second dispose does nothing", function()
      local log = {}
      local st = scope.stack()
      st:use(resource(log, "1", "D1"))
      st:use(resource(log, "2", "D2"))
      local e = raised(st.dispose, st)
      assert.equal("D1", e.error)
      assert.equal("D2", e.suppressed)
      assert.is_true(st.disposed)
      st:dispose()
      assert.same({ "close 2", "close 1" }, log)
    end)

    it("move returns a new stack with every resource; this one is disposed and empty", function()
      local log = {}
      local st = scope.stack()
      st:use(resource(log, "a"))
      st:use(resource(log, "b"))
      local moved = st:move()
      assert.is_true(st.disposed)
      assert.is_false(moved.disposed)
      assert.are_not.equal(st, moved)
      st:dispose()
      assert.same({}, log)
      moved:dispose()
      assert.same({ "close b", "close a" }, log)
    end)

    it("use, adopt, defer and move after dispose raise a clear error at the caller", function()
      local st = scope.stack()
      st:dispose()
      assert_bad(function() st:use(nil) end, "'use' on a disposed DisposableStack")
      assert_bad(function() st:use({ close = print }) end, "'use' on a disposed DisposableStack")
      assert_bad(function() st:adopt(1, print) end, "'adopt' on a disposed DisposableStack")
      assert_bad(function() st:defer(print) end, "'defer' on a disposed DisposableStack")
      assert_bad(function() st:move() end, "'move' on a disposed DisposableStack")
      st:dispose()
      st:close()
    end)

    it("is itself a resource: close, __close, and s:use(stack)", function()
      local log = {}
      local st = scope.stack()
      st:use(resource(log, "inner"))
      scope.run(function(s)
        s:use(resource(log, "outer"))
        assert.equal(st, s:use(st))
      end)
      assert.same({ "close inner", "close outer" }, log)
      local a, b = scope.stack(), scope.stack()
      a:close()
      getmetatable(b).__close(b)
      assert.is_true(a.disposed)
      assert.is_true(b.disposed)
    end)

    it("dispose waits for disposers that wait, even in a cancelled task", function()
      clock.auto()
      local t0, log = clock.now(), {}
      local t = task.spawn(function()
        local st = scope.stack()
        st:defer(function()
          task.sleep(30)
          log[#log + 1] = ("closed at %.0f"):format(clock.now() - t0)
        end)
        pcall(task.sleep, 1e6)
        st:dispose()
        log[#log + 1] = "disposed"
      end)
      task.sleep(10)
      t:cancel()
      task.sleep(100)
      assert.same({ "closed at 40", "disposed" }, log)
      assert.equal("done", t.status)
    end)
  end)

  describe("bad input", function()
    it("run needs a function (a callable table will do)", function()
      for _, v in ipairs({ 1, "f", {}, true }) do
        assert_bad(function() scope.run(v) end,
          "bad argument #1 to 'run' %(function expected, got " .. type(v) .. "%)")
      end
      assert_bad(function() scope.run() end, "bad argument #1 to 'run' %(function expected, got nil%)")
      assert.equal(5, scope.run(setmetatable({}, { __call = function(_, _, x) return x end }), 5))
    end)

    it("adopt needs a function for on_dispose; defer needs a function", function()
      scope.run(function(s)
        assert_bad(function() s:adopt(1) end, "bad argument #2 to 'adopt' %(function expected, got nil%)")
        assert_bad(function() s:adopt(1, "x") end, "bad argument #2 to 'adopt' %(function expected, got string%)")
        assert_bad(function() s:defer() end, "bad argument #1 to 'defer' %(function expected, got nil%)")
        assert_bad(function() s:defer({}) end, "bad argument #1 to 'defer' %(function expected, got table%)")
        s:defer(setmetatable({}, { __call = function() end }))
        s:adopt(1, setmetatable({}, { __call = function() end }))
      end)
    end)

    it("every method called on something that is not a stack", function()
      local st = scope.stack()
      for _, name in ipairs({ "use", "adopt", "defer", "move", "dispose", "close" }) do
        assert_bad(function() st[name]({}, print) end,
          "bad argument #1 to '" .. name .. "' %(DisposableStack expected, got table%)")
        assert_bad(function() st[name]() end, "%(DisposableStack expected, got nil%)")
      end
    end)
  end)
end)
