-- Specs for the REPL (`ebb` on a terminal, `ebb -i`), driven
-- through a pseudo-terminal (tmux) and checked on the screen.
package.path = "spec/support/?.lua;" .. package.path
local tmux = require "tmux"
local run = require "run_ebb"
local task = require "ebb.task"

local has_tmux = os.execute("command -v tmux >/dev/null 2>&1") == 0

local function last_line(screen)
  local last = ""
  for line in screen:gmatch("[^\n]*") do
    if line:match("%S") then last = line end
  end
  return last
end

describe("the REPL", function()
  local s
  before_each(function()
    assert.is_true(has_tmux, "tmux is needed (make deps)")
    s = tmux.start()
    s:wait_for(">")
  end)
  -- every session ends with Ctrl-D, and cleanly (no leak, no sanitizer report)
  after_each(function()
    local session = s
    s = nil
    if not session then return end
    local ok, status, screen = true, 0, ""
    if not session.exited then ok, status, screen = pcall(session.exit, session) end
    session:close()
    assert(ok, status)
    assert.equal(0, status, screen)
  end)

  it("awaits a wait typed at the prompt", function()
    s:line('task.sleep(200) print("woke up")')
    s:wait_for("woke up\n>")
  end)

  it("keeps locals and globals between inputs", function()
    s:line("local x = 41")
    s:line("local function sq(n) return n * n end")
    s:line("g = 2")
    s:line("x + 1, sq(3), g")
    s:wait_match("\n42%s+9%s+2\n")
  end)

  it("prints values: several, strings quoted, nested tables cut, cycles marked, errors with causes", function()
    s:line('1, "two", {a = {b = {c = {d = 1}}}}')
    s:wait_match('\n1%s+"two"%s+{ a = { b = { c = {%.%.%.} } } }\n')
    s:line("t = {1, 2} t.self = t")
    s:line("t")
    s:wait_for("{ 1, 2, self = <cycle> }")
    s:line('errors.wrap(errors.new("disk full"), "save failed")')
    s:wait_for("Error: save failed\ncaused by: Error: disk full")
    s:line('error(errors.wrap("boom", "outer"))')
    s:wait_for("Error: outer\ncaused by: boom")
    s:line("semaphore.new(3).available")
    s:wait_for("\n3\n")
  end)

  it("continues an incomplete input, and survives a syntax error", function()
    s:line("function seven()")
    s:wait_for("...")
    s:line("return 7")
    s:line("end")
    s:line("seven() * 2")
    s:wait_for("\n14\n")
    s:line("x y")
    s:wait_for("syntax error: stdin:1:")
    s:line("1 + 1")
    s:wait_for("\n2\n")
  end)

  it("completes globals, module fields and methods with Tab", function()
    s:type("task.sl")
    s:keys("Tab")
    s:wait_for("> task.sleep")
    s:keys("C-u")
    s:line("sem = semaphore.new(1)")
    s:type("sem:ac")
    s:keys("Tab")
    s:wait_for("> sem:acquire")
    s:keys("C-u")
    s:type("ebb.shut") -- a field the ebb table makes on first read
    s:keys("Tab")
    s:wait_for("> ebb.shutdown")
    s:keys("C-u")
    s:type("ebb.stdi")
    s:keys("Tab")
    s:wait_for("> ebb.stdin")
  end)

  it("shows what is typed while an input runs at the next prompt, once", function()
    s:line("task.sleep(300)")
    s:type("1 + 5")
    s:keys("Enter")
    local screen = s:wait_for("\n6\n")
    assert.truthy(screen:find("> task.sleep(300)\n> 1 + 5\n6\n", 1, true), screen)
  end)

  it("cancels the running input on Ctrl-C: its cleanup runs and the prompt comes back", function()
    s:line('local ok, e = pcall(task.sleep, 60000) print("cleanup ran") error(e, 0)')
    task.sleep(100)
    s:keys("C-c")
    s:wait_for("cleanup ran")
    s:wait_for("interrupted\n>")
    s:line("20 + 1")
    s:wait_for("\n21\n")
  end)

  it("interrupts an input that never waits on Ctrl-C and keeps the session", function()
    s:line('print("busy") local n = 0 while true do n = n + 1 end')
    s:wait_for("\nbusy\n")
    s:keys("C-c")
    s:wait_for("interrupted\n>")
    s:line("n > 0")
    s:wait_for("\ntrue\n")
  end)

  it("prints what a background task writes above the line being typed", function()
    s:line('task.delay(300, print, "tick")')
    s:type("local typed = 5")
    local screen = s:wait_for("\ntick\n")
    assert.equal("> local typed = 5", last_line(screen))
    s:keys("Enter")
    s:line("typed * 2")
    s:wait_for("\n10\n")
  end)

  it("keeps a typed line that wraps intact when output comes above it", function()
    s:line('task.delay(300, function() print("o" .. "ne") print("t" .. "wo") end)')
    local long = 'local wide = "' .. ("w"):rep(150) .. '"'
    s:type(long)
    local screen = s:wait_for("\ntwo\n")
    assert.truthy(screen:find("one\ntwo\n> " .. long:sub(1, 118) .. "\n" .. long:sub(119), 1, true), screen)
    s:keys("Enter")
    s:line("#wide")
    s:wait_for("\n150\n")
  end)

  it("says how to exit on Ctrl-C at an empty prompt, and exits on the second", function()
    s:keys("C-c")
    s:wait_for("To exit, press Ctrl+C again or Ctrl+D")
    s:keys("C-c")
    s:wait_for("[exited 0]")
    s.exited = true
  end)

  it("exits on Ctrl-D and keeps the history in a file only the user can read", function()
    s:line("1 + 2")
    s:wait_for("\n3\n")
    s:keys("C-d")
    s:wait_for("[exited 0]")
    s.exited = true
    local mode = run.sh("stat -c %a " .. run.quote(s.home .. "/.ebb_history"))
    assert.equal("600\n", mode)
    local saved = run.read_file(s.home .. "/.ebb_history"):gsub("\\040", " ")
    assert.truthy(saved:find("1 + 2", 1, true), saved)
  end)

  it("recalls earlier inputs with the up arrow", function()
    s:line("40 + 2")
    s:wait_for("\n42\n")
    s:keys("Up")
    s:wait_for("> 40 + 2\n42\n> 40 + 2")
  end)

  it("has help()", function()
    s:line("help()")
    s:wait_for("help(task), help(task.sleep)") -- the overview's last lines, after every module
  end)
end)

