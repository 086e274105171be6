-- Shared by the specs that run the ebb binary (cli_spec, examples_spec): quoting,
-- reading files and running shell commands with their stdout, stderr and exit status.
local M = {}

M.BIN = os.getenv("EBB_BIN") or "./build/ebb"

function M.quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- Runs a shell command: its stdout, stderr and exit status.
function M.sh(cmd)
  local errf = os.tmpname()
  local p = assert(io.popen("(" .. cmd .. "\n) 2>" .. M.quote(errf) .. "; echo \"~status:$?\""))
  local out = p:read("*a")
  p:close()
  local status
  out = out:gsub("~status:(%d+)\n$", function(n)
    status = tonumber(n)
    return ""
  end)
  local err = M.read_file(errf) or ""
  os.remove(errf)
  return out, err, status
end

-- Every run of the binary is bounded by `timeout`, so a hang fails (status 124)
-- instead of blocking.
function M.ebb_cmd(args) return "timeout -k 1 4 " .. M.quote(M.BIN) .. " " .. args end
function M.ebb(args) return M.sh(M.ebb_cmd(args)) end

-- Starts the binary in the background (its standard input from `feed`, a
-- shell command, when given), waits until the script has written its ready
-- file, sends the signals (kill -INT...) 0.1 s apart, and returns what it
-- printed followed by "status=N".
function M.with_signals(args, ready, signals, feed)
  local kills = {}
  for i, s in ipairs(signals) do
    kills[i] = (i > 1 and "sleep 0.1; " or "") .. "kill -" .. s .. " $pid"
  end
  return M.sh(table.concat({
    -- not under `timeout`: the signals must reach ebb itself; the scripts' own
    -- sleeps (3 s) bound the run instead
    (feed and feed .. " | " or "") .. M.quote(M.BIN) .. " " .. args .. " & pid=$!",
    "i=0; while [ ! -e " .. M.quote(ready) .. " ] && [ $i -lt 150 ]; do sleep 0.02; i=$((i+1)); done",
    table.concat(kills, "; "),
    "wait $pid; echo \"status=$?\"",
  }, "\n"))
end

return M
