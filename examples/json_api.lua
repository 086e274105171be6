-- A JSON API server (a to-do list: create, list, read, update; 400 for bad JSON, 404 for
-- nothing there) and a client that uses it, both in one script on loopback.
local http = require "ebb.http"
local json = require "ebb.json"
local errors = require "ebb.errors"

-- ---- the server ----
local todos, next_id = {}, 1

local function bad_request(res, msg)
  res:json({ error = msg }, 400)
end

local routes = {
  ["GET /todos"] = function(_, res)
    local list = json.array()
    for id = 1, next_id - 1 do list[#list + 1] = todos[id] end
    res:json(list)
  end,
  ["POST /todos"] = function(req, res)
    local ok, body = pcall(req.json, req)
    if not ok then return bad_request(res, tostring(body.message or body)) end
    if type(body.title) ~= "string" then return bad_request(res, "title must be a string") end
    local todo = { id = next_id, title = body.title, done = false }
    todos[next_id], next_id = todo, next_id + 1
    res.headers["Location"] = "/todos/" .. todo.id
    res:json(todo, 201)
  end,
  ["GET /todos/:id"] = function(_, res, todo) res:json(todo) end,
  ["PATCH /todos/:id"] = function(req, res, todo)
    local ok, body = pcall(req.json, req)
    if not ok then return bad_request(res, tostring(body.message or body)) end
    if body.done ~= nil then todo.done = body.done == true end
    res:json(todo)
  end,
}

local server = http.listen("127.0.0.1", 0, function(req, res)
  local id = tonumber(req.path:match("^/todos/(%d+)$"))
  local route = routes[req.method .. " " .. (id and "/todos/:id" or req.path)]
  if not route then return res:json({ error = "no route for " .. req.method .. " " .. req.path }, 404) end
  if id and not todos[id] then return res:json({ error = "no todo " .. id }, 404) end
  route(req, res, id and todos[id])
end)

-- ---- the client ----
local base = "http://127.0.0.1:" .. server.port

-- Calls the API: the decoded answer, or an error carrying the status and the server's words.
local function api(method, path, body)
  local res = http.fetch(base .. path, {
    method = method,
    headers = body and { ["Content-Type"] = "application/json" } or nil,
    body = body and (type(body) == "string" and body or json.encode(body)) or nil,
  })
  local answer = res:json()
  if not res.ok then
    error(errors.new(("%s %s: %d %s"):format(method, path, res.status, answer.error), { status = res.status }))
  end
  return answer, res
end

for _, title in ipairs({ "write the docs", "run the benches", "ship it" }) do
  local todo, res = api("POST", "/todos", { title = title })
  print(res.status, res.headers["location"], todo.title)
end
api("PATCH", "/todos/2", { done = true })
for _, todo in ipairs(api("GET", "/todos")) do
  print(("#%d [%s] %s"):format(todo.id, todo.done and "x" or " ", todo.title))
end
print(json.encode((api("GET", "/todos/1")), { sort_keys = true }))

for _, call in ipairs({ { "GET", "/todos/9" }, { "POST", "/todos", '{"title": "oops",}' }, { "DELETE", "/todos" } }) do
  local ok, err = pcall(api, call[1], call[2], call[3])
  print(ok, err.status, err.message)
end
server:close()
