-- ebb.redis_resp: RESP2, the Redis wire format: commands encoded as arrays of
-- bulk strings, replies decoded into Lua values. No I/O here.
local type, tostring, error, format, find, sub, byte, tonumber, floor =
  type, tostring, error, string.format, string.find, string.sub, string.byte, tonumber, math.floor
local concat = table.concat

local resp = {}

local MAX_EXACT = 2 ^ 53

-- The text of one argument, or nil when it is neither a string nor a number.
local function arg_text(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then
    if v == floor(v) and v > -MAX_EXACT and v < MAX_EXACT then return format("%d", v) end
    if v ~= v or v == 1 / 0 or v == -1 / 0 then return nil end
    return format("%.17g", v)
  end
end

-- encode(list, first, last, fname, argpos) -> the command's bytes. A bad argument
-- raises naming its position as the caller counts it (argpos is the caller's #
-- of list[first]).
function resp.encode(list, first, last, fname, argpos, level)
  local out, n = { format("*%d\r\n", last - first + 1) }, 1
  for i = first, last do
    local s = arg_text(list[i])
    if not s then
      local v = list[i]
      local why = type(v) == "number" and "finite number" or "string or number"
      error(format("bad argument #%d to '%s' (%s expected, got %s)", argpos + i - first, fname, why,
        type(v) == "number" and tostring(v) or type(v)), (level or 1) + 1)
    end
    out[n + 1], out[n + 2], out[n + 3], n = "$", #s .. "\r\n", s, n + 4
    out[n] = "\r\n"
  end
  return concat(out)
end

-- decode(buf, pos, limit, make_error) -> value, next position; or nil, NEED where
-- NEED is how many bytes the buffer must at least hold to get further (the reply
-- is not whole yet); or nil, false, why when the bytes are not RESP or the reply
-- is larger than limit. An error reply becomes make_error(its text).
local NIL = {} -- a nil reply, told apart from "not whole yet" inside arrays

local decode

decode = function(buf, pos, limit, make_error)
  local e = find(buf, "\r\n", pos, true)
  if not e then return nil, #buf + 1 end
  local kind, text = byte(buf, pos), sub(buf, pos + 1, e - 1)
  local nextpos = e + 2
  if kind == 36 then -- $ bulk string
    local len = tonumber(text)
    if not len or len < -1 or len ~= floor(len) then return nil, false, "bad bulk length " .. text end
    if len == -1 then return NIL, nextpos end
    if len > limit then return nil, false, format("a bulk reply of %d bytes is larger than max_reply (%d)", len, limit) end
    local stop = nextpos + len
    if #buf < stop + 1 then return nil, stop + 1 end
    return sub(buf, nextpos, stop - 1), stop + 2
  elseif kind == 43 then -- + status
    return text, nextpos
  elseif kind == 58 then -- : integer: a number while exact, else its digits
    local n = tonumber(text)
    if not n then return nil, false, "bad integer " .. text end
    if n >= MAX_EXACT or n <= -MAX_EXACT then return text, nextpos end
    return n, nextpos
  elseif kind == 45 then -- - error
    return make_error(text), nextpos
  elseif kind == 42 then -- * array
    local count = tonumber(text)
    if not count or count < -1 or count ~= floor(count) then return nil, false, "bad array length " .. text end
    if count == -1 then return NIL, nextpos end
    if count > limit then return nil, false, format("an array reply of %d items is larger than max_reply (%d)", count, limit) end
    local list = { n = count }
    local p = nextpos
    for i = 1, count do
      local v, np, why = decode(buf, p, limit, make_error)
      if v == nil then return nil, np, why end
      if v ~= NIL then list[i] = v end
      p = np
    end
    return list, p
  end
  return nil, false, format("unexpected reply type byte %q", sub(buf, pos, pos))
end


-- decode(buf, pos, limit, make_error) -> true, value, next (a nil reply is nil); or
-- false, NEED; or false, false, why.
function resp.decode(buf, pos, limit, make_error)
  local v, np, why = decode(buf, pos, limit, make_error)
  if v == nil then return false, np, why end
  if v == NIL then v = nil end
  return true, v, np
end

return resp
