-- ebb: the aggregate. Each module loads on first use (ebb.task, ebb.retry, ...).
local ebb = { version = require("ebb.core").version }

local private_shutdown = require("ebb.core").shutdown_signal

return setmetatable(ebb, {
  __index = function(t, k)
    if k == "shutdown" then
      local s = private_shutdown()
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
