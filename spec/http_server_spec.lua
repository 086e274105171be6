-- Specs for ebb.http's server: requests and responses as a client sees them
-- on the wire (raw bytes over ebb.net), keep-alive, pipelining, HEAD, bodies.
package.path = "spec/support/?.lua;" .. package.path
local http = require "ebb.http"
local task = require "ebb.task"
local abort = require "ebb.abort"
local raw = require "http_raw"
local asserts = require "asserts"
local raised = asserts.raised

local GET = "GET %s HTTP/1.1\r\nHost: x\r\n\r\n"

-- A server for one spec: closed after it, whatever happened.
local function serve(handler, opts)
  local server = http.listen("127.0.0.1", 0, handler, opts)
  finally(function() server:close() end)
  return server
end

describe("ebb.http server", function()
  it("answers a GET with the handler's status, headers and body", function()
    local server = serve(function(req, res)
      res.status = 201
      res.headers["X-Method"] = req.method
      res:finish("made " .. req.path)
    end)
    local res = raw.request(server.port, GET:format("/things?x=1"))
    assert.equal("HTTP/1.1 201 Created", res.status_line)
    assert.equal("GET", res.headers["x-method"])
    assert.equal("12", res.headers["content-length"])
    assert.truthy(res.headers.date)
    assert.equal("made /things", res.body)
  end)

  it("gives the handler the target, path, decoded query and headers in any case", function()
    local seen
    local server = serve(function(req, res)
      seen = { url = req.url, path = req.path, query = req.query, ua = req.headers["User-Agent"],
        accept = req.headers.accept, version = req.http_version, addr = req.remote_address }
      res:finish()
    end)
    raw.request(server.port, "GET /s%20p?q=a%20b&n=1&n=2&flag&plus=x+y HTTP/1.1\r\nHost: x\r\n" ..
      "User-Agent: spec\r\nAccept: a\r\nAccept: b\r\n\r\n")
    assert.equal("/s%20p?q=a%20b&n=1&n=2&flag&plus=x+y", seen.url)
    assert.equal("/s%20p", seen.path)
    assert.same({ q = "a b", n = { "1", "2" }, flag = "", plus = "x y" }, seen.query)
    assert.equal("spec", seen.ua)
    assert.equal("a, b", seen.accept)
    assert.equal("1.1", seen.version)
    assert.equal("127.0.0.1", seen.addr)
  end)

  it("keeps a connection alive across requests, and answers pipelined requests in order", function()
    local server = serve(function(req, res)
      if req.path == "/slow" then task.sleep(20) end -- the second must still come second
      res:finish(req.path)
    end)
    local c = raw.connect(server.port)
    c:send(GET:format("/slow") .. GET:format("/fast") .. GET:format("/third"))
    assert.equal("/slow", c:response().body)
    assert.equal("/fast", c:response().body)
    assert.equal("/third", c:response().body)
    c:send(GET:format("/again"))
    assert.equal("/again", c:response().body)
    c:close()
  end)

  it("finishes the response of a handler that returns without finishing it", function()
    local server = serve(function(_, res) res.status = 204 end)
    local res = raw.request(server.port, GET:format("/"))
    assert.equal(204, res.status)
    assert.is_nil(res.headers["content-length"])
  end)

  it("answers HEAD with the head only", function()
    local server = serve(function(_, res) res:finish("twelve bytes") end)
    local c = raw.connect(server.port)
    c:send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" .. GET:format("/"))
    local head = c:response(true)
    assert.equal("12", head.headers["content-length"])
    assert.equal("twelve bytes", c:response().body) -- no body came between them
    c:close()
  end)

  it("answers HEAD with the Content-Length its handler set, as a GET would have it", function()
    local server = serve(function(req, res)
      res.headers["Content-Length"] = 1000
      if req.method == "HEAD" then return res:finish() end
      res:finish(("x"):rep(1000))
    end)
    local c = raw.connect(server.port)
    c:send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" .. GET:format("/"))
    assert.equal("1000", c:response(true).headers["content-length"])
    assert.equal(1000, #c:response().body)
    c:close()
  end)

  it("closes after the response to HTTP/1.0, and keeps it alive when asked", function()
    local server = serve(function(_, res) res:finish("ok") end)
    local c = raw.connect(server.port)
    c:send("GET / HTTP/1.0\r\n\r\n")
    local res = c:response()
    assert.equal("close", res.headers.connection)
    assert.is_true(c:ended())
    c:close()
    c = raw.connect(server.port)
    c:send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert.equal("keep-alive", c:response().headers.connection)
    c:send("GET / HTTP/1.0\r\n\r\n")
    assert.equal("ok", c:response().body)
    c:close()
  end)

  it("answers a request to upgrade the protocol, then closes", function()
    local server = serve(function(req, res)
      res.status = 426
      res:finish("no " .. req.headers.upgrade)
    end)
    local c = raw.connect(server.port)
    c:send("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05hello")
    local res = c:response()
    assert.equal(426, res.status)
    assert.equal("no websocket", res.body)
    assert.is_true(c:ended())
    c:close()
  end)

  it("closes after the response to Connection: close", function()
    local server = serve(function(_, res) res:finish("ok") end)
    local c = raw.connect(server.port)
    c:send("GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert.equal("close", c:response().headers.connection)
    assert.is_true(c:ended())
    c:close()
  end)

  it("streams a written response chunked, and with Content-Length when set", function()
    local server = serve(function(req, res)
      if req.path == "/sized" then res.headers["Content-Length"] = 6 end
      res:write("abc")
      res:write("def")
      res:finish()
    end)
    local c = raw.connect(server.port)
    c:send(GET:format("/chunked") .. GET:format("/sized"))
    local chunked = c:response()
    assert.equal("chunked", chunked.headers["transfer-encoding"])
    assert.equal("abcdef", chunked.body)
    assert.equal(2, chunked.chunks)
    local sized = c:response()
    assert.equal("6", sized.headers["content-length"])
    assert.is_nil(sized.headers["transfer-encoding"])
    assert.equal("abcdef", sized.body)
    c:close()
  end)

  it("reads a body sent with Content-Length or chunked, and req:json decodes it", function()
    local server = serve(function(req, res)
      if req.path == "/json" then return res:json({ got = req:json().n }) end
      res:finish(req:text())
    end)
    local c = raw.connect(server.port)
    c:send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
    assert.equal("hello", c:response().body)
    c:send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    assert.equal("abcde", c:response().body)
    c:send('POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\n{"n":5}')
    local res = c:response()
    assert.equal("application/json", res.headers["content-type"])
    assert.equal('{"got":5}', res.body)
    c:close()
  end)

  it("has no body for a request without one, and an empty text", function()
    local body, text
    local server = serve(function(req, res)
      body, text = req.body, req:text()
      res:finish()
    end)
    raw.request(server.port, GET:format("/"))
    assert.is_nil(body)
    assert.equal("", text)
  end)

  it("drops the body a handler did not read, and serves the next request", function()
    local server = serve(function(req, res) res:finish(req.path) end)
    local c = raw.connect(server.port)
    c:send("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" .. ("x"):rep(100000) .. GET:format("/b"))
    assert.equal("/a", c:response().body)
    assert.equal("/b", c:response().body)
    c:close()
  end)

  it("refuses to read a body dropped when its response was finished, rather than giving it short", function()
    local late = {}
    local server = serve(function(req, res)
      if req.path == "/read" then late.whole = req:text() end
      if req.path == "/part" then late.first = req.body:read() end
      res:finish(req.path)
      late[req.path] = tostring(select(2, pcall(req.text, req)))
    end)
    local c = raw.connect(server.port)
    c:send("POST /none HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
    assert.equal("/none", c:response().body)
    c:send("POST /part HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n")
    assert.equal("/part", c:response().body)
    c:send("2\r\nlo\r\n0\r\n\r\nPOST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
    assert.equal("/read", c:response().body)
    c:close()
    assert.matches("ClosedError: read of a request body dropped when its response was finished", late["/none"])
    assert.equal("hel", late.first)
    assert.matches("ClosedError: read of a request body dropped", late["/part"])
    assert.equal("hello", late.whole)
    assert.equal("", late["/read"]) -- read to its end already: the end again, as any ended stream
  end)

  it("sends 100 Continue when the handler reads a body the client waits to send", function()
    local server = serve(function(req, res) res:finish(req:text()) end)
    local c = raw.connect(server.port)
    c:send("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    assert.equal(100, c:response().status)
    c:send("hi")
    assert.equal("hi", c:response().body)
    c:close()
  end)

  it("closes after answering a 100-continue request whose body it never asked for", function()
    local server = serve(function(_, res) res:finish("no thanks") end)
    local c = raw.connect(server.port)
    c:send("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    local res = c:response()
    assert.equal("no thanks", res.body)
    assert.equal("close", res.headers.connection)
    assert.is_true(c:ended())
    c:close()
  end)

  it("closes after a response whose handler set Connection: close", function()
    local server = serve(function(_, res)
      res.headers.Connection = "close"
      res:finish("bye")
    end)
    local c = raw.connect(server.port)
    c:send(GET:format("/"))
    assert.equal("bye", c:response().body)
    assert.is_true(c:ended())
    c:close()
  end)

  it("ends a streamed response to HTTP/1.0 with the connection", function()
    local server = serve(function(_, res)
      res:write("one ")
      res:write("two")
    end)
    local c = raw.connect(server.port)
    c:send("GET / HTTP/1.0\r\n\r\n")
    local res = c:response()
    assert.is_nil(res.headers["transfer-encoding"])
    assert.equal("one two", res.body)
    c:close()
  end)

  it("raises the reason when a write's signal aborts while it waits", function()
    local abort = require "ebb.abort"
    local reason = task.future()
    local server = serve(function(_, res)
      local ctl = abort.controller()
      local ok, err = pcall(function()
        while true do
          res:write(("z"):rep(65536), ctl.signal)
          if not ctl.signal.aborted then ctl:abort("enough") end
        end
      end)
      reason:resolve(err)
    end)
    local c = raw.connect(server.port)
    c:send(GET:format("/"))
    assert.equal("enough", reason:await())
    c:close()
  end)

  it("prints a request and a response writer with their state", function()
    local printed = {}
    local server = serve(function(req, res)
      printed[1] = tostring(req)
      printed[2] = tostring(res)
      res:json({ ok = true }, 202)
      printed[3] = tostring(res)
    end)
    local res = raw.request(server.port, GET:format("/p?q=1"))
    assert.equal(202, res.status)
    assert.equal('{"ok":true}', res.body)
    assert.same({ "Request (GET /p?q=1)", "ResponseWriter (200)", "ResponseWriter (202, finished)" }, printed)
    assert.matches("^HTTPServer %(127%.0%.0%.1:%d+%)$", tostring(server))
  end)

  it("keeps the case a header was set in, and treats names in any case as one", function()
    local server = serve(function(_, res)
      res.headers["X-Thing"] = "a"
      res.headers["x-thing"] = "b"
      res.headers["X-Count"] = 3
      assert.equal("b", res.headers["X-THING"])
      res.headers["X-Gone"] = "x"
      res.headers["x-gone"] = nil
      res:finish()
    end)
    local c = raw.connect(server.port)
    c:send(GET:format("/"))
    local head = {}
    repeat
      local l = c:line()
      head[#head + 1] = l
    until l == ""
    c:close()
    head = table.concat(head, "\n")
    assert.truthy(head:find("\nX-Thing: b\n", 1, true), head)
    assert.truthy(head:find("\nX-Count: 3\n", 1, true))
    assert.falsy(head:lower():find("x-gone", 1, true))
  end)

  it("refuses header names that are no token and values that would split the head", function()
    local errs = {}
    local server = serve(function(_, res)
      errs[1] = raised(function() res.headers["Bad Name"] = "x" end)
      errs[2] = raised(function() res.headers["X-Evil"] = "a\r\nSet-Cookie: x" end)
      errs[3] = raised(function() res.headers["X-Table"] = { {} } end)
      errs[4] = raised(function() res.headers["X-List"] = { "a", "b\r\nX-Evil: 1" } end)
      errs[5] = raised(function() res.headers["X-Fn"] = print end)
      res:finish()
    end)
    raw.request(server.port, GET:format("/"))
    assert.matches("bad header name", errs[1])
    assert.matches("must not contain CR, LF or NUL", errs[2])
    assert.matches("header 'X%-Table' must be a string, a number or a list of them, got table", errs[3])
    assert.matches("must not contain CR, LF or NUL", errs[4])
    assert.matches("header 'X%-Fn' must be a string, a number or a list of them, got function", errs[5])
  end)

  it("sends a header set to a list once per value, as a Set-Cookie needs", function()
    local server = serve(function(_, res)
      local cookies = { "a=1; Path=/", "b=2" }
      res.headers["Set-Cookie"] = cookies
      cookies[3] = "c=3\r\nX-Evil: 1" -- the list was copied when it was set
      res.headers["X-None"] = {}
      res:finish("ok")
    end)
    local c = raw.connect(server.port)
    c:send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    local reply = ""
    for chunk in c.conn:chunks(abort.timeout(2000)) do reply = reply .. chunk end
    c:close()
    local head = reply:match("^(.-)\r\n\r\n")
    assert.truthy(head:find("\r\nSet%-Cookie: a=1; Path=/\r\nSet%-Cookie: b=2\r\n"), head)
    assert.falsy(head:find("c=3", 1, true), head)
    assert.falsy(head:find("X-None", 1, true), head)
  end)

  it("checks a header list again when it is sent: one read back and changed cannot split the head", function()
    local err
    local evil = serve(function(_, res)
      res.headers["Set-Cookie"] = {}
      table.insert(res.headers["Set-Cookie"], "a=1\r\nX-Evil: 1") -- the list read back is checked when sent
      err = raised(res.finish, res, "never")
      res.headers["Set-Cookie"] = nil
      res:finish("refused")
    end)
    local refused = raw.request(evil.port, GET:format("/"))
    assert.equal("refused", refused.body)
    assert.is_nil(refused.headers["x-evil"])
    assert.matches("header 'Set%-Cookie' must not contain CR, LF or NUL", err)
  end)

  it("sends one Connection header, the server's, whatever the handler set", function()
    local server = serve(function(req, res)
      res.headers.Connection = req.path == "/close" and "close" or "keep-alive"
      res:finish("x")
    end)
    local c = raw.connect(server.port)
    c:send(GET:format("/keep") .. GET:format("/close"))
    local head = ""
    for chunk in c.conn:chunks(abort.timeout(2000)) do head = head .. chunk end -- "/close" ends it
    c:close()
    local _, count = head:gsub("\r\n[Cc]onnection:", "")
    assert.equal(2, count, head)
    assert.truthy(head:find("\r\nConnection: close\r\n", 1, true), head)
  end)

  it("refuses a write past the Content-Length the handler set, and closes after a body short of it", function()
    local err
    local server = serve(function(req, res)
      res.headers["Content-Length"] = req.path == "/short" and 10 or 2
      if req.path == "/long" then err = raised(res.write, res, "abc") end
      res:write("ab")
      res:finish()
    end)
    local c = raw.connect(server.port)
    c:send(GET:format("/long") .. GET:format("/next"))
    assert.equal("ab", c:response().body)
    assert.matches("past the Content%-Length", err)
    assert.equal("ab", c:response().body) -- the connection still reads its requests in step
    c:send(GET:format("/short"))
    assert.equal("10", assert(c:response(true)).headers["content-length"])
    local rest = c.buf
    for chunk in c.conn:chunks(abort.timeout(2000)) do rest = rest .. chunk end -- the server ends it
    assert.equal("ab", rest)
    c:close()
  end)

  it("refuses a Content-Length that is not a whole number of bytes", function()
    local errs = {}
    local server = serve(function(_, res)
      errs[1] = raised(function() res.headers["Content-Length"] = "abc" end)
      errs[2] = raised(function() res.headers["content-length"] = 1.5 end)
      res:finish()
    end)
    raw.request(server.port, GET:format("/"))
    assert.matches("header 'Content%-Length' must be a whole number of bytes, got abc", errs[1])
    assert.matches("header 'content%-length' must be a whole number of bytes, got 1.5", errs[2])
  end)

  it("gives each handler's task the request's id in http.request_id", function()
    local ids = {}
    local server = serve(function(req, res)
      task.spawn(function() ids[#ids + 1] = { req.id, http.request_id:get() } end):await()
      res:finish()
    end)
    local c = raw.connect(server.port)
    c:send(GET:format("/") .. GET:format("/"))
    c:response()
    c:response()
    c:close()
    assert.same({ { 1, 1 }, { 2, 2 } }, ids)
    assert.is_nil(http.request_id:get())
  end)

  it("refuses bad arguments and unknown options, naming them", function()
    assert.matches("bad argument #3 to 'listen' %(function expected, got number%)",
      raised(http.listen, "127.0.0.1", 0, 5))
    assert.matches("bad argument #4 to 'listen' %(unknown option 'timeout'",
      raised(http.listen, "127.0.0.1", 0, function() end, { timeout = 1 }))
    assert.matches("bad argument #2 to 'listen'", raised(http.listen, "127.0.0.1", 70000, function() end))
    assert.matches("NUL", raised(http.listen, "127.0.0.1\0", 0, function() end))
    local server = serve(function() end)
    assert.matches("bad argument #1 to 'close' %(unknown option 'x'", raised(server.close, server, { x = 1 }))
  end)
end)
