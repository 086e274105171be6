-- ebb.redis_stream_queue: a work queue on a Redis stream read by a consumer group:
-- entries handed to one consumer at a time, acknowledged once handled (at least
-- once), taken over from a consumer that stopped answering, dead-lettered after too
-- many deliveries. Per process, at most `concurrency` handlers run at once.
local check = require "ebb.check"
local errors = require "ebb.errors"
local task = require "ebb.task"
local semaphore = require "ebb.semaphore"
local client = require "ebb.redis_client"
local redis = require "ebb.redis"
local clock_now = require("ebb.clock.core").now
local check_abort = require("ebb.core").check_abort

local type, pairs, ipairs, pcall, error, tostring, setmetatable, unpack = type, pairs, ipairs, pcall, error,
  tostring, setmetatable, unpack
local format, sort, min, max, floor, random = string.format, table.sort, math.min, math.max, math.floor, math.random

local M = {}
local StreamQueue = {}
StreamQueue.__index = StreamQueue

-- dead(id, fields, why): the entry goes to the dead-letter stream KEYS[2] with its
-- id and why, and is acknowledged (ARGV[1]: the group).
local DEAD = [[
local function dead(id, fields, why)
  local args = { 'XADD', KEYS[2], '*' }
  for i = 1, #fields do args[#args + 1] = fields[i] end
  args[#args + 1] = 'dead_id'
  args[#args + 1] = id
  args[#args + 1] = 'dead_error'
  args[#args + 1] = why
  redis.call(unpack(args))
  redis.call('XACK', KEYS[1], ARGV[1], id)
end
]]

-- ARGV: group, consumer, idle ms, count, max deliveries (0: no limit). The entries
-- idle that long become this consumer's: { id, fields, deliveries } each; those
-- delivered max times already are dead-lettered instead.
local CLAIM = redis.script(DEAD .. [[
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[3], '-', '+', ARGV[4])
local limit, out = tonumber(ARGV[5]), {}
for _, p in ipairs(pending) do
  local id, times = p[1], p[4]
  local e = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], id)[1]
  if not e or not e[2] then
    redis.call('XACK', KEYS[1], ARGV[1], id) -- trimmed away meanwhile
  elseif limit > 0 and times >= limit then
    dead(id, e[2], 'its consumer stopped answering after ' .. times .. ' deliveries')
  else
    out[#out + 1] = { id, e[2], times + 1 }
  end
end
return out]])

-- ARGV: group, id, why. The entry, read again, dead-lettered (0: gone meanwhile).
local DEAD_LETTER = redis.script(DEAD .. [[
local e = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])[1]
if not e then redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) return 0 end
dead(ARGV[2], e[2], ARGV[3])
return 1]])

local kind = check.kind
local OPTIONS = {
  client = redis._client_kind, stream = kind.string, group = kind.string, consumer = kind.string,
  concurrency = kind.whole(1, 1e6), claim_after = kind.whole(1, 1e12), max_deliveries = kind.whole(1, 1e9),
  dead_letter = kind.string, maxlen = kind.whole(1, 2 ^ 53),
}
local PROCESS = { signal = kind.signal, on_error = kind.callable }

local function check_queue(q, fname) check.self(q, StreamQueue, fname, "stream queue", 2) end

function M.new(opts)
  opts = check.options(opts, 1, "stream_queue", OPTIONS)
  check.required(opts, { "client", "stream", "group" }, 1, "stream_queue")
  if opts.max_deliveries and not opts.dead_letter then
    check.badarg(1, "stream_queue", "option 'max_deliveries' needs option 'dead_letter' (where entries go)")
  end
  if opts.dead_letter and not opts.max_deliveries then
    check.badarg(1, "stream_queue", "option 'dead_letter' needs option 'max_deliveries' (when entries go there)")
  end
  local claim_after = opts.claim_after or 30000
  return setmetatable({
    client = opts.client, stream = opts.stream, group = opts.group,
    consumer = opts.consumer or format("ebb-%08x%08x", random(0, 2 ^ 31 - 1), random(0, 2 ^ 31 - 1)),
    concurrency = opts.concurrency or 1, claim_after = claim_after, max_deliveries = opts.max_deliveries or 0,
    dead_letter = opts.dead_letter, maxlen = opts.maxlen,
    -- how long a read blocks, and how often pending entries are looked at: within
    -- half of claim_after, an entry idle that long is taken over (whole ms: BLOCK
    -- refuses a fraction)
    block = max(5, min(2000, floor(claim_after / 2))),
    handled = 0, failed = 0, running = 0,
  }, StreamQueue)
end

