-- spawn: 1,000,000 tasks, spawned and awaited in batches of 1,000.
local task = require "ebb.task"

local N, BATCH = 1000000, 1000

local function f(i) return i + 1 end

local count, sum = 0, 0
for base = 0, N - 1, BATCH do
  local list = {}
  for j = 1, BATCH do
    list[j] = task.spawn(f, base + j)
  end
  local results = task.all(list)
  for j = 1, #results do
    sum = sum + results[j]
  end
  count = count + #results
end

print("spawn " .. count .. " " .. sum)
