-- ebb.scope: a db connection and its transaction are closed last first even when the
-- body fails; when closing fails too, SuppressedError keeps every error, in order.
local scope = require "ebb.scope"
local task = require "ebb.task"
local clock = require "ebb.clock"
local errors = require "ebb.errors"

clock.auto() -- virtual time: the output (and the times in it) are exact
local t0 = clock.now()
local function log(fmt, ...) print(("[%4.0f ms] " .. fmt):format(clock.now() - t0, ...)) end

local DbError = errors.class("DbError")

-- A simulated connection; `lost` makes every later call on it fail.
local Conn = {}
Conn.__index = Conn

local function connect(name)
  task.sleep(20)
  log("%s: connected", name)
  return setmetatable({ name = name, lost = false }, Conn)
end

function Conn:query(sql)
  task.sleep(10)
  if self.lost then error(DbError(sql .. ": connection lost"), 2) end
  log("%s: %s", self.name, sql)
end

function Conn:close() -- a close may wait: scope disposes it shielded, even when cancelled
  task.sleep(5)
  if self.lost then error(DbError("close " .. self.name .. ": socket already closed")) end
  log("%s: closed", self.name)
end

-- A transaction rolls back when it is disposed without a commit.
local Tx = {}
Tx.__index = Tx
Tx.__close = function(tx)
  if tx.done then return end
  tx.conn:query("ROLLBACK")
end

local function begin(conn)
  conn:query("BEGIN")
  return setmetatable({ conn = conn, done = false }, Tx)
end

function Tx:commit()
  self.conn:query("COMMIT")
  self.done = true
end

local function transfer(amount, lose_connection)
  return scope.run(function(s)
    local conn = s:use(connect("db"))
    local tx = s:use(begin(conn))
    conn:query("UPDATE accounts SET balance = balance - " .. amount .. " WHERE id = 1")
    if lose_connection then conn.lost = true end
    if amount > 100 then error(errors.new("insufficient funds for " .. amount)) end
    tx:commit()
    return "moved " .. amount
  end)
end

-- The error, then what it suppressed, one level deeper each time.
local function show(e, depth)
  local pad = ("  "):rep(depth or 0)
  if errors.is(e, errors.SuppressedError) then
    print(pad .. "SuppressedError")
    print(pad .. "  error:      " .. tostring(e.error))
    print(pad .. "  suppressed:")
    show(e.suppressed, (depth or 0) + 2)
  else
    print(pad .. tostring(e))
  end
end

for _, case in ipairs({ { 50 }, { 500 }, { 500, true } }) do
  print(("-- transfer %d%s"):format(case[1], case[2] and ", connection lost" or ""))
  local ok, res = pcall(transfer, case[1], case[2])
  if ok then
    log("ok: %s", res)
  else
    log("failed:")
    show(res, 1)
  end
end