-- A command with a trailing signal when there is one.
local function command(c, signal, ...)
  if signal then
    local args = { ... }
    args[#args + 1] = signal
    return c:command(unpack(args, 1, #args))
  end
  return c:command(...)
end

-- add(fields [, signal]) -> the entry's id.
function StreamQueue:add(fields, signal)
  check_queue(self, "add")
  if type(fields) ~= "table" then check.expected(fields, 1, "add", "table of fields") end
  check.opt_signal(signal, 2, "add")
  local names = {}
  for k, v in pairs(fields) do
    if type(k) ~= "string" then check.badarg(1, "add", "field names must be strings, got " .. type(k)) end
    if type(v) ~= "string" and type(v) ~= "number" then
      check.badarg(1, "add", format("field '%s' must be a string or a number, got %s", k, type(v)))
    end
    if v ~= v or v == 1 / 0 or v == -1 / 0 then
      check.badarg(1, "add", format("field '%s' must be a finite number, got %s", k, tostring(v)))
    end
    names[#names + 1] = k
  end
  if #names == 0 then check.badarg(1, "add", "at least one field expected") end
  sort(names)
  local cmd = { "XADD", self.stream }
  if self.maxlen then
    cmd[3], cmd[4], cmd[5] = "MAXLEN", "~", self.maxlen
  end
  cmd[#cmd + 1] = "*"
  for _, k in ipairs(names) do
    cmd[#cmd + 1] = k
    cmd[#cmd + 1] = fields[k]
  end
  return command(self.client, signal, unpack(cmd, 1, #cmd))
end

-- An entry as handlers get it: { id =, fields = { name = value }, deliveries = }.
local function entry_of(id, list, deliveries)
  local fields = {}
  for i = 1, #list, 2 do fields[list[i]] = list[i + 1] end
  return { id = id, fields = fields, deliveries = deliveries }
end

local function claim(self, count, signal)
  local got = CLAIM:run(self.client, { self.stream, self.dead_letter or self.stream },
    { self.group, self.consumer, self.claim_after, count, self.max_deliveries }, signal)
  local list = {}
  for i = 1, #got do list[i] = entry_of(got[i][1], got[i][2], got[i][3]) end
  return list
end

local function read(self, reader, count, signal)
  local got = command(reader, signal, "XREADGROUP", "GROUP", self.group, self.consumer, "COUNT", count, "BLOCK",
    self.block, "STREAMS", self.stream, ">")
  local list = {}
  local entries = got and got[1] and got[1][2] or {}
  for i = 1, #entries do list[i] = entry_of(entries[i][1], entries[i][2], 1) end
  return list
end

local function ensure_group(self, signal)
  local ok, e = pcall(command, self.client, signal, "XGROUP", "CREATE", self.stream, self.group, "0", "MKSTREAM")
  if not ok and not (errors.is(e, redis.ReplyError) and e.code == "BUSYGROUP") then error(e, 0) end
end

-- One entry handled in a task of its own: acknowledged when fn returned; else left
-- pending (taken over after claim_after), or dead-lettered at its last delivery.
local function handle(self, fn, entry, slots, on_error)
  self.running = self.running + 1
  local ok, err = pcall(fn, entry)
  self.running = self.running - 1
  slots:release()
  check.raise_if_aborted(check_abort()) -- cancelled: the entry stays pending
  if ok then
    self.handled = self.handled + 1
    pcall(self.client.command, self.client, "XACK", self.stream, self.group, entry.id)
    return
  end
  self.failed = self.failed + 1
  if on_error then pcall(on_error, err, entry) end
  if self.max_deliveries > 0 and entry.deliveries >= self.max_deliveries then
    pcall(DEAD_LETTER.run, DEAD_LETTER, self.client, { self.stream, self.dead_letter },
      { self.group, entry.id, tostring(err) })
  end
end

-- The reader's own client: a blocking read holds its connection, and waits longer
-- than a command timeout would allow.
local function open_reader(self)
  local o = {}
  for k, v in pairs(self.client._opts) do o[k] = v end
  o.timeout, o.signal = nil, nil
  return client.new(o)
end

-- The loop: a free slot, then entries for every free slot (taken over first, then
-- new ones), each handled in a task of the group.
local function serve(self, g, fn, reader, signal, on_error)
  local slots = semaphore.new(self.concurrency)
  local next_claim = 0
  while true do
    slots:acquire(signal)
    local free = 1 + slots.available
    if free > 1 then slots:try_acquire(free - 1) end
    local entries = {}
    if clock_now() >= next_claim then
      entries = claim(self, free, signal)
      next_claim = clock_now() + self.block
    end
    if #entries == 0 then entries = read(self, reader, free, signal) end
    for i = 1, #entries do g:spawn(handle, self, fn, entries[i], slots, on_error) end
    if free > #entries then slots:release(free - #entries) end
  end
end

-- process(fn [, opts]): handles entries until opts.signal aborts; then waits for the
-- handlers running and returns.
function StreamQueue:process(fn, opts)
  check_queue(self, "process")
  check.callable(fn, 1, "process")
  opts = check.options(opts, 2, "process", PROCESS)
  local signal = opts.signal
  check.raise_if_aborted(check_abort(signal))
  ensure_group(self, signal)
  local reader = open_reader(self)
  local ok, err = pcall(task.group, function(g)
    local served, why = pcall(serve, self, g, fn, reader, signal, opts.on_error)
    -- the signal: a stop (the group waits for the handlers); anything else ends them
    if not served and not (signal and signal.aborted and why == signal.reason) then error(why, 0) end
  end)
  reader:close()
  if not ok then error(err, 0) end
end

function StreamQueue:__tostring()
  check_queue(self, "__tostring")
  return format("StreamQueue (%s, group %s, consumer %s, %d running)", self.stream, self.group, self.consumer,
    self.running)
end

return M
