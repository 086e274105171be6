-- A service that reloads its settings from a JSON file on SIGHUP, as daemons do; a file
-- that does not parse keeps the settings it had. Ctrl-C or SIGTERM ends it cleanly.
-- driven by spec/examples_driven_spec.lua (usage: ebb config_reload.lua settings.json)
local ebb = require "ebb"
local fs = require "ebb.fs"
local json = require "ebb.json"
local signal = require "ebb.signal"
local task = require "ebb.task"
io.stdout:setvbuf("line")

local path = assert(arg[1], "usage: config_reload.lua settings.json")
local function load() return json.decode(fs.read_file(path)) end

local settings = load()
local off = signal.on("SIGHUP", function() -- in a task of its own: it may read the file
  local ok, fresh = pcall(load)
  if ok then
    settings = fresh
    print("reloaded: greeting = " .. settings.greeting)
  else
    print("reload failed, the settings stay: " .. tostring(fresh))
  end
end)
print("loaded: greeting = " .. settings.greeting)

-- serve until SIGINT or SIGTERM (a listener alone would not keep the process alive)
pcall(task.sleep, 1e12, ebb.shutdown)
off()
print("bye, greeting = " .. settings.greeting)
