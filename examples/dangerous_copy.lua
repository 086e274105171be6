-- The guide's "dangerous copy" next to the safe one: a 64 MiB file copied to a slow destination,
-- each way in its own child process, comparing how far each one's peak memory (VmHWM) grew.
local fs = require "ebb.fs"
local stream = require "ebb.stream"
local task = require "ebb.task"
local clock = require "ebb.clock"
local semaphore = require "ebb.semaphore"
local process = require "ebb.process"

local MiB = 1024 * 1024
local SIZE = 64 * MiB

-- ---------------------------------------------------------------- the child: one copy
-- A destination slower than the disk: 1 ms per 64 KiB (virtual time), one chunk at a time,
-- in order (a semaphore of 1), like a Node writable's internal queue.
local function slow_writer(path)
  local file, turn = fs.writer(path), semaphore.new(1)
  return stream.writable(function(chunk)
    turn:with(function()
      task.sleep(#chunk / 65536)
      file:write(chunk)
    end)
  end, { finish = function() file:finish() end, close = function() file:close() end })
end

local COPIES = {
  -- Safe: the pipeline reads a chunk only when the writer took the last one.
  pipeline = function(src, dst)
    stream.pipeline(fs.reader(src), slow_writer(dst))
  end,
  -- Also safe: the plain loop, because w:write waits while the destination is behind.
  -- (In Node this loop is the dangerous one: writer.write returns at once.)
  loop = function(src, dst)
    local r, w = fs.reader(src), slow_writer(dst)
    for chunk in r:chunks() do w:write(chunk) end
    w:finish()
  end,
  -- Dangerous: writes not waited for, like reader.on('data', c => writer.write(c)).
  -- The reader never slows down, so every chunk waits in memory for the slow writer.
  no_wait = function(src, dst)
    local r, w = fs.reader(src), slow_writer(dst)
    local writes = {}
    for chunk in r:chunks() do writes[#writes + 1] = task.spawn(w.write, w, chunk) end
    task.all(writes)
    w:finish()
  end,
  -- Dangerous: the whole file in memory at once (read_file, then one write).
  read_all = function(src, dst)
    local w = slow_writer(dst)
    w:write(fs.read_file(src))
    w:finish()
  end,
}

local function peak_kib()
  for line in io.lines("/proc/self/status") do
    local kib = line:match("^VmHWM:%s*(%d+) kB")
    if kib then return tonumber(kib) end
  end
end

if arg[1] == "--child" then
  clock.auto() -- the slow destination takes no real time
  local before, t0 = peak_kib(), clock.now()
  COPIES[arg[2]](arg[3], arg[4])
  print(peak_kib() - before, clock.now() - t0)
  return
end

-- ---------------------------------------------------------------- the parent: compare them
local EBB = arg[-1] or "build/ebb" -- the interpreter running this script

local dir = os.tmpname()
fs.unlink(dir)
fs.mkdir(dir)
local src, dst = dir .. "/big.bin", dir .. "/copy.bin"
local w = fs.writer(src)
local block = ("0123456789abcdef"):rep(4096)
for n = 1, SIZE / #block do -- every chunk different (Lua interns equal strings: copies would be free)
  w:write(("%08d"):format(n) .. block:sub(9))
end
w:finish()
print(("source: %d MiB; destination: 64 MiB/s (1 ms per 64 KiB chunk)"):format(fs.stat(src).size / MiB))

local function describe(kib)
  local mib = kib / 1024
  if mib < 16 then return "less than 16 MiB" end
  if mib > 128 then return "more than 128 MiB" end -- the chunks, the joined copy and its buffer
  if mib > 48 then return "more than 48 MiB" end   -- about the whole file
  return ("between 16 and 48 MiB (%.0f)"):format(mib) -- would make the output vary: should not happen
end

for _, way in ipairs({ "pipeline", "loop", "no_wait", "read_all" }) do
  local r = process.run(EBB, { arg[0], "--child", way, src, dst }, { stdin = "ignore" })
  local grew, ms = r.stdout:match("^(%d+)%s+(%d+)")
  local same = r.code == 0 and fs.stat(dst).size == SIZE
  print(("%-8s  %-8s  copy ok: %-3s  took %4.0f ms (virtual)  peak memory grew by %s"):format(
    way, (way == "pipeline" or way == "loop") and "safe" or "DANGER", same and "yes" or "NO",
    tonumber(ms), describe(tonumber(grew))))
  if r.stderr ~= "" then io.stderr:write(r.stderr) end
  fs.unlink(dst)
end

fs.unlink(src)
fs.rmdir(dir)
