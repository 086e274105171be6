-- fs.walk and fs.glob: the entries under a directory, depth first, names in
-- byte order; and the removal of a whole tree (a temporary directory's).
local check = require "ebb.check"
local check_abort = require("ebb.core").check_abort

local sort, concat, sub, byte = table.sort, table.concat, string.sub, string.byte

local tree = {}

-- Set by ebb.fs: its functions, and the readdir that gives types too.
local fs, readdir_typed

function tree.init(fs_module, typed)
  fs, readdir_typed = fs_module, typed
end

-- A directory's entries, sorted: names and their types.
local function list(dir, signal)
  local names, types = readdir_typed(dir, signal)
  local type_of = {}
  for i = 1, #names do type_of[names[i]] = types[i] end
  sort(names)
  for i = 1, #names do types[i] = type_of[names[i]] end
  return names, types
end

local function join(dir, name)
  return byte(dir, -1) == 47 and dir .. name or dir .. "/" .. name
end

-- walker(root, opts, descend) -> iterator of entries. descend(entry, names)
-- (optional) says whether to list a directory; names: the names from the
-- root to the entry.
function tree.walker(root, opts, descend)
  local signal, follow, max_depth = opts.signal, opts.follow_symlinks, opts.max_depth or math.huge
  local levels, names, depth = {}, {}, 0
  local seen = {} -- the directories on the way down, when following links: "dev:ino"
  local function enter(dir, key)
    local n, t = list(dir, signal)
    depth = depth + 1
    levels[depth] = { dir = dir, names = n, types = t, i = 0, key = key }
    if key then seen[key] = true end
  end
  local function identity(p)
    local st = fs.stat(p, signal)
    return st.dev .. ":" .. st.ino
  end
  enter(root, follow and identity(root) or nil)
  return function()
    while depth > 0 do
      check.raise_if_aborted(check_abort(signal))
      local level = levels[depth]
      local i = level.i + 1
      level.i = i
      local name = level.names[i]
      if name == nil then
        if level.key then seen[level.key] = nil end
        levels[depth], names[depth] = nil, nil
        depth = depth - 1
      else
        local p, kind = join(level.dir, name), level.types[i]
        if kind == "unknown" then kind = fs.lstat(p, signal).type end
        local key
        if kind == "link" and follow then
          local ok, st = pcall(fs.stat, p, signal)
          if ok then kind = st.type end -- a broken link stays a link
          if ok and kind == "directory" then key = st.dev .. ":" .. st.ino end
        elseif kind == "directory" and follow then
          key = identity(p)
        end
        names[depth] = name
        local entry = { path = p, name = name, type = kind, depth = depth }
        if kind == "directory" and depth < max_depth and not (key and seen[key])
          and (not descend or descend(entry, names)) then
          enter(p, key)
        end
        return entry
      end
    end
  end
end

-- ---- removal ----

-- Removes path and everything under it, not following links; a missing path is
-- no error.
function tree.remove(p, signal)
  local ok, st = pcall(fs.lstat, p, signal)
  if not ok then
    if type(st) == "table" and st.code == "ENOENT" then return end
    error(st, 0)
  end
  if st.type ~= "directory" then return fs.unlink(p, signal) end
  local all = {}
  for entry in tree.walker(p, { signal = signal }) do all[#all + 1] = entry end
  for i = #all, 1, -1 do -- the contents of a directory before it
    local entry = all[i]
    if entry.type == "directory" then fs.rmdir(entry.path, signal) else fs.unlink(entry.path, signal) end
  end
  fs.rmdir(p, signal)
end

-- ---- glob ----

local MAGIC = "[*?[]"

-- A Lua pattern for one name of a glob pattern, or raises.
local function name_pattern(seg, fname)
  local out, i, n = { "^" }, 1, #seg
  while i <= n do
    local c = sub(seg, i, i)
    if c == "*" then
      out[#out + 1] = "[^/]*"
    elseif c == "?" then
      out[#out + 1] = "[^/]"
    elseif c == "[" then
      local close = seg:find("]", i + 2, true)
      if not close then check.badarg(1, fname, "pattern has a '[' without its ']'", 3) end
      local set = sub(seg, i + 1, close - 1)
      local negate = sub(set, 1, 1) == "!" or sub(set, 1, 1) == "^"
      if negate then set = sub(set, 2) end
      set = set:gsub("[%%%]%^]", "%%%0") -- a range's "-" keeps its meaning
      out[#out + 1] = (negate and "[^" or "[") .. set .. "]"
      i = close
    else
      out[#out + 1] = c:match("%w") and c or "%" .. c
    end
    i = i + 1
  end
  out[#out + 1] = "$"
  return concat(out)
end

-- One name against one compiled segment: a wildcard never matches a leading "."
local function name_matches(name, seg)
  if seg.literal then return name == seg.literal end
  if byte(name, 1) == 46 and not seg.dot then return false end
  return name:find(seg.pattern) ~= nil
end

-- Whether names[i..k] matches segs[j..]; prefix: or could, once more names follow.
local function matches(names, i, k, segs, j, prefix)
  local seg = segs[j]
  if i > k then
    if prefix then return seg ~= nil end
    return seg == nil or (seg.globstar and matches(names, i, k, segs, j + 1, false))
  end
  if seg == nil then return false end
  if seg.globstar then
    if matches(names, i, k, segs, j + 1, prefix) then return true end
    return byte(names[i], 1) ~= 46 and matches(names, i + 1, k, segs, j, prefix)
  end
  return name_matches(names[i], seg) and matches(names, i + 1, k, segs, j + 1, prefix)
end

-- The pattern as its base directory (the names before the first wildcard)
-- and the compiled segments after it.
local function compile(pattern, fname)
  local base, segs, wild = {}, {}, false
  if byte(pattern, 1) == 47 then base[1] = "" end
  for seg in pattern:gmatch("[^/]+") do
    if not wild and not seg:find(MAGIC) then
      if seg ~= "." then base[#base + 1] = seg end
    else
      wild = true
      if seg == "**" then
        segs[#segs + 1] = { globstar = true }
      elseif seg:find(MAGIC) then
        segs[#segs + 1] = { pattern = name_pattern(seg, fname), dot = byte(seg, 1) == 46 }
      else
        segs[#segs + 1] = { literal = seg }
      end
    end
  end
  local dir = concat(base, "/")
  if base[1] == "" then dir = dir == "" and "/" or dir end
  return dir, segs
end

function tree.glob(pattern, opts, fname)
  local dir, segs = compile(pattern, fname)
  local dirs_only = byte(pattern, -1) == 47
  if #segs == 0 then -- no wildcard: the path itself, if it is there
    local ok, st = pcall(fs.stat, pattern, opts.signal)
    local found = ok and (not dirs_only or st.type == "directory")
    return function()
      if found then
        found = false
        return pattern
      end
    end
  end
  local deep = false
  for _, s in ipairs(segs) do deep = deep or s.globstar end
  local ok, st = pcall(fs.stat, dir == "" and "." or dir, opts.signal)
  if not ok or st.type ~= "directory" then return function() end end
  local walk = tree.walker(dir == "" and "." or dir, {
    signal = opts.signal,
    follow_symlinks = opts.follow_symlinks,
    max_depth = not deep and #segs or nil,
  }, function(entry, names) return matches(names, 1, entry.depth, segs, 1, true) end)
  local names = {}
  return function()
    for entry in walk do
      names[entry.depth] = entry.name
      for d = entry.depth + 1, #names do names[d] = nil end
      if matches(names, 1, entry.depth, segs, 1, false) and (not dirs_only or entry.type == "directory") then
        if dir == "" then return sub(entry.path, 3) end
        return entry.path
      end
    end
  end
end

return tree
