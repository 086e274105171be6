-- ebb.repl_help: help(x) in the REPL, a line or two on each module of ebb
-- and its functions (API.md has the whole contract).
local M = {}

local MODULES = {
  { "task", "tasks on the loop: spawn, await, cancel, sleep, all/race/any, group, timeout, future" },
  { "abort", "AbortController and AbortSignal: controller, aborted, timeout, any" },
  { "errors", "errors with cause chains: new, wrap, is, chain, class; Error, AbortError, TimeoutError, ..." },
  { "clock", "time, real or virtual: now, freeze, auto, advance, real" },
  { "retry", "retry(fn [, opts]) with backoff and jitter; backoff, budget, seed" },
  { "semaphore", "weighted permits, strict FIFO: new(permits); acquire, release, try_acquire, with, close" },
  { "queue", "a concurrency limiter: new(n); run, push, idle, pause, resume, clear" },
  { "channel", "a bounded channel: new(capacity); send, recv, close, iter" },
  { "context", "async-local values: new, snapshot, bind" },
  { "scope", "resources disposed on any exit: run(fn), stack()" },
  { "gen", "generators whose bodies may wait: new, paginate" },
  { "stream", "readable/writable streams and pipeline" },
  { "fs", "files: read_file, write_file, reader, writer, stat, readdir, mkdir, ..." },
  { "net", "TCP: connect, listen" },
  { "process", "child processes: spawn" },
}

local FUNCS = {
  ["task.spawn"] = "task.spawn(fn, ...) → Task: runs fn on the next turn of the scheduler",
  ["task.sleep"] = "task.sleep(ms [, signal]): waits ms milliseconds",
  ["task.yield"] = "task.yield(): lets the other tasks and I/O run",
  ["task.delay"] = "task.delay(ms, fn, ...) → Task started after ms",
  ["task.all"] = "task.all(list) → each one's first result; the first failure cancels the rest",
  ["task.race"] = "task.race(list) → the first to end's results; the losers are cancelled",
  ["task.any"] = "task.any(list) → the first success's results (all fail: AggregateError)",
  ["task.all_settled"] = "task.all_settled(list) → { {ok=, value=|error=} ... }",
  ["task.group"] = "task.group(fn): fn(g) spawns with g:spawn; the first failure cancels the rest",
  ["task.timeout"] = "task.timeout(ms, fn, ...) → fn's results, or TimeoutError and fn cancelled",
  ["task.future"] = "task.future() → f: f:resolve(...), f:reject(err), f:await([{timeout=, signal=}])",
  ["task.current"] = "task.current() → the running Task",
  ["semaphore.new"] = "semaphore.new(permits) → sem: acquire([n] [, signal]), release([n]), with(fn, ...)",
  ["queue.new"] = "queue.new(concurrency) → q: run(fn [, opts]), push(fn [, opts]), idle()",
  ["channel.new"] = "channel.new(capacity) → ch: send(v), recv(), close(), iter()",
  ["abort.controller"] = "abort.controller() → ctl: ctl.signal, ctl:abort([reason])",
  ["abort.timeout"] = "abort.timeout(ms) → a signal that aborts with a TimeoutError after ms",
  ["abort.any"] = "abort.any(signals) → a signal aborted by the first of them",
  ["errors.new"] = "errors.new(message [, {cause=, name=}]) → Error",
  ["errors.wrap"] = "errors.wrap(e, message) → Error caused by e",
  ["errors.chain"] = "errors.chain(e) → the messages from e down its causes",
  ["clock.now"] = "clock.now() → milliseconds, monotonic",
}

local function out(s) print(s) end

-- help(x): x is nothing, a module, a function of one, or a name ("task.sleep").
function M.help(x, ebb)
  if x == nil then
    out("ebb " .. tostring(ebb.version) .. ": Lua on an event loop. Every module is a global here:")
    for _, m in ipairs(MODULES) do out(("  %-10s %s"):format(m[1], m[2])) end
    out("help(task), help(task.sleep): more. Tab completes; Ctrl-C cancels a running input;")
    out("Ctrl-D (or Ctrl-C twice at an empty prompt) exits. `local` at the prompt persists.")
    return
  end
  if type(x) == "string" then
    if FUNCS[x] then return out(FUNCS[x]) end
    local mod = ebb[x]
    if type(mod) == "table" then x = mod else return out("no help for " .. x) end
  end
  for _, m in ipairs(MODULES) do
    local mod = rawget(ebb, m[1]) or package.loaded["ebb." .. m[1]]
    if mod == x then
      out(m[1] .. ": " .. m[2])
      local names = {}
      for k, v in pairs(mod) do
        if type(k) == "string" and k:sub(1, 1) ~= "_" and type(v) == "function" then names[#names + 1] = k end
      end
      table.sort(names)
      for _, k in ipairs(names) do out("  " .. (FUNCS[m[1] .. "." .. k] or (m[1] .. "." .. k .. "(...)"))) end
      return
    end
    if type(mod) == "table" then
      for k, v in pairs(mod) do
        if v == x and type(k) == "string" then
          return out(FUNCS[m[1] .. "." .. k] or (m[1] .. "." .. k .. ": see API.md, section ebb." .. m[1]))
        end
      end
    end
  end
  out("no help for this " .. type(x))
end

M.MODULES = MODULES
return M
