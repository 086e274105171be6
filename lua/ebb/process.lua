-- ebb.process: child processes. Their standard streams are ebb streams
-- (pipes with backpressure); wait() gives the exit code and signal; a
-- cancelled wait, an aborted signal, or the cancellation of the task that
-- spawned the child kills it.
local core = require "ebb.process.core"
local iostream = require "ebb.iostream"
local errors = require "ebb.errors"
local task = require "ebb.task"

local type, error, setmetatable, tostring, pairs, ipairs = type, error, setmetatable, tostring, pairs, ipairs
local sort, concat = table.sort, table.concat

local process = {}
local SystemError = errors.SystemError

local function badarg(n, msg, level) error(("bad argument #%d to 'spawn' (%s)"):format(n, msg), level or 3) end

local MODES = { pipe = true, inherit = true, ignore = true }

local function check_mode(opts, name)
  local m = opts[name]
  if m == nil then return "pipe" end
  if not MODES[m] then
    badarg(3, ("option '%s' must be \"pipe\", \"inherit\" or \"ignore\", got %s"):format(name, tostring(m)), 4)
  end
  return m
end

-- {NAME = value} -> {"NAME=value", ...} in a stable order
local function env_list(env)
  local out = {}
  for k, v in pairs(env) do
    if type(k) ~= "string" or (type(v) ~= "string" and type(v) ~= "number") then
      badarg(3, "option 'env' must map names to strings", 4)
    end
    out[#out + 1] = k .. "=" .. v
  end
  sort(out)
  return out
end

local function check_args(cmd, args, opts)
  if type(cmd) ~= "string" or cmd == "" then badarg(1, "command string expected, got " .. type(cmd)) end
  if args ~= nil and type(args) ~= "table" then badarg(2, "table of arguments expected, got " .. type(args)) end
  for i, a in ipairs(args or {}) do
    if type(a) ~= "string" and type(a) ~= "number" then
      badarg(2, ("argument %d must be a string, got %s"):format(i, type(a)))
    end
  end
  if opts ~= nil and type(opts) ~= "table" then badarg(3, "table of options expected, got " .. type(opts)) end
  opts = opts or {}
  if opts.env ~= nil and type(opts.env) ~= "table" then badarg(3, "option 'env' must be a table") end
  if opts.cwd ~= nil and type(opts.cwd) ~= "string" then badarg(3, "option 'cwd' must be a string") end
  return opts
end

local Process = {}
Process.__index = Process

local function pipe(h, name, readable, hwm)
  if not h then return nil end
  return iostream.wrap(h, { name = name, readable = readable, writable = not readable, high_water_mark = hwm })
end

-- spawn(cmd, args [, opts]) -> process with .pid and .stdin, .stdout, .stderr
-- (streams, or nil when not "pipe"). cmd is looked up in PATH. opts: env (a
-- table that replaces the environment), cwd, stdin/stdout/stderr ("pipe",
-- "inherit", "ignore"), signal (aborting it kills the child), kill_signal
-- (what killing sends, default "SIGTERM"), high_water_mark for the pipes.
function process.spawn(cmd, args, opts)
  opts = check_args(cmd, args, opts)
  local list = {}
  for i, a in ipairs(args or {}) do list[i] = tostring(a) end
  local h, i, o, e = core.spawn(cmd, list, opts.env and env_list(opts.env) or nil, opts.cwd,
    check_mode(opts, "stdin"), check_mode(opts, "stdout"), check_mode(opts, "stderr"), opts.detached)
  if not h then
    error(SystemError(("%s: %s, spawn %s"):format(i, o, cmd), { code = i, syscall = "spawn", path = cmd }), 2)
  end
  local name = "spawn " .. cmd
  local p = setmetatable({
    _h = h, pid = core.pid(h), command = cmd, kill_signal = opts.kill_signal or "SIGTERM",
    stdin = pipe(i, name, false, opts.high_water_mark),
    stdout = pipe(o, name, true, opts.high_water_mark),
    stderr = pipe(e, name, true, opts.high_water_mark),
  }, Process)
  local offs = {}
  local function kill() p:kill() end
  if opts.signal then offs[#offs + 1] = opts.signal:on_abort(kill) end
  local owner = task.current()
  if owner then offs[#offs + 1] = owner.signal:on_abort(kill) end
  p._offs = offs
  return p
end

local function forget_listeners(p)
  local offs = p._offs
  if not offs then return end
  p._offs = nil
  for k = 1, #offs do offs[k]() end
end

-- wait([signal]) -> exit code, signal name: (code, nil) when it exited,
-- (nil, "SIGTERM") when a signal ended it.
-- A wait that is aborted or cancelled kills the child first.
function Process:wait(signal)
  local ok, reason = core.wait(self._h, signal)
  if ok == false then
    self:kill()
    error(reason, 0)
  end
  forget_listeners(self)
  local _, code, sig = core.status(self._h)
  if sig then code = nil end
  return code, sig
end

-- kill([signal "SIGTERM"]) -> true if sent, false when the child has exited.
function Process:kill(sig)
  local ok, code, msg = core.kill(self._h, sig or self.kill_signal)
  if ok == nil then
    error(SystemError(("%s: %s, kill %d"):format(code, msg, self.pid), { code = code, syscall = "kill" }), 2)
  end
  return ok
end

-- exited, code, signal name: where the child is now, without waiting.
function Process:status()
  return core.status(self._h)
end

-- Closes the pipes and kills the child if it still runs (a scope disposes of
-- a process this way).
function Process:close()
  self:kill()
  forget_listeners(self)
  for _, s in ipairs({ self.stdin, self.stdout, self.stderr }) do
    if s then s:close() end
  end
end
Process.__close = Process.close

function Process:__tostring()
  local exited, code, sig = core.status(self._h)
  local state = exited and ("exited " .. (sig or tostring(code))) or "running"
  return ("Process (%s, pid %d, %s)"):format(self.command, self.pid, state)
end

-- run(cmd, args [, opts]) -> {code=, signal=, stdout=, stderr=}: the child
-- with its output collected (stdin gets opts.input, if any).
function process.run(cmd, args, opts)
  opts = check_args(cmd, args, opts)
  local p = process.spawn(cmd, args, opts)
  local out, err = {}, {}
  local function collect(s, into)
    if s then for chunk in s:chunks() do into[#into + 1] = chunk end end
  end
  local readers = { task.spawn(collect, p.stdout, out), task.spawn(collect, p.stderr, err) }
  local ok, why = pcall(function()
    if p.stdin then
      if opts.input then p.stdin:write(opts.input) end
      p.stdin:finish()
    end
    task.all(readers)
  end)
  if not ok then
    p:close()
    error(why, 0)
  end
  local code, sig = p:wait()
  p:close()
  return { code = code, signal = sig, stdout = concat(out), stderr = concat(err) }
end

return process
