-- Hashing files on a pool of worker threads behind a semaphore, while a TCP server on the same
-- loop keeps answering pings: the server's worst response time, hashing on the loop and on a pool.
local task = require "ebb.task"
local clock = require "ebb.clock"
local fs = require "ebb.fs"
local net = require "ebb.net"
local process = require "ebb.process"
local semaphore = require "ebb.semaphore"
local worker = require "ebb.worker"

-- FNV-1a, 32 bits, over every byte: no crypto library here, and a plain Lua loop is the
-- CPU-heavy part. The main thread and the workers compile the same source.
local FNV1A = [[
local bit = require "bit"
local bxor, lshift, tobit, byte = bit.bxor, bit.lshift, bit.tobit, string.byte
return function(data)
  local h = -2128831035 -- 2166136261, the offset basis, as a signed 32-bit number
  for i = 1, #data do
    h = bxor(h, byte(data, i))
    h = tobit(lshift(h, 24) + h * 403) -- h * 16777619 (the FNV prime) modulo 2^32
  end
  return bit.tohex(h)
end]]
local fnv1a = loadstring(FNV1A)()

-- Six files of 2 MiB each, every one different.
local dir = fs.temp_dir("hash-files-")
local files = {}
for i = 1, 6 do
  files[i] = dir.path .. "/part" .. i .. ".bin"
  fs.write_file(files[i], ("part %d;"):format(i) .. ("0123456789abcdef"):rep(131072))
end

-- The server answers each "ping" line with "pong", or with "bye" once `serving` is false.
local serving = false
local server = net.listen("127.0.0.1", 0, function(conn)
  local buf = ""
  while true do
    local chunk = conn:read()
    if not chunk then return end
    buf = buf .. chunk
    while buf:find("\n", 1, true) do
      buf = buf:sub(buf:find("\n", 1, true) + 1)
      if not serving then
        conn:write("bye\n")
        return
      end
      conn:write("pong\n")
    end
  end
end)

-- The client is another process, as a client would be: a ping every 2 ms until "bye";
-- it prints its slowest answer in ms.
local PING_CLIENT = [[
local net, task, clock = require "ebb.net", require "ebb.task", require "ebb.clock"
local conn = net.connect("127.0.0.1", tonumber(arg[1]))
local worst = 0
while true do
  local sent = clock.now()
  conn:write("ping\n")
  local reply = ""
  while not reply:find("\n", 1, true) do reply = reply .. assert(conn:read()) end
  if reply == "bye\n" then break end
  worst = math.max(worst, clock.now() - sent)
  task.sleep(2)
end
conn:close()
print(worst)
]]
local client_script = dir.path .. "/ping_client.lua"
fs.write_file(client_script, PING_CLIENT)

-- Runs fn while the client pings; returns fn's result, the slowest answer and fn's time.
local function while_pinging(fn)
  serving = true
  local client = task.spawn(process.run, arg[-1], { client_script, tostring(server.port) })
  local started = clock.now()
  local result = fn()
  local took = clock.now() - started
  serving = false
  local ran = client:await()
  assert(ran.code == 0, ran.stderr)
  return result, tonumber(ran.stdout), took
end

-- Hashes every file: at most two read into memory at once (the semaphore), each hashed by
-- `hash(data)`; the files are read with ebb.fs, so the loop turns while they load.
local function hash_all(hash)
  local permits = semaphore.new(2)
  local jobs = {}
  for i, path in ipairs(files) do
    jobs[i] = function()
      return permits:with(function() return hash(fs.read_file(path)) end)
    end
  end
  return task.all(jobs)
end

-- Exact figures vary from run to run: shown with --ms, else said in words. Hashed on the
-- loop, a ping waits for at least one file's hash (a sixth of the time, often two).
local exact = arg and arg[1] == "--ms"
local function describe_worst(worst, took)
  if exact then return ("%.1f ms (hashing took %.1f ms)"):format(worst, took) end
  if worst >= 0.15 * took then return "a file's hash or more: the server stood still" end
  return "a small part of the hashing time: the server kept answering"
end

local pool = worker.pool({ size = 2 })
for _, way in ipairs({
  { "on the loop's thread", fnv1a },
  { "on a pool of 2 workers", function(data) return pool:run(FNV1A, data) end },
}) do
  local hashes, worst, took = while_pinging(function() return hash_all(way[2]) end)
  print(way[1] .. ":")
  for i, h in ipairs(hashes) do print(("  part%d.bin  %s"):format(i, h)) end
  print("  the server's worst response: " .. describe_worst(worst, took))
end
pool:close()
server:close()
dir:remove()
