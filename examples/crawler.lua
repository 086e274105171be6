-- A crawler over a little "site" of local files whose lines "link: path" point at other files,
-- with at most 3 fetches at a time (ebb.queue, like p-limit); a broken link is noted, not fatal.
local fs = require "ebb.fs"
local queue = require "ebb.queue"
local scope = require "ebb.scope"

local LIMIT = 3

-- The site: each page and the pages it links to ("orphan" is linked from nowhere).
local SITE = {
  ["index.txt"] = { "about.txt", "blog/index.txt", "docs/index.txt", "contact.txt" },
  ["about.txt"] = { "contact.txt" },
  ["contact.txt"] = {},
  ["blog/index.txt"] = { "blog/post1.txt", "blog/post2.txt", "blog/post3.txt", "index.txt" },
  ["blog/post1.txt"] = { "blog/post2.txt", "docs/api.txt" },
  ["blog/post2.txt"] = { "blog/missing.txt" },
  ["blog/post3.txt"] = { "blog/index.txt" },
  ["docs/index.txt"] = { "docs/api.txt", "docs/guide.txt", "docs/faq.txt" },
  ["docs/api.txt"] = {},
  ["docs/guide.txt"] = { "docs/api.txt", "index.txt" },
  ["docs/faq.txt"] = { "contact.txt", "docs/old.txt" },
  ["orphan.txt"] = { "index.txt" },
}

local function remove_tree(path)
  if fs.lstat(path).type == "directory" then
    for _, name in ipairs(fs.readdir(path)) do remove_tree(path .. "/" .. name) end
    fs.rmdir(path)
  else
    fs.unlink(path)
  end
end

scope.run(function(s)
  local root = os.tmpname()
  fs.unlink(root)
  fs.mkdir(root)
  s:defer(function() remove_tree(root) end)
  for page, links in pairs(SITE) do
    local lines = { "title: " .. page }
    for _, l in ipairs(links) do lines[#lines + 1] = "link: " .. l end
    local dir = page:match("^(.*)/")
    if dir then fs.mkdir(root .. "/" .. dir, { recursive = true }) end
    fs.write_file(root .. "/" .. page, table.concat(lines, "\n") .. "\n")
  end

  local q = queue.new(LIMIT)
  local seen, visited, broken = {}, {}, {}
  local links_found, duplicates = 0, 0
  local running, most = 0, 0

  local crawl

  -- Queues a fetch at once (q.pending counts it); it runs when one of the LIMIT slots is free.
  local function visit(page, from)
    seen[page] = true
    q:push(function()
      running = running + 1
      if running > most then most = running end
      crawl(page, from)
      running = running - 1
    end)
  end

  function crawl(page, from)
    local ok, body = pcall(fs.read_file, root .. "/" .. page) -- waits: other fetches run meanwhile
    if not ok then -- a broken link: note it and go on (the error is a SystemError with a code)
      broken[#broken + 1] = ("%s -> %s (%s)"):format(from, page, body.code)
      return
    end
    visited[#visited + 1] = page
    for link in body:gmatch("link: ([^\n]+)") do
      links_found = links_found + 1
      if seen[link] then duplicates = duplicates + 1 else visit(link, page) end
    end
  end

  visit("index.txt", "(start)")
  q:idle() -- every page fetched, and every page those linked to...

  table.sort(visited)
  table.sort(broken)
  print(("visited %d pages, %d links seen, %d already known, at most %d fetches at once (limit %d)"):format(
    #visited, links_found, duplicates, most, LIMIT))
  for _, page in ipairs(visited) do print("  " .. page) end
  print(("broken links: %d"):format(#broken))
  for _, b in ipairs(broken) do print("  " .. b) end
  local unvisited = {}
  for page in pairs(SITE) do
    if not seen[page] then unvisited[#unvisited + 1] = page end
  end
  table.sort(unvisited)
  print("not reachable from index.txt: " .. table.concat(unvisited, ", "))
end)
