-- Nothing stalls: timers keep firing while sockets are busy, however the
-- scheduler and libuv interleave. These run real time on purpose: the defects
-- they guard against live between the clock and the poll.
package.path = "spec/support/?.lua;" .. package.path
local run = require "run_ebb"
local task, net = require "ebb.task", require "ebb.net"

describe("timers never stall", function()
  it("fire when due while a handle keeps the loop polling (2000 short sleeps)", function()
    -- each sleep is due by the time the loop would block; a stall waits forever
    local server = net.listen("127.0.0.1", 0, function() end)
    for _ = 1, 2000 do task.sleep(0.002) end
    server:close()
  end)

  it("survive the timeout-heavy client: 20 rounds of 80 requests in one process", function()
    local out, err, status = run.sh("timeout -k 1 30 " .. run.quote(run.BIN)
      .. " spec/fixtures/stall/timer_stall.lua 20")
    assert.are.equal("", err)
    assert.are.equal(0, status)
    assert.truthy(out:find("round 20: 4 timeouts", 1, true))
  end)
end)
