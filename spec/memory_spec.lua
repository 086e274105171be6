package.path = "spec/support/?.lua;" .. package.path
local net = require "ebb.net"
local stream = require "ebb.stream"
local task = require "ebb.task"
local run = require "run_ebb"

local LOCAL = "127.0.0.1"
local MiB = 1024 * 1024

-- Under `make sanitize` (EBB_BIN=build/sanitize/ebb) the same bound holds:
-- Lua strings come from LuaJIT's own allocator, which ASan does not
-- quarantine; that child peaks at about 14 MiB against 8 MiB here.

-- A child ebb that moves `mib` MiB of fresh 64 KiB chunks (a counter, then a
-- fixed filler: every chunk is a new string that must be collected) from a
-- stream.readable through one Lua step (`step` is "transform" for a
-- stream.transform, "function" for a function step) into fs.writer("/dev/null"),
-- then prints the bytes the step saw, the bytes written and its VmHWM (kB).
local function pipeline_in_child(mib, step)
  local code = ([[
local fs = require "ebb.fs"
local stream = require "ebb.stream"
local CHUNK, total = 65536, %d * 1048576
local filler = string.rep("x", CHUNK - 16)
local made = 0
local source = stream.readable(function()
  if made >= total then return nil end
  made = made + CHUNK
  return string.format("%%016x", made) .. filler
end)
local seen = 0
local step
if %q == "transform" then
  step = stream.transform(function(yield, chunks)
    for chunk in chunks do
      seen = seen + #chunk
      yield(chunk)
    end
  end)
else
  step = function(chunk)
    seen = seen + #chunk
    return chunk
  end
end
local sink = fs.writer("/dev/null")
stream.pipeline(source, step, sink)
local hwm
for line in io.lines("/proc/self/status") do hwm = hwm or line:match("^VmHWM:%%s*(%%d+) kB") end
print(seen, sink.written, hwm)
]]):format(mib, step)
  local out, err, status = run.ebb("-e " .. run.quote(code))
  assert.equal("", err)
  assert.equal(0, status)
  local seen, written, hwm_kb = out:match("^(%d+)\t(%d+)\t(%d+)\n$")
  assert.is_not_nil(hwm_kb, "unexpected output: " .. out)
  return tonumber(seen), tonumber(written), tonumber(hwm_kb) * 1024
end

describe("bounded memory", function()
  describe("1 GiB through a pipeline with one Lua step keeps the peak RSS under 32 MiB", function()
    -- about 0.3 s each
    for _, step in ipairs({ "transform", "function" }) do
      it("with a " .. step .. " step", function()
        local seen, written, peak = pipeline_in_child(1024, step)
        assert.equal(1024 * MiB, seen)
        assert.equal(1024 * MiB, written)
        assert.is_true(peak < 32 * MiB, ("peak RSS %.1f MiB"):format(peak / MiB))
      end)
    end
  end)

  it("a pipeline into a stalled writable stops pulling from its source", function()
    local CHUNK, HWM = 16384, 65536
    local chunk = string.rep("p", CHUNK)
    local produced, entered, src_closed, dst_closed = 0, false, false, false
    local never = task.future()
    local source = stream.readable(function()
      produced = produced + CHUNK
      return chunk
    end, function() src_closed = true end)
    local step = stream.transform(function(yield, chunks)
      for c in chunks do yield(c) end
    end)
    local sink = stream.writable(function()
      entered = true
      never:await() -- the consumer never takes the chunk
    end, { high_water_mark = HWM, close = function() dst_closed = true end })
    local t = task.spawn(stream.pipeline, source, step, sink)
    for _ = 1, 1000 do
      if entered then break end
      task.yield()
    end
    assert.is_true(entered)
    local at_stall = produced
    for _ = 1, 100 do task.yield() end
    assert.equal(at_stall, produced) -- nothing more is pulled while the sink is stuck
    assert.is_true(produced <= HWM + CHUNK, ("produced %d bytes"):format(produced))
    t:cancel()
    assert.is_false(pcall(t.await, t))
    assert.is_true(src_closed)
    assert.is_true(dst_closed)
  end)

  it("a writer to a socket whose peer never reads blocks with a bounded send queue", function()
    local gate = task.future()
    local server = net.listen(LOCAL, 0, function() gate:await() end) -- holds the connection, never reads
    local conn = net.connect(LOCAL, server.port)
    local chunk = string.rep("w", 65536)
    local sent = 0
    local writer = task.spawn(function()
      while true do
        conn:write(chunk)
        sent = sent + #chunk
      end
    end)
    -- A write returns at once while at most high_water_mark bytes are queued;
    -- past that it waits, and with nobody reading the wait never ends.
    local function queued() return select(2, conn:buffered()) end
    for _ = 1, 10000 do
      if queued() > conn.high_water_mark then break end
      task.yield()
    end
    assert.is_true(queued() > conn.high_water_mark, "the writer never blocked")
    local at_block = sent
    for _ = 1, 100 do task.yield() end
    assert.equal(at_block, sent)
    assert.is_true(queued() <= conn.high_water_mark + #chunk, ("%d bytes queued"):format(queued()))
    assert.equal(65536, conn.high_water_mark)
    writer:cancel()
    assert.is_false(pcall(writer.await, writer))
    conn:close()
    gate:resolve()
    server:close()
  end)
end)
