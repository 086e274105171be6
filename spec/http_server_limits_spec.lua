-- Specs for ebb.http's server under bad input and bad clients: malformed
-- requests, limits, slow clients, clients that go away, failing handlers,
-- graceful close, and backpressure both ways.
package.path = "spec/support/?.lua;" .. package.path
local http = require "ebb.http"
local net = require "ebb.net"
local task = require "ebb.task"
local clock = require "ebb.clock"
local errors = require "ebb.errors"
local raw = require "http_raw"
local run = require "run_ebb"

local GET = "GET %s HTTP/1.1\r\nHost: x\r\n\r\n"

local servers = {}
local function serve(handler, opts)
  local server = http.listen("127.0.0.1", 0, handler, opts)
  servers[#servers + 1] = server
  return server
end

after_each(function()
  for _, s in ipairs(servers) do s:close() end
  servers = {}
end)

-- The status the server answers bytes with, and whether it closed after.
local function answer(port, bytes)
  local c = raw.connect(port)
  c:send(bytes)
  local res = c:response()
  local ended = c:ended()
  c:close()
  return res and res.status, ended
end

local function still_serves(port)
  local res = raw.request(port, GET:format("/ok"))
  assert.equal(200, res.status)
end

describe("ebb.http server, malformed requests", function()
  local server, body_errors
  before_each(function()
    body_errors = {}
    server = serve(function(req, res)
      local ok, err = pcall(req.text, req)
      if not ok then body_errors[#body_errors + 1] = err end
      res:finish("ok")
    end, { max_header_size = 1024, max_body_size = 1000 })
  end)

  it("answers a bad request line with 400, closes, and goes on", function()
    assert.same({ 400, true }, { answer(server.port, "NOT HTTP AT ALL\r\n\r\n") })
    assert.same({ 400, true }, { answer(server.port, "GET / HTTP/1.1\r\nBad Header\r\n\r\n") })
    still_serves(server.port)
  end)

  it("answers a head larger than max_header_size with 431", function()
    assert.same({ 431, true }, { answer(server.port, "GET / HTTP/1.1\r\nX-Big: " .. ("a"):rep(2000) .. "\r\n\r\n") })
    assert.same({ 431, true }, { answer(server.port, "GET /" .. ("a"):rep(2000) .. " HTTP/1.1\r\n\r\n") })
    still_serves(server.port)
  end)

  it("answers an invalid chunk size with 400, and the handler's read fails", function()
    assert.same({ 400, true },
      { answer(server.port, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n") })
    still_serves(server.port)
  end)

  it("takes bytes past Content-Length for the next request: 400 when they are none", function()
    local c = raw.connect(server.port)
    c:send("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcdefgh\r\n\r\n")
    assert.equal(200, c:response().status)
    assert.equal(400, c:response().status)
    assert.is_true(c:ended())
    c:close()
    still_serves(server.port)
  end)

  it("answers a body larger than max_body_size with 413: at once for its Content-Length", function()
    assert.same({ 413, true }, { answer(server.port, "POST / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n") })
    assert.equal(0, #body_errors) -- the handler never ran
    still_serves(server.port)
  end)

  it("answers a chunked body that grows past max_body_size with 413", function()
    local chunk = ("x"):rep(600)
    local bytes = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" ..
      ("258\r\n" .. chunk .. "\r\n"):rep(2) .. "0\r\n\r\n"
    assert.same({ 413, true }, { answer(server.port, bytes) })
    still_serves(server.port)
  end)
end)

describe("ebb.http server, random bytes", function()
  it("answers or closes every connection that sends them, and goes on serving", function()
    local server = serve(function(req, res) res:finish(req:text()) end, { max_header_size = 512, max_body_size = 512 })
    local pieces = { "GET ", "POST ", "/", "?a=1", " HTTP/1.1", " HTTP/1.0", "\r\n", "\r\n\r\n", "Host: x",
      "Content-Length: 5", "Content-Length: -1", "Transfer-Encoding: chunked", "5\r\nhello\r\n", "0\r\n\r\n",
      "zz\r\n", ":", " ", "\0", "\255", ("a"):rep(600), "Expect: 100-continue", "Connection: close" }
    local rng = 12345
    local function random(n) -- a small LCG: the same bytes every run
      rng = (rng * 1103515245 + 12345) % 2147483648
      return rng % n + 1
    end
    for _ = 1, 200 do
      local parts = {}
      for i = 1, random(12) do parts[i] = pieces[random(#pieces)] end
      local c = raw.connect(server.port)
      c:send(table.concat(parts))
      c.conn:finish() -- the client's end: the server answers what it read, then closes
      while c:fill() do end
      c:close()
    end
    still_serves(server.port)
  end)
end)

describe("ebb.http server, a body that goes bad while the handler reads it", function()
  -- The head and a first chunk, then, once the handler has that chunk, the rest.
  local function staged(rest, opts)
    local first, failure = task.future(), task.future()
    local server = serve(function(req, res)
      if not req.body then return res:finish() end
      first:resolve(req.body:read())
      local ok, err = pcall(req.text, req)
      failure:resolve(not ok and err)
      res:finish("too late")
    end, opts)
    local c = raw.connect(server.port)
    c:send("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
    assert.equal("abc", first:await())
    c:send(rest)
    local res = c:response()
    assert.is_true(c:ended())
    c:close()
    still_serves(server.port)
    return res.status, failure:await()
  end

  it("fails the read with EPROTO and answers 400 for an invalid chunk size", function()
    local status, err = staged("zz\r\nhello\r\n0\r\n\r\n")
    assert.equal(400, status)
    assert.equal("EPROTO", err.code)
  end)

  it("fails the read with E2BIG and answers 413 past max_body_size", function()
    local status, err = staged("3e8\r\n" .. ("x"):rep(1000) .. "\r\n0\r\n\r\n", { max_body_size = 1000 })
    assert.equal(413, status)
    assert.equal("E2BIG", err.code)
  end)
end)

describe("ebb.http server, slow and idle clients", function()
  it("keeps answering others while many clients send their heads a byte at a time, then drops them", function()
    clock.freeze()
    local server = serve(function(_, res) res:finish("ok") end, { headers_timeout = 1000 })
    -- a thousand slow clients, fewer where the limit of open files could not hold them (two each)
    local p = io.popen("ulimit -n")
    local fd_limit = tonumber(p:read("*l")) or math.huge
    p:close()
    local n = math.min(1000, math.floor((fd_limit - 200) / 2))
    local slow = {}
    for i = 1, n do slow[i] = raw.connect(server.port) end
    local connections = require("ebb.httpserver.core").connections
    while connections(server._c) < n do still_serves(server.port) end -- all accepted: their clocks run
    local head = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "
    for b = 1, #head do
      for i = 1, #slow do slow[i]:send(head:sub(b, b)) end
      if b % 10 == 0 then still_serves(server.port) end -- others are answered meanwhile
    end
    clock.advance(999)
    still_serves(server.port)
    clock.advance(1) -- their heads are late: 408, and closed
    for i = 1, #slow do
      assert.equal(408, slow[i]:response().status)
      assert.is_true(slow[i]:ended())
      slow[i]:close()
    end
    still_serves(server.port)
  end)

  it("answers 408 to a body that has not all come within request_timeout of its request's start", function()
    clock.freeze()
    local started, failure = task.future(), task.future()
    local server = serve(function(req, res)
      started:resolve()
      local ok, err = pcall(req.text, req)
      failure:resolve(not ok and err)
      res:finish()
    end, { request_timeout = 1000 })
    local c = raw.connect(server.port)
    c:send("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
    started:await()
    clock.advance(999)
    assert.is_false(failure.settled)
    clock.advance(1)
    assert.equal(408, c:response().status)
    assert.is_true(c:ended())
    c:close()
    assert.equal("ETIMEDOUT", failure:await().code)
    still_serves(server.port)
  end)

  it("closes a connection idle for keep_alive_timeout", function()
    clock.freeze()
    local server = serve(function(_, res) res:finish("ok") end, { keep_alive_timeout = 500 })
    local c = raw.connect(server.port)
    c:send(GET:format("/"))
    assert.equal(200, c:response().status)
    clock.advance(499)
    c:send(GET:format("/")) -- a request in time restarts the wait
    assert.equal(200, c:response().status)
    clock.advance(499)
    c:send(GET:format("/"))
    assert.equal(200, c:response().status)
    clock.advance(500)
    assert.is_true(c:ended())
    c:close()
  end)
end)

describe("ebb.http server, a client that does not read", function()
  it("is not waited for past keep_alive_timeout once its last response is queued", function()
    clock.freeze()
    local queued = task.future()
    local server = serve(function(_, res)
      res.headers.Connection = "close"
      res:finish(("x"):rep(32 * 1024 * 1024)) -- more than the socket takes: most stays queued
      queued:resolve()
    end, { keep_alive_timeout = 500 })
    local connections = require("ebb.httpserver.core").connections
    local c = raw.connect(server.port)
    c:send(GET:format("/"))
    queued:await()
    clock.advance(499)
    assert.equal(1, connections(server._c))
    clock.advance(1)
    assert.equal(0, connections(server._c))
    c:close()
  end)
end)

describe("ebb.http server, handlers", function()
  it("aborts req.signal when the client goes away", function()
    local reason = task.future()
    local server = serve(function(req, res)
      if req.path == "/ok" then return res:finish() end
      local ok, err = pcall(task.sleep, 1e9, req.signal)
      reason:resolve(err)
      res:finish("nobody reads this")
    end)
    local c = raw.connect(server.port)
    c:send(GET:format("/"))
    task.sleep(0)
    c:close()
    local err = reason:await()
    assert.is_true(errors.is(err, errors.AbortError))
    assert.equal("the client went away", err.message)
    still_serves(server.port)
  end)

  it("fails a write once the client has gone, and does not report the handler's error", function()
    local failure = task.future()
    local server = serve(function(req, res)
      if req.path == "/ok" then return res:finish() end
      local ok, err = pcall(function()
        while true do res:write(("w"):rep(65536)) end
      end)
      failure:resolve(err)
      error(err, 0) -- raised again: the client went away, so nothing is reported
    end)
    local c = raw.connect(server.port)
    c:send(GET:format("/"))
    assert.truthy(c.conn:read()) -- the response has begun
    c:close()
    local err = failure:await()
    assert.equal("ECONNRESET", err.code)
    assert.matches("the client went away", err.message)
    still_serves(server.port)
  end)

  it("answers 500 for a handler that raises, without its text, and reports the error", function()
    local out, err, status = run.ebb("-e " .. run.quote([[
      local http, raw = require "ebb.http", dofile("spec/support/http_raw.lua")
      local server = http.listen("127.0.0.1", 0, function(req, res)
        if req.path == "/status" then
          res.status = 42 -- raises when the server finishes the response
          return
        end
        if req.path == "/late" then res:write("part") end
        error("secret detail")
      end)
      local res = raw.request(server.port, "GET / HTTP/1.1\r\n\r\n")
      print(res.status, res.body)
      res = raw.request(server.port, "GET /status HTTP/1.1\r\n\r\n")
      print(res.status, res.body)
      local c = raw.connect(server.port)
      c:send("GET /late HTTP/1.1\r\n\r\n")
      print(pcall(c.response, c))
      server:close()
    ]]))
    assert.matches("^500\tInternal Server Error\n500\tInternal Server Error\nfalse\t", out)
    assert.matches("secret detail", err)
    assert.matches("bad response status in 'finish' %(a whole number from 100 to 999 expected, got 42%)", err)
    assert.equal(1, status)
  end)

  it("finishes closing when the last handler it waits for fails", function()
    local out, err, status = run.ebb("-e " .. run.quote([[
      local http, task, raw = require "ebb.http", require "ebb.task", dofile("spec/support/http_raw.lua")
      local go, started = task.future(), task.future()
      local server = http.listen("127.0.0.1", 0, function()
        started:resolve()
        go:await()
        error("failed while closing")
      end)
      local c = raw.connect(server.port)
      c:send("GET / HTTP/1.1\r\n\r\n")
      started:await()
      local closing = task.spawn(server.close, server)
      go:resolve()
      closing:await()
      print("closed", c:response().status)
    ]]))
    assert.equal("closed\t500\n", out)
    assert.matches("failed while closing", err)
    assert.equal(1, status)
  end)

  it("closes gracefully: idle connections at once, new ones refused, in-flight ones answered", function()
    local go, started = task.future(), task.future()
    local server = http.listen("127.0.0.1", 0, function(req, res)
      started:resolve()
      go:await()
      res:finish("done " .. req.path)
    end)
    local busy, idle = raw.connect(server.port), raw.connect(server.port)
    busy:send(GET:format("/busy"))
    started:await()
    local closing = task.spawn(server.close, server)
    assert.is_true(idle:ended())
    assert.has_error(function() net.connect("127.0.0.1", server.port) end)
    assert.equal("running", closing.status) -- it waits for the handler
    go:resolve()
    local res = busy:response()
    assert.equal("done /busy", res.body)
    assert.equal("close", res.headers.connection)
    assert.is_true(busy:ended())
    closing:await()
    assert.is_true(server.closed)
    busy:close()
    idle:close()
  end)

  it("closes from one of its handlers without waiting for that handler", function()
    local server, closing
    server = http.listen("127.0.0.1", 0, function(_, res)
      closing = server:close() -- the task that waits: this handler is one it waits for
      res:finish("closing")
    end)
    local res = raw.request(server.port, GET:format("/stop"))
    assert.equal("closing", res.body)
    assert.equal("close", res.headers.connection)
    closing:await()
    assert.is_true(server.closed)
  end)

  it("cancels the handlers still running when close's timeout passes", function()
    clock.auto()
    local cancelled = task.future()
    local server = http.listen("127.0.0.1", 0, function(req, res)
      local ok, err = pcall(task.sleep, 1e9)
      cancelled:resolve(err)
      error(err, 0)
    end)
    local c = raw.connect(server.port)
    c:send(GET:format("/"))
    task.sleep(0)
    local t0 = clock.now()
    server:close({ timeout = 100 })
    assert.near(100, clock.now() - t0, 1e-6)
    assert.is_true(errors.is(cancelled:await(), errors.TimeoutError))
    assert.is_true(c:ended())
    c:close()
  end)
end)

-- Waits until count() stops growing (a writer blocked by backpressure): it is
-- sampled every 20 ms of real time, as what stops it is outside the process
-- (the kernel's socket buffers fill).
local function stalled(count)
  local last = -1
  while count() ~= last do
    last = count()
    task.sleep(20)
  end
  return last
end

describe("ebb.http server, backpressure", function()
  it("stops reading an upload while the handler does not read it", function()
    local total, chunk = 32 * 1024 * 1024, ("u"):rep(65536)
    local read, go = task.future(), task.future()
    local server = serve(function(req, res)
      go:await()
      local n = 0
      for c in req.body:chunks() do n = n + #c end
      read:resolve(n)
      res:finish()
    end, { max_body_size = total })
    local c = raw.connect(server.port)
    local sent = 0
    local writer = task.spawn(function()
      c:send(("POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n"):format(total))
      while sent < total do
        c:send(chunk)
        sent = sent + #chunk
      end
    end)
    assert.is_true(stalled(function() return sent end) < total / 2, sent)
    assert.equal("running", writer.status)
    go:resolve()
    assert.equal(total, read:await())
    writer:await()
    assert.equal(200, c:response().status)
    c:close()
  end)

  it("streams a large response in bounded memory while the client does not read", function()
    local total, chunk = 32 * 1024 * 1024, ("d"):rep(65536)
    local written = 0
    local server = serve(function(_, res)
      while written < total do
        res:write(chunk)
        written = written + #chunk
      end
      res:finish()
    end)
    local c = raw.connect(server.port)
    c:send(GET:format("/big"))
    assert.is_true(stalled(function() return written end) < total / 2, written)
    local res = c:response()
    assert.equal(total, #res.body)
    c:close()
  end)
end)
