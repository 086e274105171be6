-- ebb.http's client: http.fetch and its responses (see ebb.http).
local M = {}
return M
