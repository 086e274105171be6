package.path = "spec/support/?.lua;" .. package.path
local task = require "ebb.task"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local worker = require "ebb.worker"
local net = require "ebb.net"
local clock = require "ebb.clock"

local ECHO = "return function(...) return ... end"

describe("ebb.worker", function()
  local pool
  before_each(function() pool = worker.pool { size = 2 } end)
  after_each(function() pool:close() end)

  describe("copies values both ways", function()
    it("nil, booleans, numbers (NaN, infinities, -0), strings, nested tables", function()
      local big = ("0123456789"):rep(100000)
      local nested = { 1, 2, { 3, { deep = { "x", true } } }, k = "v", [10] = false, [1.5] = "f", [true] = 1 }
      local r = table.pack(pool:run(ECHO, nil, true, false, 0 / 0, math.huge, -math.huge, -0.0, 2 ^ 53, "a\0b", big, nested, nil))
      assert.equal(12, r.n)
      assert.is_nil(r[1])
      assert.is_true(r[2])
      assert.is_false(r[3])
      assert.is_true(r[4] ~= r[4])
      assert.equal(math.huge, r[5])
      assert.equal(-math.huge, r[6])
      assert.equal(-math.huge, 1 / r[7]) -- -0 kept
      assert.equal(2 ^ 53, r[8])
      assert.equal("a\0b", r[9])
      assert.equal(big, r[10])
      assert.same(nested, r[11])
      assert.is_nil(r[12])
    end)

    it("arrays with holes, mixed keys, and long arrays, key for key", function()
      local long = {}
      for i = 1, 100000 do long[i] = i % 7 == 0 and tostring(i) or i end
      long[500] = nil
      local cases = { { 1, nil, 3 }, { nil, nil, 3 }, { [1] = 1, [3] = 3 }, { 1, 2, x = "y", [-1] = 0, [0] = "z", [2.5] = 1 },
        { [2 ^ 40] = 1, 1 }, { [1] = false, [2] = true }, long }
      for _, c in ipairs(cases) do
        local r, wrong = pool:run(ECHO, c), nil
        for k, v in pairs(c) do if r[k] ~= v then wrong = k end end
        for k in pairs(r) do if c[k] == nil then wrong = k end end
        assert.is_nil(wrong)
      end
    end)

    it("copies a table reached twice twice, and keeps no metatable", function()
      local shared = setmetatable({ 1 }, { __index = function() return "meta" end })
      local a, b = pool:run("return function(t) return t.x, t.y end", { x = shared, y = shared })
      assert.same({ 1 }, a)
      assert.same({ 1 }, b)
      assert.is_nil(getmetatable(a))
    end)

    it("refuses what cannot cross, naming where it was, before the job is queued", function()
      local cases = {
        { { print }, "args%[1%]: a function cannot be copied" },
        { { 1, { x = { coroutine.create(print) } } }, "args%[2%]%.x%[1%]: a thread cannot be copied" },
        { { { ["a b"] = io.stdout } }, 'args%[1%]%["a b"%]: a userdata cannot be copied' },
        { { { [{}] = 1 } }, "args%[1%]: a key of type table cannot be copied" },
      }
      local cyclic = {}
      cyclic.self = cyclic
      cases[#cases + 1] = { { cyclic }, "args%[1%]%.self: a table that contains itself" }
      local deep = {}
      for _ = 1, 101 do deep = { deep } end
      cases[#cases + 1] = { { deep }, "nested deeper than 100" }
      for _, c in ipairs(cases) do
        local ok, e = pcall(pool.run, pool, ECHO, unpack(c[1]))
        assert.is_false(ok)
        assert.is_true(errors.is(e, worker.CopyError), tostring(e))
        assert.matches(c[2], e.message)
      end
      assert.equal(0, pool:stats().active)
      local ok, e = pcall(pool.run, pool, "return function() return {f = print} end")
      assert.is_false(ok)
      assert.is_true(errors.is(e, worker.CopyError))
      assert.matches("result%[1%]%.f: a function cannot be copied", e.message)
    end)
  end)

  describe("code", function()
    it("is a module whose value is a function, or source that returns one", function()
      assert.equal("7", pool:run("ebb.worker_spec_helper_missing" and "return function(x) return tostring(x) end", 7))
      local ok, e = pcall(pool.run, pool, "ebb.json")
      assert.is_false(ok)
      assert.matches("module 'ebb.json' does not return a function %(got table%)", tostring(e))
      ok, e = pcall(pool.run, pool, "no.such.module")
      assert.is_false(ok)
      assert.matches("module 'no.such.module' not found", tostring(e))
    end)

    it("names the chunk of a syntax error", function()
      local ok, e = pcall(pool.run, pool, "return function( end")
      assert.is_false(ok)
      assert.matches('%[string "return function%( end"%]:1:', tostring(e))
      ok, e = pcall(pool.run, pool, "return 42")
      assert.is_false(ok)
      assert.matches("does not return a function %(got number%)", tostring(e))
    end)

    it("is compiled once per worker: its upvalues live on", function()
      local counter = "local n = 0 return function() n = n + 1 return n end"
      local p1 = worker.pool { size = 1 }
      assert.equal(1, p1:run(counter))
      assert.equal(2, p1:run(counter))
      p1:close()
    end)
  end)

  describe("errors", function()
    it("cross with their class, message, fields, cause chain and the worker's traceback", function()
      local ok, e = pcall(pool.run, pool, [[return function()
        local errors = require "ebb.errors"
        local function inner() error(errors.TimeoutError("slow", { cause = errors.new("root cause"), code = "E42" })) end
        inner()
      end]])
      assert.is_false(ok)
      assert.is_true(errors.is(e, errors.TimeoutError))
      assert.equal("slow", e.message)
      assert.equal("E42", e.code)
      assert.equal("root cause", e.cause.message)
      assert.matches("in a worker thread", e.traceback)
      assert.matches("in function 'inner'", e.traceback)
    end)

    it("turn a string into an Error with the value and the traceback", function()
      local ok, e = pcall(pool.run, pool, "return function() error('plain', 0) end")
      assert.is_false(ok)
      assert.is_true(errors.is(e, errors.Error))
      assert.equal("plain", e.value)
      assert.equal("plain", e.message)
      assert.matches("in a worker thread", e.traceback)
    end)

    it("of a class of the script's own keep its name", function()
      local ok, e = pcall(pool.run, pool, [[return function()
        local errors = require "ebb.errors"
        error(errors.class("ParseError")("bad token"))
      end]])
      assert.is_false(ok)
      assert.is_true(errors.is(e, "ParseError"))
    end)
  end)

  it("runs jobs at the same time on a pool of 2", function()
    -- each job waits (computing) until the other has started: only two threads can end it
    local dir = os.tmpname()
    os.remove(dir)
    local job = [[return function(me, other)
      io.open(me, "w"):close()
      local t = os.time()
      while not io.open(other) do
        if os.time() - t > 20 then return false end
      end
      return true
    end]]
    local r = task.all({
      function() return pool:run(job, dir .. ".a", dir .. ".b") end,
      function() return pool:run(job, dir .. ".b", dir .. ".a") end,
    })
    os.remove(dir .. ".a")
    os.remove(dir .. ".b")
    assert.same({ true, true }, r)
  end)

  it("queues jobs beyond its size and runs them all", function()
    local fns = {}
    for i = 1, 20 do fns[i] = function() return pool:run("return function(i) return i * 2 end", i) end end
    local r = task.all(fns)
    for i = 1, 20 do assert.equal(i * 2, r[i]) end
  end)

  it("takes queued jobs highest priority first, first in first out within one", function()
    local p = worker.pool { size = 1 }
    local order = {}
    local function job(name, priority)
      return function()
        local r = p:run({ "return function(n) require('ebb.task').sleep(5) return n end", priority = priority }, name)
        order[#order + 1] = r
      end
    end
    local first = task.spawn(job("first", 0))
    task.yield()
    local rest = { task.spawn(job("low", -1)), task.spawn(job("mid1", 0)), task.spawn(job("high", 2)), task.spawn(job("mid2", 0)) }
    task.yield()
    assert.equal(4, p:stats().pending)
    p:idle()
    first:await()
    for _, t in ipairs(rest) do t:await() end
    assert.same({ "first", "high", "mid1", "mid2", "low" }, order)
    assert.equal(0, p:stats().pending)
    p:close()
  end)

  it("idle returns at once when nothing runs, and honours its signal", function()
    pool:idle()
    local t = task.spawn(function() return pool:run("return function() require('ebb.task').sleep(50) return 1 end") end)
    task.yield()
    local ok, e = pcall(pool.idle, pool, abort.timeout(5))
    assert.is_false(ok)
    assert.is_true(errors.is(e, errors.TimeoutError))
    assert.equal(1, t:await())
  end)

  it("lets a job use ebb.task and timers in its worker", function()
    assert.equal("a b", pool:run([[return function()
      local task = require "ebb.task"
      local r = task.all({ function() task.sleep(5) return "a" end, function() task.sleep(1) return "b" end })
      return r[1] .. " " .. r[2]
    end]]))
  end)

  describe("cancellation", function()
    -- A job says it has started by connecting to the spec's server: cancelled
    -- before it starts, a job never runs, and its cleanup neither.
    local server, started
    before_each(function()
      started = task.future()
      server = net.listen("127.0.0.1", 0, function(conn)
        conn:close()
        started:resolve()
      end)
    end)
    after_each(function() server:close() end)

    local START = "require('ebb.net').connect('127.0.0.1', port):close() "
    local spin_interpreted = [[return function(port, mark)
      jit.off()
      local ok, e = pcall(function() ]] .. START .. [[local x = 0 while true do x = x + 1 end end)
      cleaned = mark -- a global of the worker's state
      error(e, 0)
    end]]
    local spin_closures = [[return function(port, mark)
      local ok, e = pcall(function() ]] .. START .. [[
        local x = 0 while true do local f = function() return 1 end x = x + f() end
      end)
      cleaned = mark
      error(e, 0)
    end]]
    local waits = [[return function(port, mark)
      local ok, e = pcall(function() ]] .. START .. [[require("ebb.task").sleep(1e9) end)
      cleaned = mark
      error(e, 0)
    end]]
    local read_mark = "return function() return cleaned end"

    local function single() return worker.pool { size = 1, grace = 60000 } end

    -- Runs code on p, cancels it with `how` once it has started; its error.
    local function cancelled(p, code, mark, how)
      local ctl = abort.controller()
      local opts = { code, signal = ctl.signal }
      if how == "timeout" then
        clock.freeze()
        opts = { code, timeout = 10 }
      end
      local t = task.spawn(function() return pcall(p.run, p, opts, server.port, mark) end)
      started:await()
      if how == "timeout" then clock.advance(10)
      elseif how == "signal" then ctl:abort()
      else t:cancel() end
      local ok, e = t:await() -- the task caught what the run raised
      clock.real()
      assert.is_false(ok)
      return e
    end

    it("by timeout reaches an interpreted loop, runs its cleanup and frees the worker", function()
      local p = single()
      local e = cancelled(p, spin_interpreted, "timeout", "timeout")
      assert.is_true(errors.is(e, errors.TimeoutError))
      assert.equal("timeout", p:run(read_mark))
      assert.equal(0, p:stats().replaced)
      p:close()
    end)

    it("by a signal in an interpreted loop", function()
      local p = single()
      assert.is_true(errors.is(cancelled(p, spin_interpreted, "signal", "signal"), errors.AbortError))
      assert.equal("signal", p:run(read_mark))
      assert.equal(0, p:stats().replaced)
      p:close()
    end)

    it("by cancelling the awaiting task, in a loop that makes closures", function()
      local p = single()
      assert.is_true(errors.is(cancelled(p, spin_closures, "task", "task"), errors.AbortError))
      assert.equal("task", p:run(read_mark))
      assert.equal(0, p:stats().replaced)
      p:close()
    end)

    it("of a job that waits in its worker", function()
      local p = single()
      assert.is_true(errors.is(cancelled(p, waits, "waited", "signal"), errors.AbortError))
      assert.equal("waited", p:run(read_mark))
      p:close()
    end)

    it("replaces a worker stuck in a compiled loop (or that goes on after its cancel) after the grace period", function()
      local p = worker.pool { size = 1, grace = 50 }
      local before = p:stats().replaced
      -- reached before LuaJIT has compiled the loop, the hook's error is caught and
      -- the loop starts again: compiled now, nothing reaches it
      local compiled = [[return function(port)
        local told = false
        while true do
          pcall(function()
            if not told then told = true ]] .. START .. [[ end
            local x = 0 for i = 1, 1e15 do x = x + i end
          end)
        end
      end]]
      assert.is_true(errors.is(cancelled(p, compiled, nil, "timeout"), errors.TimeoutError))
      assert.equal("next", p:run("return function() return 'next' end"))
      assert.equal(before + 1, p:stats().replaced)
      assert.is_true(worker.abandoned() >= 1)
      p:close()
    end)
  end)

  it("fails the job of a worker that runs out of memory, and replaces the worker", function()
    local p = worker.pool { size = 1, max_memory = 16 * 1024 * 1024 }
    local ok, e = pcall(p.run, p, "return function() local t = {} for i = 1, 1e9 do t[i] = { i } end end")
    assert.is_false(ok)
    assert.is_true(errors.is(e, worker.WorkerError))
    assert.matches("ran out of memory", e.message)
    assert.equal("fresh", p:run("return function() return 'fresh' end"))
    assert.equal(1, p:stats().replaced)
    p:close()
  end)

  it("after close refuses new runs", function()
    local p = worker.pool { size = 1 }
    p:close()
    p:close() -- twice does nothing
    local ok, e = pcall(p.run, p, ECHO)
    assert.is_false(ok)
    assert.is_true(errors.is(e, worker.WorkerError))
    assert.matches("closed", e.message)
  end)

  it("close waits for the jobs under way", function()
    local p = worker.pool { size = 1 }
    local t = task.spawn(function() return p:run("return function() require('ebb.task').sleep(20) return 'done' end") end)
    task.yield()
    p:close()
    assert.equal("done", t:await())
  end)

  it("checks its arguments", function()
    assert.error_matches(function() worker.pool { size = 0 } end, "option 'size' must be a whole number from 1 to 256, got 0")
    assert.error_matches(function() worker.pool { sise = 1 } end, "unknown option 'sise'")
    assert.error_matches(function() pool:run(42) end, "bad argument #1 to 'run' %(string %(a module name or Lua source%) expected, got number%)")
    assert.error_matches(function() pool:run({ ECHO, timeout = -1 }) end, "option 'timeout' must be a non%-negative number")
    assert.error_matches(function() pool.run({}, ECHO) end, "bad argument #1 to 'run' %(worker pool expected, got table%)")
  end)

  it("worker.run uses a default pool", function()
    assert.equal(6, worker.run("return function(a, b) return a * b end", 2, 3))
  end)
end)
