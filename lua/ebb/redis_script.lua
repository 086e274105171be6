-- ebb.redis_script: a server-side Lua script run by its SHA1 (EVALSHA), loaded
-- with SCRIPT LOAD the first time and again when the server lost it (NOSCRIPT:
-- a restart, SCRIPT FLUSH).
local check = require "ebb.check"
local errors = require "ebb.errors"
local client = require "ebb.redis_client"

local type, error, pcall, setmetatable, tostring, format, unpack = type, error, pcall, setmetatable, tostring,
  string.format, unpack

local M = {}
local Script = {}
Script.__index = Script

local function check_script(s, fname) check.self(s, Script, fname, "redis script", 2) end

function M.new(source)
  if type(source) ~= "string" then check.expected(source, 1, "script", "string") end
  return setmetatable({ source = source, sha = nil }, Script)
end

-- keys or args: a list of strings and finite numbers (a bad one is named here, not
-- as an argument of the EVALSHA command it would go into).
local function words(list, n, fname, what)
  if list == nil then return {} end
  if type(list) ~= "table" then check.badarg(n, fname, format("%s: table expected, got %s", what, type(list)), 2) end
  for i = 1, #list do
    local v = list[i]
    if type(v) ~= "string" and not (type(v) == "number" and v == v and v ~= 1 / 0 and v ~= -1 / 0) then
      check.badarg(n, fname, format("%s[%d] must be a string or a finite number, got %s", what, i,
        type(v) == "number" and tostring(v) or type(v)), 2)
    end
  end
  return list
end

local function evalsha(self, c, keys, args, signal)
  local cmd = { "EVALSHA", self.sha, #keys }
  for i = 1, #keys do cmd[#cmd + 1] = keys[i] end
  for i = 1, #args do cmd[#cmd + 1] = args[i] end
  if signal then cmd[#cmd + 1] = signal end
  return c:command(unpack(cmd, 1, #cmd))
end

-- run(client, keys, args [, signal]) -> the script's reply.
function Script:run(c, keys, args, signal)
  check_script(self, "run")
  if type(c) ~= "table" or type(c.command) ~= "function" then
    check.expected(c, 1, "run", "redis client or pool")
  end
  keys, args = words(keys, 2, "run", "keys"), words(args, 3, "run", "args")
  check.opt_signal(signal, 4, "run")
  for attempt = 1, 2 do
    if not self.sha then
      if signal then self.sha = c:command("SCRIPT", "LOAD", self.source, signal)
      else self.sha = c:command("SCRIPT", "LOAD", self.source) end
    end
    local ok, r = pcall(evalsha, self, c, keys, args, signal)
    if ok then return r end
    if attempt == 2 or not (errors.is(r, client.ReplyError) and r.code == "NOSCRIPT") then error(r, 0) end
    self.sha = nil
  end
end

function Script:__tostring()
  check_script(self, "__tostring")
  return format("RedisScript (%s)", self.sha or "not loaded")
end

return M
