-- Requires one module (the first argument) and prints what require gave:
-- "ok <type of the value>" or "error <first line of the message>".
local name = ...
local ok, v = pcall(require, name)
if ok then
  print("ok " .. type(v))
else
  print("error " .. (tostring(v):gsub("\n.*", "")))
end
