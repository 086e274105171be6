-- The examples of a docs/ page: each ```lua block, the line it starts on, and
-- what it prints as its `-->` comments say (docs/README.md, "Examples").
local M = {}

-- The text a line says the block prints: what follows `--> ` at the end of the
-- line (a line of code) or the whole line (a line that is only the comment); one
-- space after `-->` is dropped, any other whitespace is part of the text.
local function expected_line(line)
  local text = line:match("^%s*%-%-> ?(.*)$") or line:match("%s%-%-> ?(.*)$")
  return text
end

-- Every ```lua block of `markdown`: { line = n, code = s, expected = s, fragment = true
-- or nil, spec = the spec file's name its first line gives, or nil }.
function M.blocks(markdown)
  local list, current, n = {}, nil, 0
  for line in (markdown .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    if current then
      if line:match("^```%s*$") then
        current.code = table.concat(current.lines, "\n") .. "\n"
        current.expected = table.concat(current.out, "")
        current.lines, current.out = nil, nil
        list[#list + 1], current = current, nil
      else
        if #current.lines == 0 then
          current.fragment = line:match("^%-%- fragment") and true or nil
          current.spec = line:match("^%-%- (spec/[%w_/]+_spec%.lua)%s*$")
        end
        current.lines[#current.lines + 1] = line
        local text = expected_line(line)
        if text then current.out[#current.out + 1] = text .. "\n" end
      end
    elseif line:match("^```lua%s*$") then
      current = { line = n + 1, lines = {}, out = {} }
    end
  end
  return list
end

return M
