-- fs.watch: a directory's changes, one at a time in a task's for loop, until an abort
-- signal stops it; the directory is a temporary one that its scope removes at the end.
local fs = require "ebb.fs"
local path = require "ebb.path"
local scope = require "ebb.scope"
local task = require "ebb.task"
local abort = require "ebb.abort"

local removed_dir

scope.run(function(s)
  local dir = s:use(fs.temp_dir("watched-")).path
  removed_dir = dir

  -- Ctrl-C (ebb.shutdown) stops the watcher too; here a file named "stop" does.
  local stop = abort.controller()
  local signal = abort.any({ require("ebb").shutdown, stop.signal })
  -- made before the changes: every change from now on is kept until it is read
  local changes = fs.watch(dir, { signal = signal })

  local watcher = task.spawn(function()
    local ok, reason = pcall(function()
      for change in changes do
        print(("%-6s %s"):format(change.kind, change.name))
        if change.name == "stop" then stop:abort("a stop file appeared") end
      end
    end)
    print("watcher stopped: " .. tostring(reason), "closed: " .. tostring(changes.closed))
  end)

  local function at(name) return path.join(dir, name) end
  fs.write_file(at("app.conf"), "port=80\n")     -- made, then written
  fs.mkdir(at("logs"))
  fs.write_file(at("logs/today.log"), "started\n") -- inside logs: not this directory's change
  fs.rename(at("app.conf"), at("app.conf.bak"))  -- a rename tells both names
  fs.write_file(at("app.conf"), "port=8080\n")
  fs.unlink(at("app.conf.bak"))
  fs.write_file(at("stop"), "")
  watcher:await()
end)

print("temporary directory removed: " .. tostring(not pcall(fs.stat, removed_dir)))
