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

return M
