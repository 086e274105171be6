-- Cursor pagination over HTTP with gen.paginate (the guide's paginateAPI): pages are
-- fetched lazily, at most one request per 50 ms, and a break stops the requests.
local http = require "ebb.http"
local gen = require "ebb.gen"
local json = require "ebb.json"

-- The API: 20 users, 4 per page; the cursor is an opaque token naming the next offset.
local requests = 0
local server = http.listen("127.0.0.1", 0, function(req, res)
  requests = requests + 1
  local from = tonumber(req.query.cursor and req.query.cursor:match("^u(%d+)$")) or 1
  local data = json.array()
  for id = from, math.min(from + 3, 20) do data[#data + 1] = { id = id, name = "user" .. id } end
  res:json({ data = data, next_cursor = from + 4 <= 20 and ("u" .. (from + 4)) or json.null })
end)
local base = "http://127.0.0.1:" .. server.port .. "/users"

-- One page: items and the next cursor (nil on the last page).
local function fetch_page(cursor, signal)
  local url = cursor and (base .. "?cursor=" .. cursor) or base
  local page = http.fetch(url, { signal = signal, timeout = 5000 }):raise_for_status():json()
  local next_cursor = page.next_cursor
  if next_cursor == json.null then next_cursor = nil end
  print(("GET %s -> %d users"):format(url:match("/users.*"), #page.data))
  return page.data, next_cursor
end

-- Find user 10: the walk stops at the page that holds it.
local pages = gen.paginate(fetch_page, { interval = 50 })
local found
for users in pages do
  for _, user in ipairs(users) do
    if user.id == 10 then found = user break end
  end
  if found then break end
end
pages:close()
print("found:", found.name)
print("requests made:", requests, "of 5 pages")

-- The whole list, for comparison.
local all = 0
for users in gen.paginate(fetch_page) do all = all + #users end
print("all users:", all, "requests in all:", requests)
server:close()
