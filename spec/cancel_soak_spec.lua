-- Soak: tasks cancelled and signals aborted at random moments (waiting, just
-- handed something, running) never lose a permit or a value, and a wait whose
-- signal aborted before its task ran never succeeds. Seeded, so a failure repeats.
package.path = "spec/support/?.lua;" .. package.path
local task = require "ebb.task"
local abort = require "ebb.abort"
local semaphore = require "ebb.semaphore"
local channel = require "ebb.channel"

-- A small seeded generator: r(n) -> 1..n (from the high bits: the low ones of
-- this LCG repeat with a short period).
local function random(seed)
  local x = seed
  return function(n)
    x = (x * 1103515245 + 12345) % 2147483648
    return math.floor(x / 65536) % n + 1
  end
end

-- Tasks that abort the parties' current signals (and now and then cancel a
-- party) at random, yielding in between. They run among the parties, so they
-- also strike between a party being handed something and its running.
local function disturb(r, parties, ctls, steps)
  local chaos = {}
  for k = 1, 3 do
    chaos[k] = task.spawn(function()
      for _ = 1, steps do
        local i, what = r(#parties), r(20)
        if what == 1 then parties[i]:cancel("cancelled")
        elseif what <= 9 then ctls[i]:abort("aborted")
        else task.yield() end
      end
    end)
  end
  task.all(chaos)
end

local function settle(parties)
  for i = 1, #parties do pcall(parties[i].await, parties[i]) end
end

-- Party i's signal for its next wait: a fresh one, or none.
local function next_signal(r, ctls, i)
  ctls[i] = abort.controller()
  return r(2) == 1 and ctls[i].signal or nil
end

describe("random cancellation", function()
  it("gives every permit of a semaphore back, and no aborted acquire succeeds", function()
    local r = random(7)
    local late = 0 -- acquires that succeeded though their signal had aborted
    for _ = 1, 100 do
      local sem = semaphore.new(3)
      local parties, ctls = {}, {}
      for i = 1, 10 do
        ctls[i] = abort.controller()
        parties[i] = task.spawn(function()
          for _ = 1, 30 do
            local n, signal = r(3), next_signal(r, ctls, i)
            if pcall(sem.acquire, sem, n, signal) then
              if signal and signal.aborted then late = late + 1 end
              local ok = pcall(task.yield) -- holding them across a wait
              sem:release(n)
              if not ok then return end
            elseif not (signal and signal.aborted) then
              return -- cancelled
            end
          end
        end)
      end
      disturb(r, parties, ctls, 100)
      settle(parties)
      assert.equal(3, sem.available)
      assert.equal(0, sem.waiting)
    end
    assert.equal(0, late)
  end)

  it("delivers every value sent on a channel exactly once, and no aborted recv gets one", function()
    local r = random(11)
    local late = 0
    for _ = 1, 100 do
      local ch = channel.new(r(3) - 1)
      local got = {}
      local parties, ctls = {}, {}
      for i = 1, 10 do
        ctls[i] = abort.controller()
        parties[i] = task.spawn(function()
          while true do
            local signal = next_signal(r, ctls, i)
            local ok, v = pcall(ch.recv, ch, signal)
            if ok and v == nil then return end -- closed
            if ok then
              if signal and signal.aborted then late = late + 1 end
              got[#got + 1] = v
            elseif not (signal and signal.aborted) then
              return -- cancelled
            end
          end
        end)
      end
      local producer = task.spawn(function() for v = 1, 50 do ch:send(v) end end)
      disturb(r, parties, ctls, 100)
      local drainer = task.spawn(function() for v in ch:iter() do got[#got + 1] = v end end)
      producer:await()
      ch:close()
      drainer:await()
      settle(parties)
      table.sort(got)
      assert.equal(50, #got)
      for v = 1, 50 do assert.equal(v, got[v]) end
    end
    assert.equal(0, late)
  end)
end)
