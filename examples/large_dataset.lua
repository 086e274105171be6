-- The guide's processLargeDataset three ways, with a 1 ms ticker measuring the loop's worst stall:
-- in one block, in chunks with task.yield() between them, and on a pool of worker threads.
local task = require "ebb.task"
local clock = require "ebb.clock"
local worker = require "ebb.worker"

-- The per-item work, as source: the main thread and the workers compile the same text.
local SCORE = [[
local function score(x)
  local h = x
  for _ = 1, 60 do h = (h * 1103515245 + 12345) % 2147483648 end
  return h % 1000
end
]]
local score = loadstring(SCORE .. "return score")()

local items = {}
for i = 1, 200000 do items[i] = i end

-- 1. One block: nothing else runs until it is done.
local function process_blocking(list)
  local results = {}
  for i = 1, #list do results[i] = score(list[i]) end
  return results
end

-- 2. The guide's version: chunks, with task.yield() (its setImmediate) between them.
local function process_chunked(list, chunk_size)
  local results = {}
  for first = 1, #list, chunk_size do
    for i = first, math.min(first + chunk_size - 1, #list) do results[i] = score(list[i]) end
    if first + chunk_size <= #list then task.yield() end
  end
  return results
end

-- 3. On a pool: one feeder per worker takes the next chunk, copies it to a worker and waits
-- for its results; the loop only copies chunks in and out, one at a time.
local CHUNK_JOB = SCORE .. [[
return function(chunk)
  local out = {}
  for i = 1, #chunk do out[i] = score(chunk[i]) end
  return out
end]]

local pool = worker.pool({ size = 2 })

local function process_on_pool(list, chunk_size)
  local results, next_first = {}, 1
  local function feeder()
    while next_first <= #list do
      local first, last = next_first, math.min(next_first + chunk_size - 1, #list)
      next_first = last + 1
      local chunk = {}
      for i = first, last do chunk[#chunk + 1] = list[i] end
      local out = pool:run(CHUNK_JOB, chunk)
      for i = 1, #out do results[first + i - 1] = out[i] end
    end
  end
  local feeders = {}
  for i = 1, pool.size do feeders[i] = feeder end
  task.all(feeders)
  return results
end

-- The ticker: wakes every 1 ms and notes the longest gap beyond that.
local function measure(fn)
  local running, worst = true, 0
  local ticker = task.spawn(function()
    local last = clock.now()
    while running do
      task.sleep(1)
      local now = clock.now()
      worst = math.max(worst, now - last - 1)
      last = now
    end
  end)
  task.yield() -- the ticker is waiting before the work starts
  local started = clock.now()
  local results = fn()
  local took = clock.now() - started
  running = false
  ticker:await()
  return results, worst, took
end

-- Exact figures vary from run to run: shown with --ms, else said in words.
local exact = arg and arg[1] == "--ms"
local function describe_stall(worst, took)
  if exact then return ("%.1f ms (the work took %.1f ms)"):format(worst, took) end
  if worst >= 0.5 * took then return "the whole run: the loop stood still" end
  return "a small part of the run: the loop kept turning"
end

local function checksum(results)
  local sum = 0
  for i = 1, #results do sum = sum + results[i] end
  return sum
end

for _, way in ipairs({
  { "blocking", function() return process_blocking(items) end },
  { "chunked (1,000 items, then task.yield)", function() return process_chunked(items, 1000) end },
  { "on a pool of 2 workers (chunks of 10,000)", function() return process_on_pool(items, 10000) end },
}) do
  local results, worst, took = measure(way[2])
  print(way[1] .. ":")
  print(("  %d results, checksum %d"):format(#results, checksum(results)))
  print("  worst stall: " .. describe_stall(worst, took))
end
pool:close()
