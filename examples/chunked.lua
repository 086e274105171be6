-- Chunked processing: 200,000 numbers in chunks of 10,000 with task.yield() between chunks, so a
-- heartbeat task keeps getting turns; the signal checked every chunk stops the work cleanly mid-way.
local task = require "ebb.task"
local clock = require "ebb.clock"
local abort = require "ebb.abort"
local errors = require "ebb.errors"
local core = require "ebb.core"

clock.auto()
local timers_at_start = core.stats().timers

-- Like the guide's processLargeDataset, with task.yield() in place of setImmediate.
local function process_large_dataset(items, fn, opts)
  local chunk_size, signal = opts.chunk_size or 1000, opts.signal
  local results, n = {}, #items
  for first = 1, n, chunk_size do
    if signal then signal:throw_if_aborted() end
    local last = math.min(first + chunk_size - 1, n)
    for i = first, last do results[i] = fn(items[i]) end
    if opts.on_chunk then opts.on_chunk(last) end
    if last < n and opts.yield ~= false then task.yield() end -- let other tasks and I/O run
  end
  return results
end

local items = {}
for i = 1, 200000 do items[i] = i end
local function square(x) return x * x end

-- The heartbeat: one beat per turn the loop gives it. Virtual time stands still while tasks are
-- ready, so turns, not milliseconds, are what a CPU-bound loop starves (and the output is exact).
local beats = 0
local heartbeat = task.spawn(function()
  local ok, err = pcall(function()
    while true do
      task.yield()
      beats = beats + 1
    end
  end)
  print(("heartbeat: cancelled after %d beats, cleanup runs (%s)"):format(beats, tostring(err)))
  error(err, 0)
end)

local function run(title, opts)
  task.yield() -- the heartbeat is running before each run starts
  local before = beats
  local ok, res = pcall(process_large_dataset, items, square, opts)
  local during = beats - before
  print(title .. ":")
  if ok then
    local sum = 0
    for i = 1, #res do sum = sum + res[i] end
    print(("  %d results, sum of squares %.0f"):format(#res, sum))
  else
    print(("  stopped: %s"):format(tostring(res)))
  end
  print(("  heartbeats during processing: %d"):format(during))
end

-- 1. One block: correct, but nothing else runs until it is done.
run("one block, no yield", { chunk_size = #items, yield = false })

-- 2. Twenty chunks with a yield between them: the heartbeat beats between every two chunks.
local chunks = 0
run("chunks of 10,000", { chunk_size = 10000, on_chunk = function() chunks = chunks + 1 end })
print(("  chunks: %d"):format(chunks))

-- 3. The same, stopped by a user after 7 turns of the loop: the signal is checked every chunk.
local ctl = abort.controller()
local done = 0
local user = task.spawn(function()
  for _ = 1, 7 do task.yield() end
  print(("user: pressing stop (%d items done so far)"):format(done))
  ctl:abort(errors.AbortError("stopped by the user"))
end)
run("chunks, stopped by a signal", {
  chunk_size = 10000, signal = ctl.signal, on_chunk = function(last) done = last end,
})
print(("  items processed before the stop: %d of %d"):format(done, #items))
user:await()

heartbeat:cancel()
pcall(heartbeat.await, heartbeat)
print(("heartbeat status: %s; timers left: %d (at start: %d)"):format(
  heartbeat.status, core.stats().timers, timers_at_start))
