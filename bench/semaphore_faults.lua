-- Fault figures for semaphore.redis: processes take and give back permits while some are
-- killed with SIGKILL (and started again), waits and holds are aborted at random, and
-- (--restart) the redis-server is restarted mid-run. An observer outside the semaphore
-- checks the bound: every holder logs when it starts and ends holding (the machine's
-- monotonic clock, shared by the processes); a holder killed while it held is counted as
-- holding until its lease ends (less `tolerance` ms for the grant's notice). At the end
-- every permit must be back: no holder, no ticket on the server.
--
-- ebb bench/semaphore_faults.lua [--procs 8] [--each 10000] [--permits 3] [--lease 1000]
--   [--kills 6] [--restart none|aof|plain] [--seed 1]
-- (aof: redis-server with appendonly yes, appendfsync always; plain: no persistence).
-- Exits 1 when the bound was broken or a permit was not back.
package.path = "spec/support/?.lua;" .. package.path -- the specs' redis-server starter
local semaphore = require "ebb.semaphore"
local redis = require "ebb.redis"
local process = require "ebb.process"
local task = require "ebb.task"
local errors = require "ebb.errors"
local ffi = require "ffi"

ffi.cdef "struct semaphore_faults_ts { long sec; long nsec; }; int clock_gettime(int, struct semaphore_faults_ts *);"
local ts = ffi.new("struct semaphore_faults_ts")
local CLOCK_MONOTONIC = 1
local function mono()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.sec) * 1000 + tonumber(ts.nsec) / 1e6
end

local opts = { procs = 8, each = 10000, permits = 3, lease = 1000, kills = 6, restart = "none", seed = 1 }
do
  local i = 1
  while arg[i] do
    local name = arg[i]:match("^%-%-(%w+)$")
    if name == "worker" then break end
    if not name or opts[name] == nil or not arg[i + 1] then
      io.stderr:write("usage: ebb bench/semaphore_faults.lua [--procs N] [--each N] [--permits N] [--lease MS]",
        " [--kills N] [--restart none|aof|plain] [--seed N]\n")
      os.exit(2)
    end
    opts[name] = tonumber(arg[i + 1]) or arg[i + 1]
    i = i + 2
  end
end

-- ---- a worker: `--worker url log count seed permits lease` ----
local function worker(url, log_path, count, seed, permits, lease)
  math.randomseed(seed)
  local client = redis.connect(url, { reconnect = { retries = 20, base = 20, cap = 200 } })
  local sem = semaphore.redis { client = client, key = "faults", permits = permits, lease = lease }
  local log = assert(io.open(log_path, "a"))
  log:setvbuf("no") -- each line reaches the file before a kill can land
  local done = 0
  while done < count do
    local r = math.random()
    local got, lease_ = pcall(sem.acquire, sem, r < 0.1 and { timeout = math.random(1, 5) } or nil)
    if not got and r < 0.1 and errors.is(lease_, errors.TimeoutError) then
      log:write("A\n") -- a wait aborted
      done = done + 1
    elseif not got then
      log:write("F\n") -- the server out of reach (restarting): the round is tried again
      task.sleep(20)
    else
      log:write(("S %s %.3f\n"):format(lease_.id, mono()))
      if r > 0.9 then
        pcall(task.timeout, 1, task.sleep, 3) -- a hold aborted
      else
        task.sleep(math.random(0, 2))
      end
      log:write(("E %s %.3f\n"):format(lease_.id, mono()))
      lease_:release()
      done = done + 1
    end
  end
  log:close()
  sem:close()
  client:close()
end

if arg[1] == "--worker" then
  return worker(arg[2], arg[3], tonumber(arg[4]), tonumber(arg[5]), tonumber(arg[6]), tonumber(arg[7]))
end

-- ---- the observer ----

