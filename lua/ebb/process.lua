-- ebb.process: child processes. Their standard streams are ebb streams
-- (pipes with backpressure); wait() gives the exit code and signal; a
-- cancelled wait, an aborted signal, or the cancellation of the task that
-- spawned the child kills it.
local core = require "ebb.process.core"
local iostream = require "ebb.iostream"
local task = require "ebb.task"
local check = require "ebb.check"
local check_abort = require("ebb.core").check_abort

local type, error, setmetatable, tostring, pairs, ipairs = type, error, setmetatable, tostring, pairs, ipairs
local sort, concat = table.sort, table.concat

local process = {}

-- at the caller of spawn or run: from check_args, level 2; from its helpers, 3
local badarg = check.badarg

local function has_nul(s) return s:find("\0", 1, true) ~= nil end

-- {NAME = value} -> {"NAME=value", ...} in a stable order
local function env_list(fname, env)
  local out = {}
  for k, v in pairs(env) do
    if type(k) ~= "string" or (type(v) ~= "string" and type(v) ~= "number") then
      badarg(3, fname, "option 'env' must map names to strings", 3)
    end
    local entry = k .. "=" .. v
    if has_nul(entry) or k == "" or k:find("=", 1, true) then
      badarg(3, fname, ("option 'env': bad entry %q (a NUL byte, or '=' in the name)"):format(k), 3)
    end
    out[#out + 1] = entry
  end
  sort(out)
  return out
end

local kind = check.kind
local MODE = kind.one_of("pipe", "inherit", "ignore")
local SPAWN = {
  env = kind.table, stdin = MODE, stdout = MODE, stderr = MODE, signal = kind.signal, group = kind.boolean,
  high_water_mark = kind.whole(1, 2 ^ 30),
  cwd = kind.cstring,
  kill_signal = function(v)
    if not core.signal_number(v) then return " must be a signal name or number, got " .. tostring(v) end
  end,
}
local RUN = { input = kind.string }
for k, v in pairs(SPAWN) do RUN[k] = v end

-- Everything spawn needs, checked: opts, then the argument strings, the
-- environment list (or nil) and the three modes.
local function check_args(fname, cmd, args, opts, valid)
  if type(cmd) ~= "string" then check.expected(cmd, 1, fname, "command string", 2) end
  if cmd == "" then check.badarg(1, fname, "command must not be empty", 2) end
  check.cstring(cmd, 1, fname, "command", 2)
  if args ~= nil and type(args) ~= "table" then check.expected(args, 2, fname, "table of arguments", 2) end
  local list = {}
  for i, a in ipairs(args or {}) do
    if type(a) ~= "string" and type(a) ~= "number" then
      badarg(2, fname, ("argument %d must be a string, got %s"):format(i, type(a)), 2)
    end
    list[i] = check.cstring(tostring(a), 2, fname, "argument " .. i, 2)
  end
  opts = check.options(opts, 3, fname, valid, 2)
  return opts, list, opts.env and env_list(fname, opts.env) or nil,
    opts.stdin or "pipe", opts.stdout or "pipe", opts.stderr or "pipe"
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
-- (what killing sends, default "SIGTERM"), high_water_mark for the pipes,
-- group (the child leads a process group of its own, and every kill, the
-- ones on cancellation included, signals the whole group: its children too).
local function spawn(cmd, opts, list, env, stdin, stdout, stderr)
  check.raise_if_aborted(check_abort(opts.signal)) -- an abort that came before starts nothing
  local h, i, o, e = core.spawn(cmd, list, env, opts.cwd, stdin, stdout, stderr, opts.group)
  if not h then error(check.system_error(i, o, "spawn", cmd, { path = cmd }), 0) end
  local name = "spawn " .. cmd
  local p = setmetatable({
    _h = h, pid = core.pid(h), command = cmd, kill_signal = opts.kill_signal or "SIGTERM",
    stdin = pipe(i, name, false, opts.high_water_mark),
    stdout = pipe(o, name, true, opts.high_water_mark),
    stderr = pipe(e, name, true, opts.high_water_mark),
  }, Process)
  -- listened to (in C) only while the child runs
  local sig = core.signal_number(p.kill_signal)
  if opts.signal then core.kill_on_abort(h, opts.signal, sig) end
  local owner = task.current()
  if owner then core.kill_on_abort(h, owner.signal, sig) end
  return p
end

function process.spawn(cmd, args, opts)
  return spawn(cmd, check_args("spawn", cmd, args, opts, SPAWN))
end

-- wait([signal]) -> exit code, signal name: (code, nil) when it exited,
-- (nil, "SIGTERM") when a signal ended it.
-- A wait that is aborted or cancelled kills the child first.
function Process:wait(signal)
  check.self(self, Process, "wait", "process")
  check.opt_signal(signal, 1, "wait")
  local ok, reason = core.wait(self._h, signal)
  if ok == false then
    self:kill()
    error(reason, 0)
  end
  local _, code, sig = core.status(self._h)
  return code, sig
end

-- kill([signal "SIGTERM"]) -> true if sent, false when the child has exited
-- (with group: when no process of its group is left).
function Process:kill(sig)
  check.self(self, Process, "kill", "process")
  local num = core.signal_number(sig or self.kill_signal)
  if not num then
    check.badarg(1, "kill", 'signal name ("SIGTERM", "SIGKILL", ...) or number expected, got ' .. tostring(sig))
  end
  local ok, code, msg = core.kill(self._h, num)
  if ok == nil then error(check.system_error(code, msg, "kill", self.pid), 0) end
  return ok
end

-- exited, code, signal name: where the child is now, without waiting.
function Process:status()
  check.self(self, Process, "status", "process")
  return core.status(self._h)
end

-- Closes the pipes and kills the child if it still runs (a scope disposes of
-- a process this way).
function Process:close()
  check.self(self, Process, "close", "process")
  self:kill()
  -- not ipairs: a stream that is not a pipe is a hole in the list
  if self.stdin then self.stdin:close() end
  if self.stdout then self.stdout:close() end
  if self.stderr then self.stderr:close() end
end
Process.__close = Process.close

function Process:__tostring()
  check.self(self, Process, "__tostring", "process")
  local exited, code, sig = core.status(self._h)
  local state = exited and ("exited " .. (sig or tostring(code))) or "running"
  return ("Process (%s, pid %d, %s)"):format(self.command, self.pid, state)
end

-- run(cmd, args [, opts]) -> {code=, signal=, stdout=, stderr=}: the child
-- with its output collected (stdin gets opts.input, if any).
function process.run(cmd, args, opts)
  local list, env, stdin, stdout, stderr
  opts, list, env, stdin, stdout, stderr = check_args("run", cmd, args, opts, RUN)
  if opts.input ~= nil and stdin ~= "pipe" then -- the input would go nowhere
    badarg(3, "run", ("options 'input' and 'stdin' conflict: input needs stdin \"pipe\", got \"%s\""):format(stdin))
  end
  local p = spawn(cmd, opts, list, env, stdin, stdout, stderr)
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
    for k = 1, #readers do readers[k]:cancel(why) end
    p:close()
    task.shield(function() -- reaped, and the readers ended, before we return, even when cancelled
      p:wait()
      task.all_settled(readers)
    end)
    error(why, 0)
  end
  local code, sig = p:wait()
  p:close()
  return { code = code, signal = sig, stdout = concat(out), stderr = concat(err) }
end

return process
