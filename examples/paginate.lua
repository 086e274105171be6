-- Async pagination: walk a cursor-paginated API lazily, at most one request per 100 ms,
-- stop at the first match, and close the walk so its cleanup runs (on virtual time).
local gen = require "ebb.gen"
local task = require "ebb.task"
local clock = require "ebb.clock"

clock.auto() -- virtual time: the output (and the times in it) are exact

local t0 = clock.now()
local function at() return ("[%4.0f ms]"):format(clock.now() - t0) end

-- A simulated API: 12 users, 3 per page; the cursor is the next offset. 40 ms per request.
local requests = 0
local function fetch_users(cursor)
  requests = requests + 1
  local from = cursor or 1
  print(at(), ("GET /users?cursor=%s"):format(cursor or ""))
  task.sleep(40)
  local page = {}
  for id = from, math.min(from + 2, 12) do page[#page + 1] = { id = id, name = "user" .. id } end
  local next_cursor = from + 3 <= 12 and from + 3 or nil
  return page, next_cursor
end

-- Every user, one at a time, over the pages; its cleanup closes the page walk.
local function users()
  return gen.new(function(yield)
    local pages = gen.paginate(fetch_users, { interval = 100 })
    local ok, err = pcall(function()
      for page in pages do
        for _, user in ipairs(page) do yield(user) end
      end
    end)
    pages:close()
    print(at(), "cleanup: page walk closed")
    if not ok then error(err, 0) end
  end)
end

local all = users()
for user in all do
  if user.id == 8 then
    print(at(), "found " .. user.name)
    break
  end
end
all:close() -- a for loop's break does not close the generator: close it, the cleanup runs
print(at(), ("pages requested: %d of 4"):format(requests))
