-- ebb.redis_resp: RESP2, the Redis wire format, through hiredis (ebb.redis.core):
-- commands encoded as arrays of bulk strings by its formatter, replies read into
-- Lua values by its reader. No I/O here.
local core = require "ebb.redis.core"

local type, tostring, error, format, select = type, tostring, error, string.format, select
local format_args, format_list = core.format, core.format_list

local resp = {}

-- Raises for the value at the caller's argument argpos: neither a string nor a
-- finite number.
local function refuse(v, argpos, fname, level)
  local why = type(v) == "number" and "finite number" or "string or number"
  error(format("bad argument #%d to '%s' (%s expected, got %s)", argpos, fname, why,
    type(v) == "number" and tostring(v) or type(v)), level + 1)
end

-- encode(list, first, last, fname, argpos, level) -> the bytes of the command
-- list[first..last]. A bad argument raises naming its position as the caller
-- counts it (argpos is the caller's # of list[first]).
function resp.encode(list, first, last, fname, argpos, level)
  local bytes, bad = format_list(list, first, last)
  if not bytes then refuse(list[first + bad - 1], argpos + bad - 1, fname, (level or 1) + 1) end
  return bytes
end

-- encode_args(fname, argpos, level, n, ...) -> as encode, of the first n values
-- after n (no table made on the way).
function resp.encode_args(fname, argpos, level, n, ...)
  local bytes, bad = format_args(n, ...)
  if not bytes then refuse((select(bad, ...)), argpos + bad - 1, fname, level + 1) end
  return bytes
end

-- reader(max_reply, make_error) -> a reader: reader:feed(bytes, out) -> n [, why]
-- puts the replies the bytes complete in out[1..n] (a nil reply leaves a hole);
-- why says the bytes are not RESP or a reply passed max_reply (bytes of a reply,
-- items of an array). An error reply becomes make_error(its text).
resp.reader = core.reader

return resp
