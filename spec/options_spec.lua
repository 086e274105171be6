-- Every function that takes a table of options refuses a key it does not know
-- the same way, naming the valid ones (sorted), and checks each value's kind.
package.path = "spec/support/?.lua;" .. package.path
local raised = require("asserts").raised
local fs, net, process = require "ebb.fs", require "ebb.net", require "ebb.process"
local task, stream, gen = require "ebb.task", require "ebb.stream", require "ebb.gen"
local queue, retry, context = require "ebb.queue", require "ebb.retry", require "ebb.context"
local iostream = require "ebb.iostream"

local PATH = "/tmp/ebb-options-spec-never-made"
local function nothing() end

-- { what, n, fname, valid options, call(opts) }
local CASES = {
  { "fs.mkdir", 2, "mkdir", "mode, recursive, signal", function(o) fs.mkdir(PATH, o) end },
  { "fs.write_file", 3, "write_file", "append, mode, signal", function(o) fs.write_file(PATH, "x", o) end },
  { "fs.reader", 2, "reader", "high_water_mark, signal", function(o) fs.reader(PATH, o) end },
  { "fs.writer", 2, "writer", "append, high_water_mark, mode, signal", function(o) fs.writer(PATH, o) end },
  { "net.resolve", 2, "resolve", "signal", function(o) net.resolve("localhost", o) end },
  { "net.connect", 3, "connect", "high_water_mark, nodelay, signal, tls", function(o) net.connect("127.0.0.1", 1, o) end },
  { "net.listen", 4, "listen", "backlog, high_water_mark, nodelay, tls",
    function(o) net.listen("127.0.0.1", 0, nothing, o) end },
  { "server:close", 1, "close", "signal, timeout", function(o)
    local server = net.listen("127.0.0.1", 0, nothing)
    local ok, e = pcall(function() server:close(o) end)
    server:close()
    if not ok then error(e, 0) end
  end },
  { "iostream.wrap", 2, "wrap", "high_water_mark, name, readable, writable",
    function(o) iostream.wrap(io.stdout, o) end },
  { "process.spawn", 3, "spawn", "cwd, env, group, high_water_mark, kill_signal, signal, stderr, stdin, stdout",
    function(o) process.spawn("true", {}, o) end },
  { "process.run", 3, "run", "cwd, env, group, high_water_mark, input, kill_signal, signal, stderr, stdin, stdout",
    function(o) process.run("true", {}, o) end },
  { "queue:push", 2, "push", "priority, signal, timeout", function(o) queue.new(1):push(nothing, o) end },
  { "queue:run", 2, "run", "priority, signal, timeout", function(o) queue.new(1):run(nothing, o) end },
  { "retry", 2, "retry", "base, budget, cap, delay, jitter, max_elapsed, on_retry, random, retries, should_retry, signal",
    function(o) retry(nothing, o) end },
  { "retry.backoff", 1, "backoff", "base, cap, jitter, random", function(o) retry.backoff(o) end },
  { "retry.budget", 1, "budget", "capacity, refund, retry_cost, timeout_cost", function(o) retry.budget(o) end },
  { "stream.writable", 2, "writable", "close, finish, high_water_mark", function(o) stream.writable(nothing, o) end },
  { "stream.pipeline", 3, "pipeline", "signal", -- (a last argument that is not a plain table is the sink)
    function(o) stream.pipeline(stream.readable(nothing), stream.writable(nothing), o) end, sink_last = true },
  { "gen.paginate", 2, "paginate", "interval, signal", function(o) gen.paginate(nothing, o) end },
  { "context.new", 1, "new", "default, name", function(o) context.new(o) end },
  { "future:await", 1, "await", "signal, timeout", function(o) task.future():await(o) end },
}

describe("options tables", function()
  for _, c in ipairs(CASES) do
    local what, n, fname, valid, call = c[1], c[2], c[3], c[4], c[5]
    it(what .. " refuses an unknown option, naming the valid ones", function()
      local e = raised(call, { nope = 1 })
      local want = ("bad argument #%d to '%s' (unknown option 'nope'; valid options: %s)"):format(n, fname, valid)
      assert.equal(want, e:sub(-#want))
      assert.matches("^spec/options_spec%.lua:%d+: ", e) -- at the caller's line
    end)
    if not c.sink_last then
      it(what .. " refuses options that are not a table", function()
        assert.matches(("bad argument #%d to '%s' %%(table of options expected, got string%%)"):format(n, fname),
          raised(call, "x"))
      end)
    end
  end

  it("a key that is not a string is named as tostring shows it", function()
    assert.matches("unknown option '1'; valid options: default, name", raised(context.new, { "x" }))
  end)

  -- { call, the words after "bad argument #N to 'fname' (" }
  local KINDS = {
    { function() fs.mkdir(PATH, { recursive = "yes" }) end, "option 'recursive' must be a boolean, got string" },
    { function() fs.write_file(PATH, "x", { append = 1 }) end, "option 'append' must be a boolean, got number" },
    { function() fs.writer(PATH, { append = "yes" }) end, "option 'append' must be a boolean, got string" },
    { function() net.connect("127.0.0.1", 1, { nodelay = 1 }) end, "option 'nodelay' must be a boolean, got number" },
    { function() net.listen("127.0.0.1", 0, nothing, { nodelay = "y" }) end,
      "option 'nodelay' must be a boolean, got string" },
    { function() iostream.wrap(io.stdout, { name = 5 }) end, "option 'name' must be a string, got number" },
    { function() iostream.wrap(io.stdout, { readable = 1 }) end, "option 'readable' must be a boolean, got number" },
    { function() process.run("true", {}, { input = 5 }) end, "option 'input' must be a string, got number" },
    { function() stream.writable(nothing, { finish = 5 }) end, "option 'finish' must be a function, got number" },
    { function() context.new({ name = {} }) end, "option 'name' must be a string, got table" },
  }
  it("checks the kind of each option's value", function()
    for _, c in ipairs(KINDS) do
      local e = raised(c[1])
      assert.equal(c[2] .. ")", e:sub(-#c[2] - 1))
    end
  end)
end)
