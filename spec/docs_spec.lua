-- The reference (docs/<module>.md, compiled in as ebb.docs) has an entry for
-- every public function and method of ebb, and no entry for something that is
-- not there. An entry is a heading "## module.function(...)", "## Type:method(...)"
-- or "## Type.field" on the module's page, or "## module.table.function(...)" for
-- a function of a callable table of the module (retry.budget.redis).
package.path = "spec/support/?.lua;" .. package.path
local reference = require "ebb.reference"
local index_methods = require("ebb.repl_complete").index_methods
local modules_of_sources = require "public_modules"

-- The fields of the top-level table that it makes on first read.
local EBB_LAZY = {}
for _, k in ipairs(getmetatable(require "ebb").__fields) do EBB_LAZY[k] = true end

-- The public modules, and the top-level table itself ("ebb").
local function public_modules()
  local list = modules_of_sources()
  table.insert(list, 1, "ebb")
  return list
end

-- One object of each type a module hands out, made by `make` (which may wait)
-- and ended by `done`.
local function types()
  local task, abort, retry = require "ebb.task", require "ebb.abort", require "ebb.retry"
  local context, scope, stream = require "ebb.context", require "ebb.scope", require "ebb.stream"
  return {
    task = {
      Task = { make = function() return task.spawn(function() end) end, done = function(t) t:await() end },
      Future = { make = task.future },
      Group = {
        make = function()
          local g
          task.group(function(x) g = x end)
          return g
        end,
      },
    },
    abort = {
      AbortController = { make = abort.controller },
      AbortSignal = { make = function() return abort.controller().signal end },
    },
    retry = {
      Backoff = { make = retry.backoff }, Budget = { make = retry.budget },
      RedisBudget = { make = function() return retry.budget.redis { client = { command = print }, key = "k" } end },
    },
    context = { ContextVar = { make = context.new }, Snapshot = { make = context.snapshot } },
    scope = { DisposableStack = { make = scope.stack } },
    semaphore = {
      Semaphore = { make = function() return require("ebb.semaphore").new(1) end },
      RedisSemaphore = {
        make = function()
          return require("ebb.semaphore").redis { client = require("redis_server").client(), key = "k", permits = 1 }
        end,
        done = function(s) require("redis_server").done(s.client) end,
      },
      RedisLease = {
        make = function()
          local c = require("redis_server").client()
          return require("ebb.semaphore").redis { client = c, key = "k", permits = 1 }:acquire()
        end,
        done = function(l)
          l:release()
          require("redis_server").done(l.semaphore.client)
        end,
      },
    },
    ratelimit = {
      RateLimiter = { make = function() return require("ebb.ratelimit").new { rate = 1 } end },
      RedisRateLimiter = {
        make = function() return require("ebb.ratelimit").redis { client = { command = print }, key = "k", rate = 1 } end,
      },
    },
    queue = { Queue = { make = function() return require("ebb.queue").new(1) end } },
    worker = { Pool = { make = function() return require("ebb.worker").pool { size = 1 } end, done = function(p) p:close() end } },
    channel = { Channel = { make = function() return require("ebb.channel").new(1) end } },
    events = {
      EventEmitter = { make = function() return require("ebb.events").new() end },
      EventIterator = {
        make = function() return require("ebb.events").iter(require("ebb.events").new(), "e") end,
        done = function(it) it:close() end,
      },
    },
    gen = { Generator = { make = function() return require("ebb.gen").new(function() end) end } },
    stream = {
      Readable = { make = function() return stream.readable(function() end) end },
      Writable = { make = function() return stream.writable(function() end) end },
      Transform = { make = function() return stream.transform(function() end) end },
      Lines = { make = function() return stream.lines(stream.readable(function() end)) end },
    },
    iostream = { IOStream = { make = function() return setmetatable({}, require("ebb.iostream").IOStream) end } },
    fs = {
      File = {
        make = function() return require("ebb.fs").open(os.tmpname(), "w") end,
        done = function(f)
          f:close()
        end,
      },
      TempDir = { make = function() return require("ebb.fs").temp_dir() end, done = function(d) d:remove() end },
      TempFile = { make = function() return require("ebb.fs").temp_file() end, done = function(t) t:remove() end },
      Watcher = { make = function() return require("ebb.fs").watch("/tmp") end, done = function(w) w:close() end },
    },
    redis = {
      RedisClient = { make = function() return require("redis_server").client() end, done = require("redis_server").done },
      Subscription = {
        make = function() return require("redis_server").subscription() end,
        done = require("redis_server").done,
      },
      RedisScript = { make = function() return require("ebb.redis").script("return 1") end },
      StreamQueue = {
        make = function() return require("ebb.redis").stream_queue { client = { command = print }, stream = "s", group = "g" } end,
      },
      RedisPool = { make = function() return require("ebb.redis").pool { url = "redis://127.0.0.1", size = 1 } end, done = function(p) p:close() end },
    },
    net = {
      Server = {
        make = function() return require("ebb.net").listen("127.0.0.1", 0, function() end) end,
        done = function(s) s:close() end,
      },
      UDPSocket = { make = function() return require("ebb.net").udp() end, done = function(s) s:close() end },
    },
    http = {
      Response = { make = function() return setmetatable({}, require("ebb.http_client_response").Response) end },
      HTTPServer = {
        make = function() return require("ebb.http").listen("127.0.0.1", 0, function() end) end,
        done = function(s) s:close() end,
      },
      Request = { make = function() return setmetatable({}, require("ebb.http_request").Request) end },
      ResponseWriter = { make = function() return setmetatable({}, require("ebb.http_response").ResponseWriter) end },
    },
    process = {
      Process = {
        make = function()
          return require("ebb.process").spawn("true", {}, { stdin = "ignore", stdout = "ignore", stderr = "ignore" })
        end,
        done = function(p) p:wait() p:close() end,
      },
    },
  }