-- every slot's log: how many rounds it did, its holds { start, end } (end nil: killed holding)
local function read_log(path)
  local done, holds, open_ = 0, {}, {}
  local f = io.open(path, "r")
  if not f then return 0, holds end
  for line in f:lines() do
    local kind, id, t = line:match("^(%u) ?(%S*) ?(%S*)$")
    if kind == "A" then
      done = done + 1
    elseif kind == "S" then
      open_[id] = { tonumber(t) }
      holds[#holds + 1] = open_[id]
    elseif kind == "E" and open_[id] then
      open_[id][2] = tonumber(t)
      open_[id] = nil
      done = done + 1
    end
  end
  f:close()
  return done, holds
end

-- The most holds that overlap; a hold with no end (killed) lasts lease - tolerance.
local function max_overlap(holds, lease, tolerance)
  local events = {}
  for _, h in ipairs(holds) do
    events[#events + 1] = { h[1], 1 }
    events[#events + 1] = { h[2] or (h[1] + lease - tolerance), -1 }
  end
  table.sort(events, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2] -- an end before a start at the same instant
  end)
  local now_, most = 0, 0
  for _, e in ipairs(events) do
    now_ = now_ + e[2]
    if now_ > most then most = now_ end
  end
  return most
end

local dir = os.tmpname()
os.remove(dir)
os.execute("mkdir -p " .. dir)
local extra = { "--dir", dir }
if opts.restart == "aof" then
  for _, a in ipairs { "--appendonly", "yes", "--appendfsync", "always" } do extra[#extra + 1] = a end
end
local server = require("redis_server").start(extra)
local EBB = arg[-1] or "build/ebb"

local slots, runs, kills, restarted, failed = {}, {}, 0, false, 0
local function log_of(i) return ("%s/slot%d.log"):format(dir, i) end
local function start(i, generation)
  local done = read_log(log_of(i))
  if done >= opts.each then return nil end
  return process.spawn(EBB, { arg[0], "--worker", server.url, log_of(i), opts.each - done,
    opts.seed * 1000003 + i * 1009 + generation, opts.permits, opts.lease }, { stdout = "ignore", stderr = "inherit" })
end

local t0 = mono()
for i = 1, opts.procs do
  slots[i] = { gen = 0 }
  slots[i].p = start(i, 0)
  runs[i] = task.spawn(function()
    while slots[i].p do
      local p = slots[i].p
      local code, sig = p:wait()
      p:close()
      if code ~= 0 and sig ~= "SIGKILL" then
        failed = failed + 1
        if failed > 3 then error("workers fail: see their errors above", 0) end
      end
      slots[i].gen = slots[i].gen + 1
      slots[i].p = start(i, slots[i].gen) -- killed: started again for the rounds left
    end
  end)
end

math.randomseed(opts.seed)
-- rounds done so far, the logs read on from where the last look stopped
local seen = {}
local function total_done()
  local n = 0
  for i = 1, opts.procs do
    local p = seen[i] or { at = 0, done = 0 }
    seen[i] = p
    local f = io.open(log_of(i), "r")
    if f then
      f:seek("set", p.at)
      local chunk = f:read("*a")
      f:close()
      local whole = chunk:match("^.*\n") or "" -- a line being written is read next time
      p.at = p.at + #whole
      for kind in whole:gmatch("(%u)[^\n]*\n") do
        if kind == "A" or kind == "E" then p.done = p.done + 1 end
      end
    end
    n = n + p.done
  end
  return n
end
local faults = task.spawn(function()
  local goal = opts.procs * opts.each
  while true do
    task.sleep(math.random(5, 25))
    local done = total_done()
    if done >= goal then return end
    if opts.restart ~= "none" and not restarted and done >= goal / 3 then
      restarted = true
      server:restart()
    elseif kills < opts.kills and done >= goal * (kills + 1) / (opts.kills + 2) then
      local victim = slots[math.random(1, opts.procs)].p
      if victim then
        victim:kill("SIGKILL")
        kills = kills + 1
      end
    end
  end
end)
for i = 1, opts.procs do runs[i]:await() end
faults:await() -- it ends at its next look, after a restart under way has finished
local elapsed = mono() - t0

-- every permit back: the leases of holders killed holding run out
local client = redis.connect(server.url)
local t_back = mono()
while client:command("EXISTS", "faults:holders", "faults:queue") > 0 and mono() - t_back < 3 * opts.lease do
  task.sleep(20)
end
local left_holders, left_tickets = client:command("ZCARD", "faults:holders"), client:command("ZCARD", "faults:queue")
local back_after = mono() - t_back
client:close()
server:stop()

local all, aborted, failed_asks, killed_holding, rounds = {}, 0, 0, 0, 0
for i = 1, opts.procs do
  local done, holds = read_log(log_of(i))
  rounds = rounds + done
  for _, h in ipairs(holds) do
    all[#all + 1] = h
    if not h[2] then killed_holding = killed_holding + 1 end
  end
  local f = io.open(log_of(i))
  for line in f:lines() do
    if line == "A" then aborted = aborted + 1 elseif line == "F" then failed_asks = failed_asks + 1 end
  end
  f:close()
end
local tolerance = opts.lease / 10
local most = max_overlap(all, opts.lease, tolerance)
os.execute("rm -rf " .. dir)

print(("%d processes x %d rounds, %d permits, lease %d ms, redis restart: %s"):format(
  opts.procs, opts.each, opts.permits, opts.lease, opts.restart))
print(("rounds done: %d (%d holds, %d waits aborted), in %.1f s: %.0f rounds/s"):format(
  rounds, #all, aborted, elapsed / 1000, rounds / elapsed * 1000))
print(("acquires that failed with the server out of reach (and were tried again): %d"):format(failed_asks))
print(("processes killed with SIGKILL: %d (%d of them while holding); redis-server restarted: %s"):format(
  kills, killed_holding, restarted and "yes" or "no"))
print(("most holders at once, seen by the observer: %d (bound %d): %s"):format(most, opts.permits,
  most <= opts.permits and "held" or "BROKEN"))
print(("left on the server %.0f ms after the end: %d holders, %d tickets: %s"):format(back_after, left_holders,
  left_tickets, (left_holders == 0 and left_tickets == 0) and "every permit back" or "NOT ALL BACK"))
if most > opts.permits or left_holders ~= 0 or left_tickets ~= 0 then os.exit(1) end
