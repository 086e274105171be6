-- Certificates for the TLS specs, made at run time with the openssl command
-- into a temporary directory (EC keys: a few milliseconds each): a test
-- authority, a leaf it signed for localhost and 127.0.0.1, the same leaf
-- expired, a self-signed certificate, and a key that matches none of them.
local process = require "ebb.process"
local fs = require "ebb.fs"

local M = {}

local function openssl(args)
  local r = process.run("openssl", args)
  assert(r.code == 0, "openssl " .. table.concat(args, " ") .. ": " .. r.stderr)
end

local function new_key(path, csr, subject)
  openssl({ "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", path,
    "-out", csr, "-subj", subject })
end

local function sign(dir, csr, out, days, serial)
  openssl({ "x509", "-req", "-in", csr, "-CA", dir .. "/ca.pem", "-CAkey", dir .. "/ca.key", "-out", out,
    "-days", tostring(days), "-set_serial", tostring(serial), "-extfile", dir .. "/ext" })
end

-- The files (ca, ca_key, leaf, leaf_key, expired, self, self_key, other_key: paths;
-- dir) and a function that removes them.
function M.make()
  local dir = os.tmpname()
  os.remove(dir)
  fs.mkdir(dir)
  local f = {
    dir = dir, ca = dir .. "/ca.pem", ca_key = dir .. "/ca.key", leaf = dir .. "/leaf.pem",
    leaf_key = dir .. "/leaf.key", expired = dir .. "/expired.pem", self = dir .. "/self.pem",
    self_key = dir .. "/self.key", other_key = dir .. "/other.key",
  }
  openssl({ "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
    f.ca_key, "-out", f.ca, "-days", "2", "-subj", "/CN=ebb test CA" })
  fs.write_file(dir .. "/ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
  new_key(f.leaf_key, dir .. "/leaf.csr", "/CN=localhost")
  sign(dir, dir .. "/leaf.csr", f.leaf, 2, 1)
  sign(dir, dir .. "/leaf.csr", f.expired, -1, 2)
  openssl({ "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
    f.self_key, "-out", f.self, "-days", "2", "-subj", "/CN=localhost", "-addext",
    "subjectAltName=DNS:localhost,IP:127.0.0.1" })
  new_key(f.other_key, dir .. "/other.csr", "/CN=other")
  local function remove()
    for _, name in ipairs(fs.readdir(dir)) do os.remove(dir .. "/" .. name) end
    fs.rmdir(dir)
  end
  return f, remove
end

return M