end

-- The public methods of an object: the functions its metatable's __index
-- reads (a table, or the tables an __index function reads).
local function methods_of(v)
  local names = {}
  local mt = getmetatable(v)
  local idx = type(mt) == "table" and rawget(mt, "__index")
  local seen = {}
  while type(idx) == "table" and not seen[idx] do
    seen[idx] = true
    for k, f in pairs(idx) do
      if type(k) == "string" and type(f) == "function" and k:sub(1, 1) ~= "_" then names[k] = true end
    end
    local up = getmetatable(idx)
    idx = type(up) == "table" and rawget(up, "__index")
  end
  for _, k in ipairs(index_methods(v) or {}) do names[k] = true end
  return names
end

local function entry_names(page)
  local set = {}
  for _, e in ipairs(page and page.entries or {}) do set[e.name] = true end
  return set
end

describe("docs/", function()
  local _, pages = reference.modules()

  it("has a page for every public module", function()
    local missing = {}
    for _, m in ipairs(public_modules()) do
      if not pages[m] then missing[#missing + 1] = "docs/" .. m .. ".md" end
    end
    assert.same({}, missing)
  end)

  it("has an entry for every public function of every module", function()
    local missing = {}
    for _, m in ipairs(public_modules()) do
      local mod, names = require(m == "ebb" and "ebb" or "ebb." .. m), entry_names(pages[m])
      for k, v in pairs(mod) do
        if type(k) == "string" and k:sub(1, 1) ~= "_" and type(v) == "function" and not names[m .. "." .. k] then
          missing[#missing + 1] = m .. "." .. k
        end
        -- a callable table with functions of its own (retry.budget): it and each of them
        local called = type(v) == "table" and getmetatable(v)
        if type(k) == "string" and type(called) == "table" and rawget(called, "__call") then
          for k2, f in pairs(v) do
            if type(k2) == "string" and k2:sub(1, 1) ~= "_" and type(f) == "function" then
              if not names[m .. "." .. k] then missing[#missing + 1] = m .. "." .. k .. "(...)" end
              if not names[m .. "." .. k .. "." .. k2] then missing[#missing + 1] = m .. "." .. k .. "." .. k2 end
            end
          end
        end
      end
      local mt = getmetatable(mod)
      if type(mt) == "table" and rawget(mt, "__call") and m ~= "ebb" and not names[m] then
        missing[#missing + 1] = m .. "(...)"
      end
    end
    table.sort(missing)
    assert.same({}, missing)
  end)

  it("has an entry for every method of every object a module hands out", function()
    local missing = {}
    for m, list in pairs(types()) do
      local names = entry_names(pages[m])
      for tname, how in pairs(list) do
        local v = how.make()
        for k in pairs(methods_of(v)) do
          if not names[tname .. ":" .. k] and not names[tname .. "." .. k] then
            missing[#missing + 1] = tname .. ":" .. k .. " (docs/" .. m .. ".md)"
          end
        end
        if how.done then how.done(v) end
      end
    end
    table.sort(missing)
    assert.same({}, missing)
  end)

  it("has no entry for something that does not exist", function()
    local known, stale = types(), {}
    for m, page in pairs(pages) do
      local mod = require(m == "ebb" and "ebb" or "ebb." .. m)
      local made = {}
      for _, e in ipairs(page.entries) do
        local prefix, sep, k = e.name:match("^([%w_]+)([%.:]?)([%w_]*)$")
        local ok
        local deeper = e.name:match("^" .. m .. "%.([%w_]+%.[%w_]+)$")
        if deeper then -- a function of a callable table of the module
          ok = type(reference.field(mod, deeper)) == "function"
        elseif sep == "" then -- the module itself, called
          local mt = getmetatable(mod)
          ok = prefix == m and type(mt) == "table" and rawget(mt, "__call") ~= nil
        elseif prefix == m then
          ok = rawget(mod, k) ~= nil or (m == "ebb" and EBB_LAZY[k]) or false
        elseif known[m] and known[m][prefix] then
          local how = known[m][prefix]
          made[prefix] = made[prefix] or how.make()
          -- a field may be nil (an AbortSignal's reason): only a method is checked
          ok = sep == "." or methods_of(made[prefix])[k] ~= nil
        end
        if not ok then stale[#stale + 1] = e.name .. " (docs/" .. m .. ".md)" end
      end
      for tname, v in pairs(made) do
        if known[m][tname].done then known[m][tname].done(v) end
      end
    end
    table.sort(stale)
    assert.same({}, stale)
  end)
end)
