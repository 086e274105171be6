-- ebb.reference: the pages of docs/ (compiled in as ebb.docs), read into
-- modules and entries. A module's page is titled "# ebb.<name>" ("# ebb" for
-- the top-level table); each entry is a "## <name>(<args>) [→ <returns>]"
-- heading (no parens for a field), whose name is module.function,
-- module.table.function (a field of a callable table: retry.budget.redis),
-- Type:method or Type.field.
local M = {}

local function lines_of(text)
  local out = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do out[#out + 1] = line end
  return out
end

-- The paragraph that starts at or after line i (blank lines skipped): its
-- lines up to a blank line, a heading or a code fence.
local function paragraph(lines, i)
  while lines[i] and lines[i]:match("^%s*$") do i = i + 1 end
  local out = {}
  while lines[i] and not lines[i]:match("^%s*$") and not lines[i]:match("^#") and not lines[i]:match("^```") do
    out[#out + 1] = lines[i]
    i = i + 1
  end
  return table.concat(out, "\n")
end

-- A page's text → { module =, title =, summary =, entries = { { name =, heading =, text =, args = }, ... } },
-- text being an entry's first paragraph, args its **Arguments** (or **Options**) list if it has one;
-- module being nil for a page that is not a module's. (The pages of M.modules() have
-- a `file`, "docs/task.md", and so have their entries.)
function M.parse(text)
  local lines = lines_of(text)
  local page = { entries = {} }
  local fenced, entry = false, nil
  for i, line in ipairs(lines) do
    if line:match("^```") then fenced = not fenced end
    if not fenced then
      local title = line:match("^# (.-)%s*$")
      if title and not page.title then
        page.title = title
        page.module = title == "ebb" and "ebb" or title:match("^ebb%.([%w_]+)$")
        page.summary = paragraph(lines, i + 1)
      end
      local heading = line:match("^## (.-)%s*$")
      local name, after = (heading or ""):match("^([%a_][%w_]*[%.:]?[%a_]?[%w_]*)(.?)")
      local deeper = after == "." and heading:match("^[%w_]+%.[%w_]+%.[%a_][%w_]*%f[^%w_]", 1)
      if deeper then name, after = deeper, heading:sub(#deeper + 1, #deeper + 1) end
      if heading then entry = nil end
      if name and (name:find("[%.:]") or after == "(") then
        entry = { name = name, heading = heading, text = paragraph(lines, i + 1) }
        page.entries[#page.entries + 1] = entry
      elseif entry and not entry.args and (line:match("^%*%*Arguments%*%*") or line:match("^%*%*Options%*%*")) then
        entry.args = paragraph(lines, i)
      end
    end
  end
  return page
end

-- A page read up to its first entry, the rest when its entries are first
-- asked for: the REPL needs only the titles to start.
local Lazy = {
  __index = function(page, k)
    if k ~= "entries" then return nil end
    local entries = M.parse(page.text).entries
    for _, e in ipairs(entries) do e.file = page.file end
    rawset(page, "entries", entries)
    return entries
  end,
}

local function page_of(text)
  local head_end = text:find("\n## ", 1, true)
  local page = M.parse(head_end and text:sub(1, head_end) or text)
  page.entries, page.text = nil, text
  return setmetatable(page, Lazy)
end

local cache
-- The module pages, in the order the index (docs/README.md) lists them, then
-- any it does not list, by name: { { module =, ... }, ... } and by module name.
function M.modules()
  if cache then return cache.list, cache.by_name end
  local pages = require "ebb.docs"
  local order, seen = {}, {}
  for file in (pages.README or ""):gmatch("%]%(([%w_%-]+)%.md%)") do
    if pages[file] and not seen[file] then order[#order + 1], seen[file] = file, true end
  end
  local rest = {}
  for file in pairs(pages) do if not seen[file] then rest[#rest + 1] = file end end
  table.sort(rest)
  for _, file in ipairs(rest) do order[#order + 1] = file end
  local list, by_name = {}, {}
  for _, file in ipairs(order) do
    local page = page_of(pages[file])
    if page.module then
      page.file = "docs/" .. file .. ".md"
      list[#list + 1], by_name[page.module] = page, page
    end
  end
  cache = { list = list, by_name = by_name }
  return list, by_name
end

-- What an entry's name after "module." reaches in the module's table mod:
-- "sleep" is mod.sleep, "budget.redis" mod.budget.redis (read with rawget).
function M.field(mod, path)
  local v = mod
  for k in path:gmatch("[^%.]+") do
    if type(v) ~= "table" then return nil end
    v = rawget(v, k)
  end
  return v
end

-- The entries of the module pages that match(entry, page) accepts.
function M.entries(match)
  local out = {}
  for _, page in ipairs((M.modules())) do
    for _, e in ipairs(page.entries) do
      if match(e, page) then out[#out + 1] = e end
    end
  end
  return out
end

return M
