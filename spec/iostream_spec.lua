package.path = "spec/support/?.lua;" .. package.path
local io_support = require "io_support"
local read_all, started = io_support.read_all, io_support.started
local net = require "ebb.net"
local stream = require "ebb.stream"
local fs = require "ebb.fs"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local task = require "ebb.task"
local raised = require("asserts").raised -- calls fn(...), which must raise; returns what it raised

local LOCAL = "127.0.0.1"

-- Two connected streams over loopback, a and b (b is the server's end), and
-- done() to close them both and the server.
local function pair(opts)
  local got, gate = task.future(), task.future()
  local server = net.listen(LOCAL, 0, function(conn)
    got:resolve(conn)
    gate:await()
  end, opts)
  local a = net.connect(LOCAL, server.port, opts)
  local b = got:await()
  return a, b, function()
    a:close()
    b:close()
    gate:resolve()
    server:close()
  end
end

-- Lets the event loop poll a few times, by round trips over a connection of
-- its own (real I/O, no sleeping).
local function poll_a_few_times(n)
  local x, y, done = pair()
  for i = 1, n or 10 do
    x:write("p" .. i)
    assert.equal("p" .. i, y:read())
  end
  done()
end

-- How a task ended: ok, value-or-error (it must have ended, or end soon).
local function outcome(t) return pcall(t.await, t) end

describe("ebb.iostream", function()
  it("has the stream protocol's fields, and a high_water_mark of 64 KiB by default", function()
    local a, b, done = pair()
    assert.is_true(a.readable and a.writable)
    assert.is_false(a.ended or a.finished or a.closed)
    assert.equal(0, a.written)
    assert.equal(65536, a.high_water_mark)
    assert.same({ 0, 0 }, { a:buffered() })
    assert.matches("^IOStream %(127%.0%.0%.1:%d+%)$", tostring(a))
    a:write("")
    a:write("abc")
    assert.equal(3, a.written)
    assert.equal("abc", b:read())
    done()
    assert.matches("closed%)$", tostring(a))
  end)

  it("is a source and a sink of stream.pipeline", function()
    local a, b, done = pair()
    local p = os.tmpname()
    local data = ("pipeline data\n"):rep(20000)
    fs.write_file(p, data)
    local sender = task.spawn(stream.pipeline, fs.reader(p, { high_water_mark = 4096 }), a)
    stream.pipeline(b, function(c) return c:upper() end, fs.writer(p .. ".out"))
    sender:await()
    assert.equal(data:upper(), fs.read_file(p .. ".out"))
    assert.is_true(a.closed and b.closed) -- the pipeline closed both ends
    fs.unlink(p)
    fs.unlink(p .. ".out")
    done()
  end)

  describe("backpressure", function()
    it("makes a writer wait once more than high_water_mark bytes are queued, until the peer reads", function()
      local hwm, size = 8192, 32768
      local a, b, done = pair({ high_water_mark = hwm })
      local written, queued_most = 0, 0
      local producer = started(function()
        for _ = 1, 2048 do -- 64 MiB
          a:write(("q"):rep(size))
          written = written + size
          queued_most = math.max(queued_most, select(2, a:buffered()))
        end
        a:finish()
      end)
      poll_a_few_times()
      local stalled_at = written
      poll_a_few_times()
      assert.equal(stalled_at, written) -- it stays blocked
      assert.equal("running", producer.status)
      local _, queued = a:buffered()
      assert.is_true(queued > hwm and queued <= hwm + size, "queued " .. queued)
      -- a slow consumer: every byte arrives, and the queue never grows past the bound
      local total = 0
      for chunk in b:chunks() do
        total = total + #chunk
        queued_most = math.max(queued_most, select(2, a:buffered()))
        if total % 7 == 0 then task.yield() end
      end
      assert.equal(2048 * size, total)
      assert.is_true(queued_most <= hwm + size, "queued at most " .. queued_most)
      assert.is_true(outcome(producer))
      done()
    end)

    it("lets finish wait until everything is sent", function()
      local a, b, done = pair({ high_water_mark = 2 ^ 23 })
      local data = ("0123456789abcdef"):rep(2 ^ 18) -- 4 MiB: queued at once
      local finished = false
      local writer = started(function()
        a:write(data)
        a:finish()
        finished = true
      end)
      poll_a_few_times()
      assert.is_false(finished)
      assert.is_true(a.finished) -- no more writes from now on
      assert.matches("write after finish", tostring(raised(a.write, a, "x")))
      assert.equal(data, read_all(b))
      assert.is_true(outcome(writer))
      assert.is_true(finished)
      assert.same({ 0, 0 }, { a:buffered() })
      done()
    end)

    it("stops reading at high_water_mark and loses nothing when reading resumes", function()
      local a, b, done = pair({ high_water_mark = 1000 })
      local parts = {}
      for i = 1, 2000 do parts[i] = ("<%d>"):format(i) end
      local data = table.concat(parts)
      local writer = task.spawn(function()
        for i = 1, #parts do b:write(parts[i]) end
        b:finish()
      end)
      assert.equal(1000, a.high_water_mark)
      local first = a:read()
      poll_a_few_times()
      assert.is_true(a:buffered() <= 1000 + 65536)
      assert.equal(data, first .. read_all(a))
      assert.is_true(a.ended)
      assert.is_nil(a:read())
      writer:await()
      done()
    end)
  end)

  describe("many tasks on one stream", function()
    it("hands each chunk to one reader, in the order they asked, none lost or doubled", function()
      local a, b, done = pair()
      local got = {}
      local readers = {}
      for i = 1, 5 do
        readers[i] = task.spawn(function()
          for chunk in a:chunks() do got[#got + 1] = chunk end
        end)
      end
      task.yield()
      local sent = {}
      for i = 1, 200 do
        sent[i] = ("[%03d]"):format(i)
        b:write(sent[i])
        if i % 10 == 0 then poll_a_few_times(1) end
      end
      b:finish()
      task.all(readers)
      assert.equal(table.concat(sent), table.concat(got))
      done()
    end)

    it("keeps each write whole when several tasks write at once", function()
      local a, b, done = pair({ high_water_mark = 100 })
      local writers = {}
      for w = 1, 4 do
        writers[w] = task.spawn(function()
          for i = 1, 200 do a:write(("(%d:%03d)"):format(w, i) .. ("."):rep(500)) end
        end)
      end
      local reader = task.spawn(read_all, b)
      task.all(writers)
      a:finish()
      local text = reader:await()
      local count, last = 0, {}
      for w, i in text:gmatch("%((%d):(%d+)%)" .. ("%."):rep(500)) do
        count = count + 1
        w, i = tonumber(w), tonumber(i)
        assert.equal((last[w] or 0) + 1, i) -- each writer's chunks in its order
        last[w] = i
      end
      assert.equal(800, count)
      assert.equal(800 * 507, #text)
      done()
    end)
  end)

  describe("cancelled and aborted readers", function()
    -- a and c are read; a poll hands c's chunk to the waker, then a's to
    -- a's reader: the waker runs first and can cancel that reader.
    local function handed_setup()
      local a, pa, done_a = pair()
      local c, pc, done_c = pair()
      return a, pa, c, pc, function()
        done_a()
        done_c()
      end
    end

    it("gives a cancelled reader's chunk to the next waiting reader", function()
      local a, pa, c, pc, done = handed_setup()
      local first = started(a.read, a)
      local second = started(a.read, a)
      local waker = started(function()
        c:read()
        first:cancel()
      end)
      pc:write("wake")
      pa:write("chunk")
      waker:await()
      local ok, e = outcome(first)
      if ok then -- under load "chunk" came a poll earlier, and the first reader ran before the cancel
        assert.equal("chunk", e)
        pa:write("next")
        assert.same({ true, "next" }, { outcome(second) })
      else -- handed "chunk" before the cancel, or not yet: the chunk is the second reader's
        assert.is_true(errors.is(e, errors.AbortError))
        assert.same({ true, "chunk" }, { outcome(second) }) -- no more data needed
      end
      done()
    end)

    it("gives a chunk back when its reader's signal aborts after it was handed it", function()
      local a, pa, c, pc, done = handed_setup()
      local ctl = abort.controller()
      local reader = started(a.read, a, ctl.signal)
      local waker = started(function()
        c:read()
        ctl:abort("enough")
      end)
      pc:write("wake")
      pa:write("kept")
      waker:await()
      local ok, got = outcome(reader)
      if ok then -- under load "kept" came a poll earlier, and the reader ran before the abort
        assert.equal("kept", got)
      else -- handed "kept" before the abort, or not yet: the chunk is the next read's
        assert.equal("enough", got)
        assert.equal("kept", a:read())
      end
      done()
    end)
  end)

  describe("close", function()
    it("drops what was read but not taken, and what was not sent", function()
      local a, b, done = pair({ high_water_mark = 1024 })
      b:write("first")
      assert.equal("first", a:read()) -- a reads on from now on
      b:write("unread")
      poll_a_few_times()
      assert.equal(6, (a:buffered()))
      local writer = started(function()
        for _ = 1, 1024 do a:write(("d"):rep(65536)) end
      end)
      assert.equal("running", writer.status)
      local _, queued = a:buffered()
      assert.is_true(queued > 0)
      a:close()
      assert.same({ 0, 0 }, { a:buffered() })
      assert.is_true(errors.is(select(2, outcome(writer)), stream.ClosedError))
      assert.is_true(errors.is(raised(a.read, a), stream.ClosedError))
      -- the peer gets what reached the kernel, then the end
      local n = #read_all(b)
      assert.is_true(n > 0 and n < 1024 * 65536)
      done()
    end)

    it("ends every waiting reader with nil, and fails every waiting writer", function()
      local a, _, done = pair({ high_water_mark = 1 })
      local readers = {}
      for i = 1, 3 do readers[i] = task.spawn(a.read, a) end
      local writers = {}
      for i = 1, 3 do writers[i] = task.spawn(a.write, a, ("w"):rep(2 ^ 22)) end
      task.yield()
      a:close()
      for i = 1, 3 do
        assert.same({ true }, { outcome(readers[i]) })
        local ok, e = outcome(writers[i])
        if not ok then assert.is_true(errors.is(e, stream.ClosedError), tostring(e)) end
      end
      assert.is_false((outcome(writers[3]))) -- the last one surely waited
      done()
    end)

    it("reports a connection reset as a SystemError with the code and the syscall", function()
      local gate = task.future()
      local server = net.listen(LOCAL, 0, function()
        gate:await() -- then the handler returns, closing with unread data: a reset
      end)
      local a = net.connect(LOCAL, server.port)
      a:write("never read")
      gate:resolve()
      local e = raised(a.read, a)
      assert.is_true(errors.is(e, errors.SystemError), tostring(e))
      assert.equal("ECONNRESET", e.code)
      assert.equal("read", e.syscall)
      assert.matches("^ECONNRESET: .*, read 127%.0%.0%.1:%d+", e.message)
      e = raised(function()
        for _ = 1, 100 do a:write(("x"):rep(65536)) end
      end)
      assert.is_true(errors.is(e, errors.SystemError), tostring(e))
      assert.is_truthy(e.code == "EPIPE" or e.code == "ECONNRESET", e.code)
      assert.equal("write", e.syscall)
      a:close()
      server:close()
    end)
  end)
end)
