-- Copy a 32 MiB file through a Lua transform (uppercase + a running checksum) with stream.pipeline:
-- reader, step and writer move one 64 KiB chunk at a time, and every stage is closed on any exit.
local fs = require "ebb.fs"
local stream = require "ebb.stream"
local scope = require "ebb.scope"

local MiB = 1024 * 1024
local SIZE = 32 * MiB
local CHUNK = 64 * 1024

-- A cheap checksum (Adler-32-like, over bytes), fed chunk by chunk.
local function checksum()
  local a, b = 1, 0
  local sum = {}
  function sum.update(s)
    for i = 1, #s do
      a = (a + s:byte(i)) % 65521
      b = (b + a) % 65521
    end
  end
  function sum.value() return ("%08x"):format(b * 65536 + a) end
  return sum
end

-- One 64 KiB chunk of lowercase text; chunk n differs from chunk n+1 in its first line.
local LINE = "the quick brown fox jumps over the lazy dog, pack my box with five dozen jugs\n"
local BODY = LINE:rep(math.ceil(CHUNK / #LINE))
local function make_chunk(n)
  local head = ("chunk %06d\n"):format(n)
  return head .. BODY:sub(1, CHUNK - #head)
end

-- a private temp dir, removed (with what is in it) however the block below ends
local dir = os.tmpname()
fs.unlink(dir)
fs.mkdir(dir)

scope.run(function(s)
  local src, dst = dir .. "/input.txt", dir .. "/output.txt"
  s:defer(function()
    for _, name in ipairs(fs.readdir(dir)) do fs.unlink(dir .. "/" .. name) end
    fs.rmdir(dir)
  end)

  -- 1. Make the input with fs.writer: write waits while a chunk is still being written,
  -- so at most one chunk is held here, never the whole 32 MiB.
  local expected = checksum()
  local w = s:use(fs.writer(src))
  for n = 1, SIZE / CHUNK do
    local chunk = make_chunk(n)
    expected.update(chunk:upper())
    w:write(chunk)
  end
  w:finish()
  print(("input:  %s, %d bytes"):format("input.txt", fs.stat(src).size))

  -- 2. The copy: reader -> uppercase + checksum step -> writer. Like Node's stream.pipeline,
  -- but the step is a plain function and backpressure is just `write` waiting.
  local seen, chunks, biggest = checksum(), 0, 0
  local function upper_and_sum(chunk)
    chunks = chunks + 1
    if #chunk > biggest then biggest = #chunk end
    local up = chunk:upper()
    seen.update(up)
    return up
  end
  stream.pipeline(fs.reader(src), upper_and_sum, fs.writer(dst))
  print(("output: %s, %d bytes in %d chunks of at most %d KiB"):format(
    "output.txt", fs.stat(dst).size, chunks, biggest / 1024))

  -- 3. Check the copy: read it back and compare checksums with what the input should become.
  local check = checksum()
  for chunk in s:use(fs.reader(dst)):chunks() do check.update(chunk) end
  print(("checksum: expected %s, in transit %s, of the output file %s"):format(
    expected.value(), seen.value(), check.value()))
  print(("output matches: %s"):format(
    (check.value() == expected.value() and seen.value() == expected.value()) and "yes" or "NO"))
end)

print(("temp dir removed: %s"):format(pcall(fs.stat, dir) and "NO" or "yes"))
