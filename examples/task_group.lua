-- task.group: three workers run together; when one fails at 300 ms the others
-- are cancelled (their cleanup runs) and the group raises the failure.
local task = require "ebb.task"
local clock = require "ebb.clock"
local errors = require "ebb.errors"

clock.auto()
local t0 = clock.now()
local function log(fmt, ...) print(("[%4.0f ms] " .. fmt):format(clock.now() - t0, ...)) end

local function worker(name, steps, fail_step) -- each step takes 100 ms
  log("%s: started", name)
  local ok, err = pcall(function()
    for i = 1, steps do
      task.sleep(100)
      if i == fail_step then
        local cause = errors.new("connection reset by peer", { name = "NetworkError" })
        error(errors.wrap(cause, name .. " could not fetch page " .. i))
      end
    end
  end)
  if ok then
    log("%s: done", name)
  else
    log("%s: cleanup (%s)", name, tostring(err):match("^[^\n]*"))
    error(err, 0)
  end
end

local ok, err = pcall(task.group, function(g)
  g:spawn(worker, "alpha", 10)
  g:spawn(worker, "beta", 10, 3) -- fails at step 3, i.e. at 300 ms
  g:spawn(worker, "gamma", 10)
end)

log("group ok: %s", tostring(ok))
print("raised:")
print(tostring(err))
print("chain: " .. table.concat(errors.chain(err), " <- "))
