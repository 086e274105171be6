package.path = "spec/support/?.lua;" .. package.path
local path = require "ebb.path"
local fs = require "ebb.fs"
local raised = require("asserts").raised

-- Each case: the function, its arguments, and what Node's path.posix returns
-- for them (node 20).
local NODE = {
  { "normalize", { "" }, "." },
  { "normalize", { "." }, "." },
  { "normalize", { "./" }, "./" },
  { "normalize", { ".." }, ".." },
  { "normalize", { "../" }, "../" },
  { "normalize", { "/" }, "/" },
  { "normalize", { "//" }, "/" },
  { "normalize", { "///" }, "/" },
  { "normalize", { "/.." }, "/" },
  { "normalize", { "/../a" }, "/a" },
  { "normalize", { "a/.." }, "." },
  { "normalize", { "a/../.." }, ".." },
  { "normalize", { "a/b/../../.." }, ".." },
  { "normalize", { "./a/./b/" }, "a/b/" },
  { "normalize", { "a//b" }, "a/b" },
  { "normalize", { "/a/b/c/../../d" }, "/a/d" },
  { "normalize", { "..//../a/" }, "../../a/" },
  { "normalize", { "a/." }, "a" },
  { "normalize", { ".bashrc" }, ".bashrc" },
  { "normalize", { "foo/bar/" }, "foo/bar/" },
  { "normalize", { "/foo/../../bar" }, "/bar" },
  { "join", {  }, "." },
  { "join", { "" }, "." },
  { "join", { "", "" }, "." },
  { "join", { "a", "b" }, "a/b" },
  { "join", { "/a", "b", "../c" }, "/a/c" },
  { "join", { "a", "", "b" }, "a/b" },
  { "join", { "a/", "/b" }, "a/b" },
  { "join", { "/", "a" }, "/a" },
  { "join", { "a", "/" }, "a/" },
  { "join", { "..", "a" }, "../a" },
  { "join", { "a", "..", ".." }, ".." },
  { "join", { "/a", "../../.." }, "/" },
  { "join", { ".", "." }, "." },
  { "join", { "a/", "b/" }, "a/b/" },
  { "join", { "", "/a" }, "/a" },
  { "dirname", { "" }, "." },
  { "dirname", { "/" }, "/" },
  { "dirname", { "//" }, "/" },
  { "dirname", { "a" }, "." },
  { "dirname", { "a/" }, "." },
  { "dirname", { "/a" }, "/" },
  { "dirname", { "/a/" }, "/" },
  { "dirname", { "/a/b" }, "/a" },
  { "dirname", { "/a/b/" }, "/a" },
  { "dirname", { "a/b" }, "a" },
  { "dirname", { "./a" }, "." },
  { "dirname", { "../a" }, ".." },
  { "dirname", { "/a//b" }, "/a/" },
  { "dirname", { "//a" }, "//" },
  { "dirname", { "a//" }, "." },
  { "dirname", { ".bashrc" }, "." },
  { "dirname", { "/a/b//" }, "/a" },
  { "basename", { "" }, "" },
  { "basename", { "/" }, "" },
  { "basename", { "//" }, "" },
  { "basename", { "a" }, "a" },
  { "basename", { "/a/b" }, "b" },
  { "basename", { "/a/b/" }, "b" },
  { "basename", { "/a/b//" }, "b" },
  { "basename", { "a.txt", ".txt" }, "a" },
  { "basename", { "/a/b.txt", ".txt" }, "b" },
  { "basename", { "/a/b.txt/", ".txt" }, "b" },
  { "basename", { "a.txt", "a.txt" }, "" },
  { "basename", { "/a.txt", "a.txt" }, "a.txt" },
  { "basename", { "/a/b.txt", "txt" }, "b." },
  { "basename", { "/a/b.txt", "x" }, "b.txt" },
  { "basename", { ".bashrc", ".bashrc" }, "" },
  { "basename", { "/a/b.txt", "" }, "b.txt" },
  { "basename", { "b.tar.gz", ".gz" }, "b.tar" },
  { "basename", { "aaa", "a" }, "aa" },
  { "extname", { "" }, "" },
  { "extname", { "/" }, "" },
  { "extname", { "a" }, "" },
  { "extname", { "a." }, "." },
  { "extname", { "a.txt" }, ".txt" },
  { "extname", { "a.tar.gz" }, ".gz" },
  { "extname", { ".bashrc" }, "" },
  { "extname", { ".bashrc.bak" }, ".bak" },
  { "extname", { ".." }, "" },
  { "extname", { "..." }, "." },
  { "extname", { "..a" }, ".a" },
  { "extname", { "a.." }, "." },
  { "extname", { "/a.b/c" }, "" },
  { "extname", { "/a.b/c.d/" }, ".d" },
  { "extname", { "a/.b" }, "" },
  { "extname", { "./" }, "" },
  { "extname", { "." }, "" },
  { "extname", { "file.txt//" }, ".txt" },
  { "relative", { "/a/b", "/a/b" }, "" },
  { "relative", { "/a/b", "/a/b/c" }, "c" },
  { "relative", { "/a/b/c", "/a/b" }, ".." },
  { "relative", { "/a/b", "/a/c" }, "../c" },
  { "relative", { "/", "/a" }, "a" },
  { "relative", { "/a", "/" }, ".." },
  { "relative", { "/a/bar", "/a/barx" }, "../barx" },
  { "relative", { "/a/barx", "/a/bar" }, "../bar" },
  { "relative", { "/a/b/", "/a/b/c/../d" }, "d" },
  { "relative", { "/x/y", "/a/b" }, "../../a/b" },
  { "relative", { "/", "/" }, "" },
  { "resolve", { "/a", "b" }, "/a/b" },
  { "resolve", { "/a", "/b", "c" }, "/b/c" },
  { "resolve", { "/a/b/", "../c/" }, "/a/c" },
  { "resolve", { "/", ".." }, "/" },
  { "resolve", { "/a", "b", "" }, "/a/b" },
  { "resolve", { "/a/b", "./" }, "/a/b" },
  { "is_absolute", { "" }, false },
  { "is_absolute", { "/" }, true },
  { "is_absolute", { "a" }, false },
  { "is_absolute", { "/a" }, true },
  { "is_absolute", { "./a" }, false },
}

