package.path = "spec/support/?.lua;" .. package.path
local fs = require "ebb.fs"
local stream = require "ebb.stream"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local task = require "ebb.task"
local scope = require "ebb.scope"
local raised = require("asserts").raised

-- A readable that gives the chunks of a list, counting the reads.
local function chunked(list)
  local i = 0
  local r
  r = stream.readable(function()
    i = i + 1
    r.reads = i
    return list[i]
  end)
  return r
end

local function collect(it)
  local out = {}
  for line in it do out[#out + 1] = line end
  return out
end

-- The lines of text as Go's bufio.ScanLines gives them, built the slow way.
local function expected_lines(text)
  local out = {}
  for piece in (text .. "\n"):gmatch("(.-)\n") do out[#out + 1] = piece end
  if text:sub(-1) == "\n" or text == "" then out[#out] = nil end
  for i, l in ipairs(out) do
    if l:sub(-1) == "\r" and (i < #out or text:sub(-1) == "\n") then out[i] = l:sub(1, -2) end
  end
  return out
end

local function open_fds() return #fs.readdir("/proc/self/fd") end

-- Waits (a bounded number of turns) until the lines are closed and their file with them.
local function settled_fds(base)
  local now = open_fds()
  for _ = 1, 50 do
    if now <= base then break end
    task.yield()
    now = open_fds()
  end
  return now
end

describe("stream.lines and fs.lines", function()
  local path
  before_each(function() path = os.tmpname() end)
  after_each(function() os.remove(path) end)

  it("gives lines without \\n or \\r\\n, empty ones as \"\", and a last line without a terminator", function()
    fs.write_file(path, "a\r\nbb\n\n\r\nccc\r\nlast")
    assert.same({ "a", "bb", "", "", "ccc", "last" }, collect(fs.lines(path)))
    fs.write_file(path, "one\n")
    assert.same({ "one" }, collect(fs.lines(path)))
    fs.write_file(path, "lone\rcr\n\r")
    assert.same({ "lone\rcr", "\r" }, collect(fs.lines(path)))
  end)

  it("gives nothing for an empty file, and nil again after the end", function()
    fs.write_file(path, "")
    local lines = fs.lines(path)
    assert.is_nil(lines())
    assert.is_nil(lines:next())
    assert.is_true(lines.ended)
  end)

  it("splits the same however the chunks cut the lines and the \\r\\n pairs", function()
    local text = "ab\r\n\r\nc\n\nlong line here\r\nx\r\r\ny"
    local want = expected_lines(text)
    assert.same({ "ab", "", "c", "", "long line here", "x\r", "y" }, want)
    for a = 1, #text do
      for b = a, #text do
        local chunks = { text:sub(1, a), text:sub(a + 1, b), text:sub(b + 1) }
        assert.same(want, collect(stream.lines(chunked(chunks))), ("cut at %d and %d"):format(a, b))
      end
    end
    local rnd = {}
    for i = 1, 2000 do rnd[i] = ({ "a", "b", "\n", "\r", "\r\n" })[math.random(5)] end
    text = table.concat(rnd)
    local chunks, at = {}, 1
    while at <= #text do
      local n = math.random(0, 7)
      chunks[#chunks + 1] = text:sub(at, at + n - 1)
      at = at + n
    end
    assert.same(expected_lines(text), collect(stream.lines(chunked(chunks))))
  end)

  it("reads a file larger than a block, lines across the blocks", function()
    local parts = {}
    for i = 1, 30000 do parts[i] = ("line %d %s"):format(i, ("x"):rep(i % 50)) end
    fs.write_file(path, table.concat(parts, "\r\n") .. "\r\n")
    assert.same(parts, collect(fs.lines(path, { high_water_mark = 1000 })))
    assert.same(parts, collect(fs.lines(path)))
  end)

  it("reads a file in bounded memory, whatever its size", function()
    fs.write_file(path, (("x"):rep(79) .. "\n"):rep(400000)) -- 32 MB
    collectgarbage()
    local base, peak, n = collectgarbage("count"), 0, 0
    for _ in fs.lines(path) do
      n = n + 1
      if n % 1000 == 0 then peak = math.max(peak, collectgarbage("count")) end
    end
    assert.equal(400000, n)
    assert.is_true(peak - base < 16 * 1024, ("the heap grew by %d kB"):format(peak - base))
  end)

  it("raises LineTooLongError for a line longer than max_length, without reading the rest of it", function()
    fs.write_file(path, "12345\r\n123456\n")
    local lines = fs.lines(path, { max_length = 5 })
    assert.equal("12345", lines())
    local e = raised(lines)
    assert.is_true(errors.is(e, stream.LineTooLongError))
    assert.equal(("LineTooLongError: line 2 of '%s' is longer than max_length (5 bytes)"):format(path), tostring(e))
    assert.same({ 2, 5 }, { e.line, e.max_length })
    assert.is_true(lines.closed)

    -- a line of exactly max_length, its "\r" at the end of one chunk and its "\n" in the next
    assert.same({ "abc", "de" }, collect(stream.lines(chunked { "abc\r", "\nde" }, { max_length = 3 })))
    assert.same({ "abc", "" }, collect(stream.lines(chunked { "ab", "c", "\r", "\n\n" }, { max_length = 3 })))

    -- a source that never ends a line: refused once a chunk passes the limit
    local endless = stream.readable(function() return ("x"):rep(1000) end)
    e = raised(function() for _ in stream.lines(endless, { max_length = 4096 }) do end end)
    assert.is_true(errors.is(e, stream.LineTooLongError))
    assert.equal("line 1 is longer than max_length (4096 bytes)", e.message)
  end)

  it("closes the file at the end, at close(), and on an error", function()
    fs.write_file(path, "a\nb\n")
    local base = open_fds()
    local lines = fs.lines(path)
    assert.equal(base + 1, open_fds())
    collect(lines)
    assert.equal(base, open_fds())
    lines = fs.lines(path)
    assert.equal("a", lines())
    lines:close()
    assert.equal(base, open_fds())
    lines:close()
    local e = raised(lines)
    assert.is_true(errors.is(e, stream.ClosedError))
    assert.equal("", lines:rest())
  end)

  it("after a break, closes the file when the task that read it ends", function()
    fs.write_file(path, ("line\n"):rep(100000))
    collectgarbage("stop") -- the collector would close a file left over: it is the task's end that must
    local base = open_fds()
    local lines
    task.spawn(function()
      lines = fs.lines(path)
      for _ in lines do break end
      assert.equal(base + 1, open_fds())
    end):await()
    assert.equal(base, settled_fds(base))
    assert.is_true(lines.closed)

    -- a failing task too
    local t = task.spawn(function()
      for _ in fs.lines(path) do error("boom", 0) end
    end)
    assert.equal("boom", raised(t.await, t))
    assert.equal(base, settled_fds(base))

    -- a queue's job too, and the queue still frees the job's slot
    local q = require("ebb.queue").new(1)
    for _ = 1, 3 do
      q:run(function()
        for _ in fs.lines(path) do break end
      end)
    end
    assert.equal(base, settled_fds(base))
    assert.equal(0, q.active)
    collectgarbage("restart")
  end)

  it("closes at the end of a scope that uses it", function()
    fs.write_file(path, "a\nb\n")
    local base = open_fds()
    scope.run(function(s)
      for line in s:use(fs.lines(path)) do
        assert.equal("a", line)
        break
      end
    end)
    assert.equal(base, open_fds())
  end)

  it("leaves a readable open: stream.lines does not own it, and rest() has what is left", function()
    local r = chunked { "GET / HTTP/1.1\r\nHost: x\r\n\r\nbody bytes", " and more" }
    local lines = stream.lines(r)
    local head = {}
    for line in lines do
      if line == "" then break end
      head[#head + 1] = line
    end
    assert.same({ "GET / HTTP/1.1", "Host: x" }, head)
    assert.equal("body bytes", lines:rest())
    lines:close()
    assert.is_false(r.closed)
    assert.equal(" and more", r:read())
  end)

  it("hands the bytes of rest() out once: the lines go on after them", function()
    local lines = stream.lines(chunked { "a\nb\nc", "d\ne\n" })
    assert.equal("a", lines())
    assert.equal("b\nc", lines:rest())
    assert.equal("", lines:rest())
    assert.equal("d", lines())
    assert.equal("e", lines())
    assert.is_nil(lines())
  end)

  it("names itself when its call metamethod is given another self", function()
    local call = getmetatable(stream.lines(chunked { "a\n" })).__call
    assert.matches("bad argument #1 to '__call' %(lines expected, got table%)$", raised(call, {}))
    assert.matches("bad argument #1 to '__call' %(lines expected, got number%)$", raised(call, 5))
  end)

  it("ends at the abort of its signal, even between two lines it holds", function()
    fs.write_file(path, "a\nb\nc\n")
    local base = open_fds()
    local ctl = abort.controller()
    local lines = fs.lines(path, { signal = ctl.signal })
    assert.equal("a", lines())
    ctl:abort("stop")
    assert.equal("stop", raised(lines))
    assert.is_true(lines.closed)
    assert.equal(base, settled_fds(base))
    assert.equal("no", raised(fs.lines, path, { signal = abort.aborted("no") }))
    assert.equal("no", raised(stream.lines(chunked { "a\n" }, { signal = abort.aborted("no") })))
  end)

  it("ends at the abort of its signal during a read whose source does not listen to it", function()
    local ctl = abort.controller()
    local r = stream.readable(function()
      ctl:abort("late")
      return "a\nb\n"
    end)
    local lines = stream.lines(r, { signal = ctl.signal })
    assert.equal("late", raised(lines))
    assert.is_true(lines.closed)
  end)

  it("ends when its task is cancelled while it waits for a chunk", function()
    local r = stream.readable(function(signal)
      task.sleep(1e9, signal)
      return "never\n"
    end)
    local got
    local t = task.spawn(function()
      local lines = stream.lines(r)
      local ok, e = pcall(lines)
      got = { ok, e, lines.closed }
      error(e, 0)
    end)
    task.yield()
    t:cancel("cancelled")
    assert.equal("cancelled", raised(t.await, t))
    assert.same({ false, "cancelled", true }, got)
  end)

  it("passes a source's error on unchanged", function()
    local boom = {}
    local r = stream.readable(function() error(boom) end)
    assert.equal(boom, raised(stream.lines(r)))
    local e = raised(stream.lines(chunked { "a", {} }))
    assert.equal("the readable gave a table where a chunk (a string) goes", e.message)
    assert.is_true(errors.is(raised(fs.lines, "/nonexistent/x"), errors.SystemError))
  end)

  it("reads the lines of a TCP connection and of a child's output", function()
    local net = require "ebb.net"
    local server = net.listen("127.0.0.1", 0, function(conn)
      for i = 1, 3 do conn:write("from server " .. i .. "\r\n") end
      conn:finish()
    end)
    local c = net.connect("127.0.0.1", server.port)
    assert.same({ "from server 1", "from server 2", "from server 3" }, collect(stream.lines(c)))
    c:close()
    server:close()
    local p = require("ebb.process").spawn("printf", { "x\\ny\\n\\nz" }, { stdin = "ignore" })
    assert.same({ "x", "y", "", "z" }, collect(stream.lines(p.stdout)))
    p:wait()
    p:close()
  end)

  it("checks its arguments", function()
    local function msg(fn, ...) return select(2, pcall(fn, ...)) end
    assert.matches("bad argument #1 to 'lines' %(readable stream expected, got number%)", msg(stream.lines, 5))
    assert.matches("bad argument #2 to 'lines' %(unknown option 'max'; valid options: max_length, signal%)",
      msg(stream.lines, chunked {}, { max = 1 }))
    assert.matches("bad argument #2 to 'lines' %(option 'max_length' must be a whole number from 0, or math.huge",
      msg(stream.lines, chunked {}, { max_length = -1 }))
    assert.matches("bad argument #1 to 'lines' %(path must not contain a NUL byte%)", msg(fs.lines, "a\0b"))
    assert.matches("unknown option 'x'; valid options: high_water_mark, max_length, signal", msg(fs.lines, path, { x = 1 }))
    assert.matches("bad argument #1 to 'close' %(lines expected, got number%)", msg(stream.lines(chunked {}).close, 1))
  end)
end)
