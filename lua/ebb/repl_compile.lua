-- ebb.repl_compile: turns a REPL input into a function. An expression is tried
-- first ("return " .. input), so its values print. Top-level `local`
-- declarations become assignments, and the names they declare are returned:
-- the REPL keeps them in the session's table of locals, so `local x = 1` then
-- `x` works in a later input (closures read them from there, not as upvalues).
local M = {}

local loadstring = loadstring

-- Blocks that `end` (or `until`) closes; `while`/`for` open theirs at `do`.
local OPENS = { ["function"] = true, ["do"] = true, ["if"] = true, ["repeat"] = true }
local CLOSES = { ["end"] = true, ["until"] = true }

-- The tokens of src that matter here: names and keywords, and single
-- characters (strings, numbers and comments are skipped). Each is
-- { text, start, stop }. Bad input just ends the list: load reports it.
local function tokens(src)
  local list, i, n = {}, 1, #src
  while i <= n do
    local c = src:sub(i, i)
    if c:match("%s") then
      i = i + 1
    elseif src:match("^%-%-", i) then
      local eq = src:match("^%-%-%[(=*)%[", i)
      if eq then
        local _, e = src:find("]" .. eq .. "]", i, true)
        i = (e or n) + 1
      else
        local e = src:find("\n", i, true)
        i = (e or n) + 1
      end
    elseif c == "[" and src:match("^%[=*%[", i) then
      local eq = src:match("^%[(=*)%[", i)
      local _, e = src:find("]" .. eq .. "]", i, true)
      i = (e or n) + 1
    elseif c == '"' or c == "'" then
      local j = i + 1
      while j <= n do
        local d = src:sub(j, j)
        if d == "\\" then j = j + 1
        elseif d == c or d == "\n" then break end
        j = j + 1
      end
      i = j + 1
    elseif c:match("[%a_]") then
      local s, e = src:find("^[%w_]+", i)
      list[#list + 1] = { src:sub(s, e), s, e }
      i = e + 1
    elseif c:match("%d") or (c == "." and src:match("^%.%d", i)) then
      local _, e = src:find("^[%w_%.]+", i)
      while src:match("^[eEpP][%+%-]", e) do _, e = src:find("^[%w_%.%+%-]+", e + 1) end
      i = e + 1
    else
      list[#list + 1] = { c, i, i }
      i = i + 1
    end
  end
  return list
end

-- src with its top-level `local`s made assignments, and the names declared.
function M.rewrite(src)
  local toks, depth, edits, names = tokens(src), 0, {}, {}
  local k = 1
  while k <= #toks do
    local t = toks[k][1]
    if OPENS[t] then
      depth = depth + 1
    elseif CLOSES[t] then
      depth = depth - 1
    elseif t == "local" and depth == 0 then
      local nxt = toks[k + 1]
      if nxt and nxt[1] == "function" then
        local name = toks[k + 2]
        if name and name[1]:match("^[%a_][%w_]*$") then names[#names + 1] = name[1] end
        edits[#edits + 1] = { toks[k][2], toks[k][3], "" }
      else
        -- local a, b [= ...]: names separated by commas
        local j, last = k + 1, nil
        while toks[j] and toks[j][1]:match("^[%a_][%w_]*$") do
          names[#names + 1] = toks[j][1]
          last = toks[j]
          if not (toks[j + 1] and toks[j + 1][1] == ",") then break end
          j = j + 2
        end
        if last then
          edits[#edits + 1] = { toks[k][2], toks[k][3], "" }
          local after = toks[j + 1]
          if not (after and after[1] == "=") then
            edits[#edits + 1] = { last[3] + 1, last[3], " = nil" }
          end
          k = j
        end
      end
    end
    k = k + 1
  end
  if #edits == 0 then return src, names end
  local out, pos = {}, 1
  for _, e in ipairs(edits) do
    out[#out + 1] = src:sub(pos, e[1] - 1)
    out[#out + 1] = e[3]
    pos = e[2] + 1
  end
  out[#out + 1] = src:sub(pos)
  return table.concat(out), names
end

-- compile(src, chunkname) → fn, declared names; or nil, message, incomplete
-- (true when more input could complete it: the error is at the end).
function M.compile(src, chunkname)
  local fn, experr = loadstring("return " .. src, chunkname)
  if fn then return fn, {} end
  local code, names = M.rewrite(src)
  local err
  fn, err = loadstring(code, chunkname)
  if fn then return fn, names end
  local at_end = "near '<eof>'$"
  return nil, err, err:find(at_end) ~= nil or experr:find(at_end) ~= nil
end

return M
