-- Drives ebb's REPL through a pseudo-terminal: a tmux server of its own per
-- session, keys sent with send-keys, the screen read with capture-pane. Waits
-- poll the screen against a real-time limit (no fixed sleeps).
local run = require "run_ebb"
local task = require "ebb.task"

local M = {}
local count = 0

local function sh(cmd)
  local out = run.sh(cmd)
  return out
end

local Session = {}
Session.__index = Session

-- start([args]): ebb started in a 120x40 terminal with a scratch HOME; when it
-- exits the screen shows "[exited N]".
function M.start(args)
  count = count + 1
  local home = sh("mktemp -d"):gsub("\n$", "")
  local s = setmetatable({ home = home, sock = ("ebbspec%d_%d"):format(os.time() % 100000, count) }, Session)
  s.sock = s.sock .. "_" .. tostring(s):match("0x(%x+)")
  local env = { "HOME=" .. run.quote(home), "TERM=xterm" }
  for _, k in ipairs { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS" } do
    local v = os.getenv(k)
    if v then env[#env + 1] = k .. "=" .. run.quote(v) end
  end
  local cmd = ("env %s %s %s; echo \"[exited $?]\"; sleep 30"):format(table.concat(env, " "),
    run.quote(run.BIN), args or "")
  sh(("tmux -L %s new-session -d -x 120 -y 40 %s"):format(s.sock, run.quote(cmd)))
  return s
end

function Session:screen()
  return sh(("tmux -L %s capture-pane -p"):format(self.sock))
end

-- The screen once `needle` (plain text) is on it; fails with the screen after ms.
function Session:wait_for(needle, ms, pattern)
  ms = ms or 3000
  local clock = require "ebb.clock"
  local deadline = clock.now() + ms
  while true do
    local screen = self:screen()
    if screen:find(needle, 1, not pattern) then return screen end
    if clock.now() > deadline then
      error(("%q did not appear on the screen within %d ms; the screen:\n%s"):format(needle, ms, screen), 2)
    end
    task.sleep(10)
  end
end

-- The screen once the Lua pattern matches it.
function Session:wait_match(pattern, ms) return self:wait_for(pattern, ms, true) end

-- Types text as it is (no key names).
function Session:type(text)
  sh(("tmux -L %s send-keys -l %s"):format(self.sock, run.quote(text)))
end

-- Sends keys by name: "Enter", "Tab", "C-c", "C-d".
function Session:keys(...)
  local list = {}
  for i = 1, select("#", ...) do list[i] = run.quote((select(i, ...))) end
  sh(("tmux -L %s send-keys %s"):format(self.sock, table.concat(list, " ")))
end

-- A line typed and entered.
function Session:line(text)
  self:type(text)
  self:keys("Enter")
end

-- Ctrl-D at the prompt: the exit status ebb ended with (under the sanitizers,
-- a leak or an error report makes it nonzero) and the screen.
function Session:exit()
  self:keys("C-e", "C-u", "C-d")
  local screen = self:wait_for("[exited ")
  return tonumber(screen:match("%[exited (%d+)%]")), screen
end

function Session:close()
  sh(("tmux -L %s kill-server 2>/dev/null"):format(self.sock))
  os.execute("rm -rf " .. run.quote(self.home))
end

return M
