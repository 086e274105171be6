-- ebb.http's server: http.listen, requests and responses (see ebb.http).
local M = {}
return M
