-- ebb.http: an HTTP client (libcurl, driven by the loop) and an HTTP/1.1 server
-- (Debian's http-parser), for the patterns' outside world.
local http = {}
for k, v in pairs(require "ebb.http_client") do http[k] = v end
for k, v in pairs(require "ebb.http_server") do http[k] = v end
return http