describe("ebb -i", function()
  it("runs the script, then opens the REPL in the same state", function()
    local dir = run.sh("mktemp -d"):gsub("\n$", "")
    local path = dir .. "/s.lua"
    local f = assert(io.open(path, "w"))
    f:write("answer = 6 * 7\n")
    f:close()
    local s = tmux.start("-i " .. run.quote(path))
    finally(function()
      s:close()
      os.execute("rm -rf " .. run.quote(dir))
    end)
    s:wait_for(">")
    s:line("answer")
    s:wait_for("\n42\n")
  end)
end)

describe("ebb -i with standard input not a terminal", function()
  it("reads inputs line by line, with no prompt and no editing", function()
    local out, err, status = run.sh("printf 'local x = 2\\nx * 21\\nfunction f()\\nreturn 5\\nend\\nf()\\nx y\\ntask.sleep(10) print(\"ok\")' | "
      .. run.ebb_cmd("-i"))
    assert.equal(0, status)
    assert.equal("42\n5\nok\n", out)
    assert.matches("syntax error: stdin:1:", err)
  end)

  it("reads a file, and ends at once on an empty one", function()
    local out, _, status = run.sh(run.ebb_cmd("-i") .. " < /dev/null")
    assert.equal(0, status)
    assert.equal("", out)
  end)

  it("answers help() from the reference in docs/: modules, entries, functions and methods", function()
    local input = table.concat({
      "help()", "help(task)", "help(task.sleep)", 'help("abort.timeout")', "local t = task.spawn(function() end)",
      "help(t.await)", "help(semaphore.new(1).acquire)", "help(retry)", "help(nothing_here)", "help(t)",
      "help(task.future())", "help(stream.readable(print))", "help(errors.TimeoutError())",
      'help(errors.class("MyError")("m"))', "help(stream.transform(print))", "help(retry.budget.redis)",
      "help(retry.budget)", 'help("retry.budget.redis")',
    }, "\n")
    local out, _, status = run.sh("printf '%s\\n' " .. run.quote(input) .. " | " .. run.ebb_cmd("-i"))
    assert.equal(0, status)
    assert.matches("\n  semaphore +Weighted permits", out)
    assert.matches("\nebb%.task: Tasks on the loop", out)
    assert.matches("\n  task%.sleep%(ms %[, signal%]%)\n", out)
    assert.matches("\ntask%.sleep%(ms %[, signal%]%)\nWaits `ms` milliseconds", out)
    assert.matches("\nArguments\n%- `ms` %(number%): from 0 to 1e12%.", out) -- an entry's arguments follow
    assert.matches("\nabort%.timeout%(ms%) → AbortSignal\nReturns a signal that aborts", out)
    assert.matches("\nTask:await%(%) → %.%.%.\nWaits for the task to end", out)
    assert.matches("\nSemaphore:acquire%(%[n%] %[, signal%]%)\nTakes `n` permits", out)
    assert.matches("\nebb%.retry: Calling a function again", out)
    assert.matches("\nretry%(fn %[, opts%]%) → %.%.%.\nCalls `fn%(attempt%)`.-\n%- `delay%(attempt, err%)`", out)
    assert.matches("\n%(the whole entry: docs/task%.md%)\n", out)
    assert.matches("\n%(help%(\"name\"%) for one of them; the whole page: docs/retry%.md%)\n", out)
    assert.matches("\nno help for nil %(a misspelt name%?%); help%(%) lists the modules\n", out)
    assert.matches("\nThe methods and fields of Task %(docs/task%.md%):\n  Task:await%(%)", out)
    -- objects made in Lua are known by the type their tostring names
    assert.matches("\nThe methods and fields of Future %(docs/task%.md%):\n  Future:resolve", out)
    assert.matches("\nThe methods and fields of Readable %(docs/stream%.md%):\n  Readable:read", out)
    -- an error shows its class's entry; one of a class of the script's own, Error's
    assert.matches("\nerrors%.TimeoutError\nWhat a time limit raises", out)
    assert.matches("\nerrors%.Error\nThe root class", out)
    -- an object with no methods of its own shows what makes it
    assert.matches("\nstream%.transform%(body%) → Transform\nA pipeline step", out)
    -- a function of a callable table of a module, by value and by name
    local fleet = "\nretry%.budget%.redis%(opts%) → RedisBudget\nThe budget of `retry%.budget` shared"
    assert.equal(2, select(2, out:gsub(fleet, "")), out)
    assert.matches("\nretry%.budget%(%[opts%]%) → Budget\nMakes a token bucket", out)
    for line in out:gmatch("[^\n]+") do
      assert.is_true(#line <= 92, "a line of help wider than the terminal: " .. line)
    end
    assert.no.matches("API%.md", out)
    assert.no.matches("%(%.%.%.%)\n", out)
  end)

  it("answers help() for a method with its own type's entry alone, and nothing made up for a plain table", function()
    local input = table.concat({
      "s = http.listen('127.0.0.1', 0, function(req, res) R, W = req, res; res:finish('x') end)",
      "http.fetch('http://127.0.0.1:' .. s.port):text()",
      "help(W.json)", "help(W.write)", "help(R.text)", "help(s.close)", "help(W.headers)", "help({})",
      "s:close()",
    }, "\n")
    local out, _, status = run.sh("printf '%s\\n' " .. run.quote(input) .. " | " .. run.ebb_cmd("-i"))
    assert.equal(0, status)
    local headings = {}
    for heading in out:gmatch("\n([%w_.:]+%([^\n]*%)[^\n]*)\n") do headings[#headings + 1] = heading end
    assert.same({ "ResponseWriter:json(value [, status])", "ResponseWriter:write(chunk [, signal])",
      "Request:text([signal]) → string", "HTTPServer:close([opts])" }, headings)
    assert.equal(2, select(2, out:gsub("no help for this table", "")), out)
  end)
end)
