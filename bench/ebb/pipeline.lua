-- pipeline: 1 GiB through stream.pipeline(source, one Lua transform, sink).
-- The source makes a fresh 64 KiB chunk each time (a 16-digit counter, then a
-- fixed filler), so 1 GiB of strings is really made and must be collected as
-- it goes; the transform (stream.transform) counts the bytes and passes each
-- chunk on; the sink is fs.writer("/dev/null"). Usage: pipeline.lua [MiB]
-- (default 1024).
local fs = require "ebb.fs"
local stream = require "ebb.stream"

local CHUNK = 65536
local total = (tonumber(arg and arg[1]) or 1024) * 1024 * 1024
local filler = string.rep("x", CHUNK - 16)
local format = string.format

local made = 0
local source = stream.readable(function()
  if made >= total then return nil end
  made = made + CHUNK
  return format("%016x", made) .. filler
end)

local counted = 0
local count = stream.transform(function(yield, chunks)
  for chunk in chunks do
    counted = counted + #chunk
    yield(chunk)
  end
end)

local sink = fs.writer("/dev/null")
stream.pipeline(source, count, sink)
print(("pipeline %d %d"):format(counted, sink.written))
