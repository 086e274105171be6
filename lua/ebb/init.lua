-- ebb: the aggregate. Each module loads on first use (ebb.task, ebb.retry, ...).
local ebb = { version = require("ebb.core").version }


local STDIO = { stdin = 0, stdout = 1, stderr = 2 }

-- ebb.stdin, ebb.stdout, ebb.stderr: streams with backpressure. A terminal,
-- pipe or socket gets a file description of its own, so its blocking mode is
-- not changed for the processes that share it; a file is read and written
-- through libuv's file requests.
local function stdio(name)
  local fd = STDIO[name]
  local h, code, msg = require("ebb.iostream.core").stdio(fd)
  if h then
    return require("ebb.iostream").wrap(h, { name = name, readable = fd == 0, writable = fd ~= 0 })
  end
  if code then error(require("ebb.check").system_error(code, msg, "open", name), 0) end
  return require("ebb.fs")._stdio(fd)
end

-- What __index makes on first read besides the modules (the REPL completes them).
local LAZY = { "shutdown" }
for k in pairs(STDIO) do LAZY[#LAZY + 1] = k end
table.sort(LAZY)

return setmetatable(ebb, {
  __fields = LAZY,
  __index = function(t, k)
    if k == "shutdown" then
      local s = require("ebb.host").shutdown
      rawset(t, k, s)
      return s
    end
    if STDIO[k] then
      local s = stdio(k)
      rawset(t, k, s)
      return s
    end
    if type(k) ~= "string" then return nil end
    local ok, m = pcall(require, "ebb." .. k)
    if not ok then
      if tostring(m):find("module 'ebb." .. k .. "' not found", 1, true) then return nil end
      error(m, 2)
    end
    rawset(t, k, m)
    return m
  end,
})
