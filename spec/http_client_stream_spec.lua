-- Specs for ebb.http's client: the body as a stream (backpressure, streamed
-- uploads) and cancellation (signal, timeout, task cancel, close) of a
-- request and of its body's read.
package.path = "spec/support/?.lua;" .. package.path
local http = require "ebb.http"
local errors = require "ebb.errors"
local task = require "ebb.task"
local abort = require "ebb.abort"
local clock = require "ebb.clock"
local stream = require "ebb.stream"
local asserts = require "asserts"
local test_server = require "http_test_server"
local core = require "ebb.http.client.core"
local ebb_core = require "ebb.core"
local run = require "run_ebb"
local raised = asserts.raised

-- Nothing of the client is left running: no transfer in curl's hands, and the
-- server has seen the connection of a cancelled request go.
local function all_ended(server, connections)
  assert.equal(0, (core.counts()))
  while server.listener.connections > (connections or 0) do task.yield() end
end

describe("ebb.http client streams", function()
  local server
  before_each(function() server = test_server.start() end)
  after_each(function() server:close() end)

  describe("the body", function()
    it("is a readable stream whose chunks make the whole body", function()
      local res = http.fetch(server.url("/big?size=300000"))
      assert.equal("Readable (open)", tostring(res.body))
      local n, count = 0, 0
      for chunk in res.body:chunks() do
        n, count = n + #chunk, count + 1
        assert.equal(("x"):rep(#chunk), chunk)
      end
      assert.equal(300000, n)
      assert.is_true(count > 1)
      assert.is_true(res.body.ended)
      assert.is_nil(res.body:read())
    end)

    it("keeps a slow reader's download bounded: curl is paused while the buffer is full", function()
      local size = 64 * 1024 * 1024
      local res = http.fetch(server.url("/big?size=" .. size))
      local first = res.body:read()
      -- the reader does not read: the buffer fills to its bound, and stays there
      while core.buffered(res._t) < 128 * 1024 do task.yield() end
      for _ = 1, 200 do task.yield() end
      assert.is_true(core.buffered(res._t) <= 144 * 1024)
      local n = #first
      for chunk in res.body:chunks() do n = n + #chunk end
      assert.equal(size, n)
      local _, peak = core.buffered(res._t)
      assert.is_true(peak >= 128 * 1024 and peak <= 144 * 1024, tostring(peak))
    end)

    it("keeps a slow reader's chunked download (no Content-Length) bounded too, a little higher", function()
      local size = 16 * 1024 * 1024
      local res = http.fetch(server.url("/bigchunked?size=" .. size))
      while core.buffered(res._t) < 128 * 1024 do task.yield() end
      for _ = 1, 200 do task.yield() end
      local n = 0
      for chunk in res.body:chunks() do n = n + #chunk end
      assert.equal(size, n)
      local _, peak = core.buffered(res._t)
      assert.is_true(peak >= 128 * 1024 and peak <= 2 * 1024 * 1024, tostring(peak))
    end)

    it("can be closed before its end, which ends the transfer", function()
      local res = http.fetch(server.url("/big?size=10000000"))
      assert.is_string(res.body:read())
      res:close()
      assert.is_true(res.body.closed)
      local e = raised(res.body.read, res.body)
      assert.is_true(errors.is(e, stream.ClosedError))
      all_ended(server)
    end)

    it("is let go with the response when nobody reads it", function()
      http.fetch(server.url("/big?size=10000000"))
      collectgarbage()
      collectgarbage()
      all_ended(server)
    end)
  end)

  describe("a streamed upload", function()
    it("sends the chunks of an iterator, chunked", function()
      local parts = { "alpha ", "beta ", "gamma" }
      local i = 0
      local res = http.fetch(server.url("/echo"), { method = "POST", body = function()
        i = i + 1
        return parts[i]
      end })
      assert.equal("alpha beta gamma", res:text())
      assert.equal("chunked", server.requests[1].headers["transfer-encoding"])
    end)

    it("sends a readable stream with backpressure: the source is read as curl takes the chunks", function()
      local sent, block = 0, ("y"):rep(65536)
      local src = stream.readable(function()
        if sent >= 64 then return nil end
        sent = sent + 1
        return block
      end)
      local res = http.fetch(server.url("/echo"), { method = "PUT", body = src })
      assert.equal(64 * 65536, #res:text())
      assert.equal(64, sent)
      assert.is_true(src.closed)
    end)

    it("sends a streamed body with the Content-Length given, unchunked, held to it", function()
      local function body(parts)
        local i = 0
        return function()
          i = i + 1
          return parts[i]
        end
      end
      local res = http.fetch(server.url("/echo"), { method = "PUT", headers = { ["Content-Length"] = "11" },
        body = body { "hello ", "world" } })
      assert.equal("hello world", res:text())
      assert.equal("11", server.requests[1].headers["content-length"])
      assert.is_nil(server.requests[1].headers["transfer-encoding"])
      local more = raised(http.fetch, server.url("/echo"), { method = "PUT", headers = { ["Content-Length"] = "5" },
        body = body { "hello ", "world" } })
      assert.matches("the body gave more than its Content%-Length of 5 bytes", tostring(more))
      local less = raised(http.fetch, server.url("/echo"), { method = "PUT", headers = { ["Content-Length"] = "20" },
        body = body { "hello ", "world" } })
      assert.matches("the body ended after 11 bytes, short of its Content%-Length of 20", tostring(less))
      all_ended(server)
    end)

    it("raises the source's error from fetch and ends the transfer", function()
      local res_or_err = raised(http.fetch, server.url("/echo"), { method = "POST", body = function()
        error("source broke", 0)
      end })
      assert.equal("source broke", res_or_err)
      all_ended(server)
    end)
  end)

  describe("cancellation", function()
    it("raises an already aborted signal's reason without making the request", function()
      local e = raised(http.fetch, server.url("/hello"), { signal = abort.aborted("stop") })
      assert.equal("stop", e)
      assert.equal(0, server.accepted)
    end)

    it("ends the request at once when its signal aborts while it waits for the head", function()
      local ctl = abort.controller()
      local t = task.spawn(http.fetch, server.url("/never"), { signal = ctl.signal })
      server.wait_requests(1)
      ctl:abort("enough")
      local ok, e = pcall(t.await, t)
      assert.is_false(ok)
      assert.equal("enough", e)
      all_ended(server)
    end)

    it("ends the request at once when its task is cancelled", function()
      local t = task.spawn(http.fetch, server.url("/never"))
      server.wait_requests(1)
      t:cancel()
      local ok, e = pcall(t.await, t)
      assert.is_false(ok)
      assert.is_true(errors.is(e, errors.AbortError))
      all_ended(server)
    end)

    it("times out exactly on its timeout when the server never answers, whatever else runs", function()
      clock.auto()
      local busy = task.spawn(function()
        for _ = 1, 1e9 do task.sleep(7) end
      end)
      local t0 = clock.now()
      local e = raised(http.fetch, server.url("/never"), { timeout = 5000 })
      assert.is_true(errors.is(e, errors.TimeoutError))
      asserts.elapsed(t0, 5000)
      busy:cancel()
      all_ended(server)
    end)

    it("times out on the whole request, the body's read included", function()
      local res = http.fetch(server.url("/stall"), { timeout = 50 })
      assert.equal("first", res.body:read())
      local e = raised(res.body.read, res.body)
      assert.is_true(errors.is(e, errors.TimeoutError))
      all_ended(server)
    end)

    it("disarms its timeout once the transfer ends: read to the end, closed, or failed", function()
      local before = ebb_core.stats().timers
      local ctl = abort.controller()
      assert.equal("hello", http.fetch(server.url("/hello"), { timeout = 60000 }):text())
      assert.equal("hello", http.fetch(server.url("/hello"), { timeout = 60000, signal = ctl.signal }):text())
      for _, signal in ipairs { false, ctl.signal } do
        http.fetch(server.url("/stall"), { timeout = 60000, signal = signal or nil }):close()
        local refused = server.url("/"):gsub(":%d+/", ":1/")
        assert.is_true(errors.is(raised(http.fetch, refused, { timeout = 60000, signal = signal or nil }),
          http.HTTPError))
      end
      assert.equal(before, ebb_core.stats().timers)
      all_ended(server)
    end)

    it("lets a script whose fetch had a long timeout end as soon as the response is read", function()
      local code = [[
local http, net, abort = require("ebb.http"), require("ebb.net"), require("ebb.abort")
local server = net.listen("127.0.0.1", 0, function(conn)
  conn:read()
  conn:write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
  conn:close()
end)
local ctl = abort.controller()
print(http.fetch("http://127.0.0.1:" .. server.port .. "/", { timeout = 60000, signal = ctl.signal }):text())
server:close()
]]
      local out, err, status = run.ebb("-e " .. run.quote(code)) -- bounded by 4 s of real time
      assert.equal("hello\n", out, err)
      assert.equal(0, status, err)
    end)

    it("ends the transfer when the body's read is aborted by its signal or its task is cancelled", function()
      local res = http.fetch(server.url("/stall"))
      assert.equal("first", res.body:read())
      local ctl = abort.controller()
      local reader = task.spawn(function() return res.body:read(ctl.signal) end)
      task.yield()
      ctl:abort("no more")
      local ok, e = pcall(reader.await, reader)
      assert.is_false(ok)
      assert.equal("no more", e)
      all_ended(server)
      e = raised(res.body.read, res.body)
      assert.equal("CANCELLED", e.code)

      res = http.fetch(server.url("/stall"))
      assert.equal("first", res.body:read())
      reader = task.spawn(function() return res.body:read() end)
      task.yield()
      reader:cancel()
      assert.is_false((pcall(reader.await, reader)))
      all_ended(server)
    end)
  end)
end)
