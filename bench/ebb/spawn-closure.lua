-- spawn-closure: 1,000,000 tasks, each a new closure, spawned and awaited in
-- batches of 1,000 (the shape users write: task.spawn(function() ... end)).
local task = require "ebb.task"

local N, BATCH = 1000000, 1000

local count, sum = 0, 0
for base = 0, N - 1, BATCH do
  local list = {}
  for j = 1, BATCH do
    local i = base + j
    list[j] = task.spawn(function() return i + 1 end)
  end
  for j = 1, BATCH do
    sum = sum + list[j]:await()
  end
  count = count + BATCH
end

print("spawn-closure " .. count .. " " .. sum)
