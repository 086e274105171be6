-- Specs for ebb.http's client: requests, responses, headers, redirects and
-- errors, against a local server the specs start (spec/support/http_test_server.lua).
package.path = "spec/support/?.lua;" .. package.path
local http = require "ebb.http"
local errors = require "ebb.errors"
local task = require "ebb.task"
local stream = require "ebb.stream"
local json = require "ebb.json"
local asserts = require "asserts"
local test_server = require "http_test_server"
local raised = asserts.raised
local assert_bad = asserts.bad_at("http_client_spec%.lua")
local core = require "ebb.http.client.core"

describe("ebb.http client", function()
  local server
  before_each(function() server = test_server.start() end)
  after_each(function() server:close() end)

  describe("fetch", function()
    it("returns the response once its head has come: status, ok, status_text, url, headers in any case", function()
      local res = http.fetch(server.url("/hello"))
      assert.equal(200, res.status)
      assert.is_true(res.ok)
      assert.equal("OK", res.status_text)
      assert.equal(server.url("/hello"), res.url)
      assert.equal("text/plain", res.headers["content-type"])
      assert.equal("text/plain", res.headers["Content-Type"])
      assert.equal("text/plain", res.headers.CONTENT_TYPE and nil or res.headers["CONTENT-TYPE"])
      assert.is_nil(res.headers["x-absent"])
      assert.equal("hello", res:text())
      assert.matches("^Response %(200 http://127%.0%.0%.1:%d+/hello%)$", tostring(res))
    end)

    it("joins repeated headers with ', ' and lists each value with header_values", function()
      local res = http.fetch(server.url("/multi"), {})
      res:close()
      server:close()
      server = test_server.start({
        multi = function(conn)
          conn:write("HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nContent-Length: 0\r\n\r\n")
        end,
      })
      res = http.fetch(server.url("/multi"))
      assert.equal("a=1, b=2", res.headers["Set-Cookie"])
      assert.same({ "a=1", "b=2" }, res:header_values("SET-COOKIE"))
      assert.same({}, res:header_values("x-none"))
      assert.equal("", res:text())
    end)

    it("sends the method, the headers and a string body", function()
      local res = http.fetch(server.url("/echo"), {
        method = "put", headers = { ["X-Token"] = "abc", ["X-Empty"] = "" }, body = "payload",
      })
      assert.equal("PUT", res.headers["x-method"])
      assert.equal("payload", res:text())
      local req = server.requests[1]
      assert.equal("abc", req.headers["x-token"])
      assert.equal("", req.headers["x-empty"])
      assert.is_nil(req.headers.expect)
    end)

    it("makes a HEAD request without a body, and a POST", function()
      local res = http.fetch(server.url("/hello"), { method = "HEAD" })
      assert.equal(200, res.status)
      assert.equal("", res:text())
      res = http.fetch(server.url("/echo"), { method = "POST", body = "x=1" })
      assert.equal("POST", res.headers["x-method"])
      assert.equal("x=1", res:text())
      res = http.fetch(server.url("/echo"), { method = "POST" })
      assert.equal("", res:text())
      assert.equal("0", server.requests[3].headers["content-length"])
      http.fetch(server.url("/echo"), { method = "DELETE" }):close()
      assert.is_nil(server.requests[4].headers["content-length"])
    end)

    it("reads a chunked body", function()
      assert.equal("one two three", http.fetch(server.url("/chunked")):text())
    end)

    it("decodes JSON with :json()", function()
      local data = http.fetch(server.url("/json")):json()
      assert.same({ a = { 1, 2 }, b = "x" }, data)
    end)

    it("reuses one connection for requests one after another (keep-alive)", function()
      for _ = 1, 5 do assert.equal("hello", http.fetch(server.url("/hello")):text()) end
      assert.equal(5, #server.requests)
      assert.equal(1, server.accepted)
    end)

    it("runs requests side by side on the loop", function()
      local tasks = {}
      for i = 1, 20 do
        tasks[i] = task.spawn(function() return http.fetch(server.url("/echo"), { method = "POST", body = "n" .. i }):text() end)
      end
      for i = 1, 20 do assert.equal("n" .. i, tasks[i]:await()) end
    end)

    it("sends requests to one server side by side, each on a connection of its own while the others wait", function()
      server:close()
      local waiting, all_in = 0, task.future()
      server = test_server.start({
        gate = function(conn)
          waiting = waiting + 1
          if waiting == 3 then all_in:resolve() end
          all_in:await() -- answers only once all three requests have come
          conn:write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        end,
      })
      local tasks = {}
      for i = 1, 3 do tasks[i] = task.spawn(function() return http.fetch(server.url("/gate"), { timeout = 5000 }):text() end) end
      for i = 1, 3 do assert.equal("ok", tasks[i]:await()) end
      assert.equal(3, server.accepted)
    end)

    it("gives a non-2xx status as a response, not an error", function()
      local res = http.fetch(server.url("/status?code=404"))
      assert.equal(404, res.status)
      assert.is_false(res.ok)
      assert.equal("status 404", res:text())
      assert.equal(404, http.fetch(server.url("/nowhere")).status)
    end)

    it("leaves nothing running once the responses are read or closed", function()
      http.fetch(server.url("/hello")):text()
      http.fetch(server.url("/big?size=1000000")):close()
      assert.equal(0, (core.counts()))
    end)
  end)

  describe("redirects", function()
    it("follows them by default and gives the final url", function()
      local res = http.fetch(server.url("/redirect?n=3"))
      assert.equal(200, res.status)
      assert.equal(server.url("/hello"), res.url)
      assert.equal("hello", res:text())
      assert.equal(4, #server.requests)
    end)

    it("gives up past max_redirects with TOO_MANY_REDIRECTS", function()
      local e = raised(http.fetch, server.url("/redirect?n=3"), { max_redirects = 2 })
      assert.is_true(errors.is(e, http.HTTPError))
      assert.equal("TOO_MANY_REDIRECTS", e.code)
    end)

    it("returns the 3xx itself with redirect = 'manual'", function()
      local res = http.fetch(server.url("/redirect?n=2"), { redirect = "manual" })
      assert.equal(302, res.status)
      assert.equal("/redirect?n=1", res.headers.location)
      res:close()
    end)

    it("turns a POST into a GET without its body on 301, 302 and 303, and keeps another method's body on 301 and 302, as fetch does", function()
      local redirecting = http.listen("127.0.0.1", 0, function(req, res)
        local code = req.path:match("^/r(%d+)$")
        if code then
          res.status = tonumber(code)
          res.headers.Location = "/dest"
          return res:finish()
        end
        res:finish(("%s %s [%s]"):format(req.method, req.path, req:text()))
      end)
      finally(function() redirecting:close() end)
      local function via(code, method)
        local url = ("http://127.0.0.1:%d/r%d"):format(redirecting.port, code)
        return http.fetch(url, { method = method, body = "data" }):text()
      end
      for _, code in ipairs { 301, 302, 303 } do assert.equal("GET /dest []", via(code, "POST")) end
      for _, code in ipairs { 307, 308 } do assert.equal("POST /dest [data]", via(code, "POST")) end
      for _, code in ipairs { 301, 302, 307, 308 } do assert.equal("PUT /dest [data]", via(code, "PUT")) end
    end)

    it("raises an HTTPError with code REDIRECT with redirect = 'error'", function()
      local e = raised(http.fetch, server.url("/redirect?n=1"), { redirect = "error" })
      assert.is_true(errors.is(e, http.HTTPError))
      assert.equal("REDIRECT", e.code)
      assert.matches("redirected to /hello", e.message)
    end)
  end)

  describe("the request's framing and type", function()
    local seen, echo
    before_each(function()
      echo = http.listen("127.0.0.1", 0, function(req, res)
        seen = { type = req.headers["content-type"], length = req.headers["content-length"],
          te = req.headers["transfer-encoding"], body = req:text() }
        res:finish("ok")
      end)
    end)
    after_each(function() echo:close() end)
    local function send(opts)
      seen = nil
      assert.equal("ok", http.fetch(("http://127.0.0.1:%d/"):format(echo.port), opts):text())
      return seen
    end

    it("types a string body as text/plain and other bodies not at all, as fetch does (never as a form)", function()
      assert.equal("text/plain;charset=UTF-8", send({ method = "POST", body = "{}" }).type)
      assert.equal("application/json", send({ method = "POST", body = "{}", headers = { ["content-type"] = "application/json" } }).type)
      local i = 0
      assert.is_nil(send({ method = "POST", body = function() i = i + 1 return i == 1 and "x" or nil end }).type)
      assert.is_nil(send({ method = "POST" }).type)
    end)

    it("refuses a Content-Length that is not the body's, and a Transfer-Encoding, which would frame it wrong", function()
      local got = send({ method = "POST", body = "abc", headers = { ["Content-Length"] = "3" } })
      assert.same({ "3", "abc" }, { got.length, got.body })
      seen = nil
      assert_bad(function() http.fetch("http://x/", { method = "POST", body = "abcdef", headers = { ["Content-Length"] = "2" } }) end,
        "bad argument #2 to 'fetch' %(option 'headers': header 'Content%-Length' says 2, but the body has 6 bytes%)")
      assert_bad(function() http.fetch("http://x/", { method = "PUT", body = print, headers = { ["content-length"] = "-6" } }) end,
        "header 'content%-length' must be a whole number of bytes, got %-6")
      assert_bad(function() http.fetch("http://x/", { method = "POST", body = "a", headers = { ["Transfer-Encoding"] = "chunked" } }) end,
        "option 'headers': header 'Transfer%-Encoding' is fetch's own")
      assert.is_nil(seen)
    end)
  end)

  describe("errors", function()
    it("raises an HTTPError, a SystemError, with curl's code and reason when it cannot connect", function()
      local port = server.port
      server:close()
      local e = raised(http.fetch, ("http://127.0.0.1:%d/x"):format(port))
      assert.is_true(errors.is(e, http.HTTPError))
      assert.is_true(errors.is(e, errors.SystemError))
      assert.equal("COULDNT_CONNECT", e.code)
      assert.equal("GET", e.method)
      assert.equal(("http://127.0.0.1:%d/x"):format(port), e.url)
      assert.matches("^HTTPError: COULDNT_CONNECT: Couldn't connect to server %(.*%), GET http://", tostring(e))
      server = test_server.start()
    end)

    it("raises from the body's read when the connection ends inside the body", function()
      local res = http.fetch(server.url("/cut"))
      assert.equal(200, res.status)
      local e = raised(res.text, res)
      assert.is_true(errors.is(e, http.HTTPError))
      assert.equal("PARTIAL_FILE", e.code)
    end)

    it("refuses other protocols than http and https", function()
      local e = raised(http.fetch, "file:///etc/passwd")
      assert.equal("UNSUPPORTED_PROTOCOL", e.code)
    end)

    it("raises a BodyUsedError when the body is read twice", function()
      local res = http.fetch(server.url("/hello"))
      assert.equal("hello", res:text())
      local e = raised(res.text, res)
      assert.equal("BodyUsedError", e.name)
      assert.is_nil(res.body:read())
      res:close()
      e = raised(res.body.read, res.body)
      assert.is_true(errors.is(e, stream.ClosedError))
    end)
  end)

  describe("raise_for_status and retry_after", function()
    it("raise_for_status returns a 2xx response and raises a StatusError for others", function()
      local res = http.fetch(server.url("/hello"))
      assert.equal(res, res:raise_for_status())
      res:close()
      res = http.fetch(server.url("/status?code=503&retry=120"))
      local e = raised(res.raise_for_status, res)
      assert.is_true(errors.is(e, http.StatusError))
      assert.equal(503, e.status)
      assert.equal(res, e.response)
      assert.equal(120000, e.retry_after)
      assert.matches("^StatusError: HTTP 503 Status 503, http://", tostring(e))
    end)

    it("retry_after reads seconds or an HTTP date, nil when absent or unreadable", function()
      local function after(value)
        local res = http.fetch(server.url("/status?code=429" .. (value and "&retry=" .. value or "")))
        res:close()
        return res:retry_after()
      end
      assert.equal(5000, after("5"))
      assert.is_nil(after(nil))
      assert.is_nil(after("soon"))
      assert.equal(0, after("Sun,%2006%20Nov%201994%2008:49:37%20GMT"))
      local future = os.date("!%a,%%20%d%%20%b%%20%Y%%20%H:%M:%S%%20GMT", os.time() + 120)
      local ms = after(future)
      assert.is_true(ms > 118000 and ms <= 120000, tostring(ms))
    end)

    it("lets retry tell 4xx from 5xx through should_retry and honour Retry-After through delay", function()
      local retry = require "ebb.retry"
      local clock = require "ebb.clock"
      local calls = 0
      server:close()
      server = test_server.start({
        flaky = function(conn)
          calls = calls + 1
          conn:write(calls < 3 and test_server.response("503 Unavailable", { ["Retry-After"] = "2" }, "busy")
            or test_server.response("200 OK", {}, "done"))
        end,
      })
      local waited = {}
      local opts = {
        retries = 5,
        should_retry = function(err) return errors.is(err, http.StatusError) and err.status >= 500 end,
        delay = function(_, err)
          waited[#waited + 1] = err.retry_after
          return err.retry_after
        end,
      }
      clock.auto() -- the one timer is retry's wait: the fetches hold no virtual time
      local t0 = clock.now()
      assert.equal("done", retry(function() return http.fetch(server.url("/flaky")):raise_for_status():text() end, opts))
      assert.same({ 2000, 2000 }, waited)
      asserts.elapsed(t0, 4000)
      local e = raised(retry, function() return http.fetch(server.url("/status?code=404")):raise_for_status() end, opts)
      assert.equal(404, e.status)
      assert.equal(2, #waited)
    end)
  end)

  describe("bad input", function()
    it("names the argument", function()
      assert_bad(function() http.fetch(42) end, "bad argument #1 to 'fetch' %(url: string expected, got number%)")
      assert_bad(function() http.fetch("http://127.0.0.1/\0x") end, "bad argument #1 to 'fetch' %(url must not contain a NUL byte%)")
      assert_bad(function() http.fetch("http://x/", 5) end, "bad argument #2 to 'fetch' %(table of options expected, got number%)")
      assert_bad(function() http.fetch("http://x/", { timout = 5 }) end, "unknown option 'timout'; valid options: body, ca_file")
      assert_bad(function() http.fetch("http://x/", { timeout = -1 }) end, "option 'timeout' must be a non%-negative number")
      assert_bad(function() http.fetch("http://x/", { redirect = "yes" }) end, "option 'redirect' must be \"follow\", \"manual\" or \"error\", got yes")
      assert_bad(function() http.fetch("http://x/", { method = "GE T" }) end, "option 'method' must be an HTTP method, got GE T")
      assert_bad(function() http.fetch("http://x/", { method = "connect" }) end,
        "option 'method' must not be CONNECT, TRACE or TRACK %(as fetch refuses them%), got CONNECT")
      assert_bad(function() http.fetch("http://x/", { method = "TRACE" }) end, "option 'method' must not be CONNECT")
      assert_bad(function() http.fetch("http://x/", { headers = { ["X-A"] = "1\r\nX-B: 2" } }) end, "header 'X%-A' must not contain CR, LF or a NUL byte")
      assert_bad(function() http.fetch("http://x/", { headers = { ["X-A"] = "1\0" } }) end, "header 'X%-A' must not contain CR, LF or a NUL byte")
      assert_bad(function() http.fetch("http://x/", { headers = { ["X A"] = "1" } }) end, "a header name must be a token, got X A")
      assert_bad(function() http.fetch("http://x/", { headers = { ["X-A"] = 1 } }) end, "header 'X%-A' must be a string, got number")
      assert_bad(function() http.fetch("http://x/", { body = "x" }) end, "option 'body': a GET request has no body")
      assert_bad(function() http.fetch("http://x/", { method = "POST", body = 5 }) end, "option 'body' must be a string, a readable stream or an iterator, got number")
      assert_bad(function() http.fetch("http://x/", { signal = 5 }) end, "option 'signal' must be an abort signal, got number")
      assert_bad(function() http.fetch("http://x/", { max_redirects = -1 }) end, "option 'max_redirects' must be a whole number")
    end)

    it("checks the arguments of the response's methods", function()
      local res = http.fetch(server.url("/hello"))
      assert_bad(function() res.text({}) end, "bad argument #1 to 'text' %(Response expected, got table%)")
      assert_bad(function() res:text(5) end, "bad argument #1 to 'text' %(abort signal expected, got number%)")
      assert_bad(function() res:header_values(5) end, "bad argument #1 to 'header_values' %(string expected, got number%)")
      res:close()
    end)
  end)

  it("encodes what json.encode makes, read back by the server", function()
    local res = http.fetch(server.url("/echo"), { method = "POST", body = json.encode({ k = "v" }), headers = { ["Content-Type"] = "application/json" } })
    assert.same({ k = "v" }, res:json())
  end)
end)
