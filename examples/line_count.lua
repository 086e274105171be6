-- Count the lines a child process prints: `seq 1 100000`'s stdout piped through a transform that
-- splits chunks into lines (a line may straddle two chunks), then the exit code from p:wait().
local process = require "ebb.process"
local stream = require "ebb.stream"

-- chunks -> lines: keeps the unfinished tail of each chunk for the next one.
local split_lines = stream.transform(function(yield, chunks)
  local rest = ""
  for chunk in chunks do
    local buf, start = rest .. chunk, 1
    for line, next_start in buf:gmatch("([^\n]*)\n()") do
      yield(line)
      start = next_start
    end
    rest = buf:sub(start)
  end
  if rest ~= "" then yield(rest) end -- a last line without "\n"
end)

-- A sink that counts (and sums) the lines it gets.
local function counter()
  local c = { lines = 0, sum = 0, last = nil }
  c.sink = stream.writable(function(line)
    c.lines = c.lines + 1
    c.sum = c.sum + (tonumber(line) or 0)
    c.last = line
  end)
  return c
end

-- Runs cmd, counts its stdout's lines, and waits for it: the lines, the exit code, the chunks.
local function count_lines(cmd, args)
  local p = process.spawn(cmd, args, { stdin = "ignore", stderr = "inherit" })
  local chunks, split = 0, 0
  local function watch(chunk) -- a step that only looks: how the pipe cut the output
    chunks = chunks + 1
    if chunk:sub(-1) ~= "\n" then split = split + 1 end
    return chunk
  end
  local c = counter()
  stream.pipeline(p.stdout, watch, split_lines, c.sink)
  local code, sig = p:wait()
  p:close()
  return c, code, sig, chunks, split
end

local c, code, sig, chunks, split = count_lines("seq", { 1, 100000 })
print(("seq 1 100000: %d lines, sum %d, last %q; exit code %s"):format(c.lines, c.sum, c.last, code or sig))
print(("  read in %s chunks, %s of them ending mid-line"):format(chunks > 1 and "several" or "one",
  split > 0 and "some" or "none"))

-- A failing command whose last line has no newline.
c, code = count_lines("sh", { "-c", "printf 'alpha\\nbeta\\ngamma'; exit 3" })
print(("sh -c ...: %d lines, last %q; exit code %s"):format(c.lines, c.last, code))
