-- The examples that run until a signal stops them: each runs as a child, is
-- sent its signals as the lines it prints come (never after a pause), and must
-- print examples/expected/<name>.txt, exit 0 and write nothing on stderr.
package.path = "spec/support/?.lua;" .. package.path
local process = require "ebb.process"
local stream = require "ebb.stream"
local fs = require "ebb.fs"
local run = require "run_ebb"

-- Runs examples/<name>.lua with args; steps[line] is called when the child
-- prints that line. Returns what it printed, its stderr and its exit code.
local function drive(name, args, steps)
  local argv = { "examples/" .. name .. ".lua" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local p = process.spawn(run.BIN, argv)
  local out = {}
  for line in stream.lines(p.stdout) do
    out[#out + 1] = line .. "\n"
    if steps[line] then steps[line](p) end
  end
  local err = p.stderr:read() or ""
  local code = p:wait()
  p:close()
  return table.concat(out), err, code
end

local function expect(name, out, err, code)
  assert.equal("", err)
  assert.equal(0, code)
  assert.equal(run.read_file("examples/expected/" .. name .. ".txt"), out)
end

describe("examples driven by signals", function()
  it("heartbeat.lua beats until Ctrl-C, then says so", function()
    expect("heartbeat", drive("heartbeat", {}, {
      ["beat 2"] = function(p) p:kill("SIGINT") end,
    }))
  end)

  it("config_reload.lua reloads its settings on SIGHUP, keeps them when the file is broken", function()
    local path = os.tmpname()
    fs.write_file(path, '{"greeting": "hello"}')
    expect("config_reload", drive("config_reload", { path }, {
      ["loaded: greeting = hello"] = function(p)
        fs.write_file(path, '{"greeting": "bonjour"}')
        p:kill("SIGHUP")
      end,
      ["reloaded: greeting = bonjour"] = function(p)
        fs.write_file(path, "{")
        p:kill("SIGHUP")
      end,
      ["reload failed, the settings stay: JSONDecodeError: unexpected end of the text at line 1, column 2 (byte 2)"] =
        function(p) p:kill("SIGTERM") end,
    }))
    os.remove(path)
  end)
end)
