-- public_modules() -> the modules a script uses, sorted, read from the sources:
-- every file of lua/ebb/ but ebb itself (init), the host's own parts and the REPL's.
return function()
  local internal = dofile("fuzz/surface.lua").INTERNAL
  local list = {}
  for file in io.popen("ls lua/ebb"):lines() do
    local m = file:match("^([%w_]+)%.lua$")
    if m and m ~= "init" and not internal[m] and not m:match("^repl") then list[#list + 1] = m end
  end
  table.sort(list)
  return list
end
