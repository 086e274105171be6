-- copy: a file copied through a pass-through step with fs.reader/fs.writer and
-- stream.pipeline (64 KiB chunks). Usage: copy.lua from to
local fs = require "ebb.fs"
local stream = require "ebb.stream"

stream.pipeline(fs.reader(arg[1]), function(chunk) return chunk end, fs.writer(arg[2]))
print("copy " .. fs.stat(arg[2]).size)