describe("ebb.path", function()
  it("gives Node's path.posix results", function()
    for _, c in ipairs(NODE) do
      local got = path[c[1]](unpack(c[2]))
      local call = ("%s(%s)"):format(c[1], table.concat(c[2], ", "))
      assert.equal(c[3], got, call)
    end
  end)

  it("resolves relative paths against the working directory", function()
    local cwd = fs.cwd()
    assert.equal("/", cwd:sub(1, 1))
    assert.equal(cwd, path.resolve())
    assert.equal(cwd, path.resolve(""))
    assert.equal(cwd, path.absolute("."))
    assert.equal(path.join(cwd, "a/b"), path.absolute("a/./b/"))
    assert.equal(path.join(cwd, "x"), path.resolve("a", "../x"))
    assert.equal("/etc", path.absolute("/etc/"))
    assert.equal(path.relative(cwd, "/"), path.relative("", "/"))
    assert.equal("a/b", path.relative("", "a/b"))
    assert.equal("..", path.relative("a/b", "a"))
  end)

  it("splits a path into its names, '/' first when it is absolute", function()
    assert.same({ "/", "usr", "local", "bin" }, path.split("/usr//local/./bin/"))
    assert.same({ "a", "..", "b" }, path.split("a/../b"))
    assert.same({ "/" }, path.split("/"))
    assert.same({}, path.split(""))
    assert.same({}, path.split("."))
    assert.equal("/usr/local/bin", path.join(unpack(path.split("/usr//local/./bin/"))))
  end)

  it("has the separator", function()
    assert.equal("/", path.sep)
  end)

  it("refuses what is not a string, naming the argument", function()
    assert.matches("bad argument #1 to 'normalize' %(string expected, got nil%)", raised(path.normalize))
    assert.matches("bad argument #3 to 'join' %(string expected, got number%)", raised(path.join, "a", "b", 1))
    assert.matches("bad argument #2 to 'join' %(string expected, got table%)", raised(path.join, "a", {}))
    assert.matches("bad argument #2 to 'resolve' %(string expected, got boolean%)", raised(path.resolve, "/a", true))
    assert.matches("bad argument #2 to 'relative' %(string expected, got nil%)", raised(path.relative, "/a"))
    assert.matches("bad argument #2 to 'basename' %(string expected, got number%)", raised(path.basename, "a", 1))
    for _, name in ipairs { "dirname", "extname", "is_absolute", "split", "absolute" } do
      assert.matches("bad argument #1 to '" .. name .. "' %(string expected, got number%)", raised(path[name], 1))
    end
  end)

  it("raises at the caller's line", function()
    for _, call in ipairs {
      function() path.join(1) end, function() path.join("a", 1) end, function() path.resolve("/", 1) end,
      function() path.basename("a", 1) end, function() path.relative(1, "a") end,
    } do
      assert.matches("^spec/path_spec.lua:%d+: bad argument", select(2, pcall(call)))
    end
  end)

  it("passes NUL bytes through as any other byte; the fs functions refuse them", function()
    assert.equal("a\0b/c", path.join("a\0b", "c"))
    assert.equal(".\0", path.extname("x.\0"))
    assert.matches("bad argument #1 to 'stat' %(path must not contain a NUL byte%)",
      raised(fs.stat, path.join("/tmp", "a\0b")))
    assert.matches("bad argument #1 to 'open' %(path must not contain a NUL byte%)", raised(fs.open, "a\0"))
  end)
end)
