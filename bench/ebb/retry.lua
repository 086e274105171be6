-- retry: 100,000 concurrent calls, each failing twice before it succeeds,
-- retried with zero delay (an Error made per failure, as in JavaScript).
local task = require "ebb.task"
local retry = require "ebb.retry"
local errors = require "ebb.errors"

local N = 100000
local attempts = 0
local opts = { retries = 3, base = 0, jitter = "none" }

local function call()
  local failures = 0
  return retry(function()
    attempts = attempts + 1
    if failures < 2 then
      failures = failures + 1
      error(errors.new("transient"))
    end
    return 1
  end, opts)
end

local list = {}
for i = 1, N do list[i] = call end
local ok = 0
for _, v in ipairs(task.all(list)) do ok = ok + v end
print("retry " .. ok .. " " .. attempts)
