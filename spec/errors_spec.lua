-- Specs for ebb.errors: classes, constructors, cause chains, tostring formats, tracebacks
-- and argument checking, exactly as the API contract ("ebb.errors") describes them.
local errors = require "ebb.errors"

-- The first frame of a traceback, i.e. where the error was created.
local function first_frame(tb)
  return tb:match("^stack traceback:\n\t([^\n]*)")
end

-- Asserts fn raises exactly `message`, positioned at this spec file (the caller's line).
local function assert_bad(fn, message)
  assert.has_error(fn, message)
  local ok, err = pcall(fn)
  assert.is_false(ok)
  assert.matches("errors_spec%.lua:%d+: ", err)
end

describe("ebb.errors", function()
  describe("new", function()
    it("makes an Error with name, message, cause and traceback", function()
      local e = errors.new("boom")
      assert.equal("Error", e.name)
      assert.equal("boom", e.message)
      assert.is_nil(e.cause)
      assert.equal("string", type(e.traceback))
      assert.is_true(errors.is_error(e))
      assert.is_true(errors.is(e, errors.Error))
    end)

    it("keeps the cause and a name given in opts", function()
      local cause = errors.new("inner")
      local e = errors.new("outer", { cause = cause, name = "ConfigError" })
      assert.equal(cause, e.cause)
      assert.equal("ConfigError", e.name)
      assert.equal("ConfigError: outer", tostring(e):match("^[^\n]*"))
      assert.is_true(errors.is(e, errors.Error))
    end)

    it("copies extra opts fields onto the instance", function()
      local e = errors.new("no such file", { code = "ENOENT", path = "/x" })
      assert.equal("ENOENT", e.code)
      assert.equal("/x", e.path)
    end)

    it("does not let opts override message or traceback", function()
      local e = errors.new("real", { message = "fake", traceback = "fake" })
      assert.equal("real", e.message)
      assert.matches("^stack traceback:", e.traceback)
    end)

    it("defaults a nil message to the empty string", function()
      assert.equal("", errors.new().message)
      assert.equal("", errors.new(nil, { code = 1 }).message)
    end)

    it("rejects a message that is not a string", function()
      assert_bad(function() errors.new(42) end,
        "bad argument #1 to 'new' (string expected, got number)")
      assert_bad(function() errors.new({}) end,
        "bad argument #1 to 'new' (string expected, got table)")
    end)

    it("rejects opts that are not a table, and a name that is not a string", function()
      assert_bad(function() errors.new("x", "y") end,
        "bad argument #2 to 'new' (table expected, got string)")
      assert_bad(function() errors.new("x", { name = 1 }) end,
        "bad argument #2 to 'new' (field 'name' must be a string, got number)")
    end)

    it("captures the traceback where it was created", function()
      local e = errors.new("here")
      assert.matches("^stack traceback:\n", e.traceback)
      assert.matches("errors_spec%.lua:%d+", first_frame(e.traceback))
      assert.is_nil(e.traceback:find("ebb/errors.lua", 1, true))
    end)
  end)

  describe("tostring", function()
    it("gives Name: message", function()
      assert.equal("Error: boom", tostring(errors.new("boom")))
      assert.equal("AbortError: stop", tostring(errors.AbortError("stop")))
    end)

    it("prints the name alone when the message is empty", function()
      assert.equal("Error", tostring(errors.new("")))
      assert.equal("Error", tostring(errors.new()))
    end)

    it("prints the message alone when the name is empty", function()
      assert.equal("boom", tostring(errors.new("boom", { name = "" })))
    end)

    it("adds one caused by line per cause", function()
      local root = errors.TimeoutError()
      local mid = errors.new("fetch failed", { cause = root })
      local top = errors.wrap(mid, "sync failed")
      assert.equal("Error: sync failed\n"
        .. "caused by: Error: fetch failed\n"
        .. "caused by: TimeoutError: The operation timed out", tostring(top))
    end)

    it("prints a string cause as it is", function()
      local e = errors.new("outer", { cause = "disk full" })
      assert.equal("Error: outer\ncaused by: disk full", tostring(e))
    end)

    it("prints other causes with tostring and stops there", function()
      assert.equal("Error: a\ncaused by: 42", tostring(errors.new("a", { cause = 42 })))
      local t = setmetatable({ cause = "hidden" }, { __tostring = function() return "custom" end })
      assert.equal("Error: a\ncaused by: custom", tostring(errors.new("a", { cause = t })))
      assert.equal("Error: a\ncaused by: false", tostring(errors.new("a", { cause = false })))
    end)

    it("stops when an error repeats in the chain", function()
      local a = errors.new("a")
      a.cause = a
      assert.equal("Error: a", tostring(a))
      local b = errors.new("b")
      local c = errors.new("c", { cause = b })
      b.cause = c
      assert.equal("Error: c\ncaused by: Error: b", tostring(c))
    end)

    it("never raises: a cause or message whose __tostring raises is printed as such", function()
      local bad = setmetatable({}, { __tostring = function() error("no text", 0) end })
      assert.equal("Error: outer\ncaused by: (table whose __tostring raised: no text)",
        tostring(errors.new("outer", { cause = bad })))
      local e = errors.new("x")
      e.message = bad
      assert.equal("Error: (table whose __tostring raised: no text)", tostring(e))
      assert.same({ "outer", "(table whose __tostring raised: no text)" },
        errors.chain(errors.new("outer", { cause = bad })))
    end)
  end)

  describe("classes", function()
    it("gives AbortError and TimeoutError DOM's default messages", function()
      local a, t = errors.AbortError(), errors.TimeoutError()
      assert.equal("AbortError", a.name)
      assert.equal("This operation was aborted", a.message)
      assert.equal("TimeoutError", t.name)
      assert.equal("The operation timed out", t.message)
      assert.equal("custom", errors.AbortError("custom").message)
    end)

    it("makes AbortError and TimeoutError siblings under Error", function()
      local a, t = errors.AbortError(), errors.TimeoutError()
      assert.is_true(errors.is(a, errors.Error))
      assert.is_true(errors.is(t, errors.Error))
      assert.is_false(errors.is(a, errors.TimeoutError))
      assert.is_false(errors.is(t, errors.AbortError))
    end)

    it("makes Error callable like new", function()
      local e = errors.Error("x", { cause = "y", code = 7 })
      assert.equal("Error", e.name)
      assert.equal("y", e.cause)
      assert.equal(7, e.code)
    end)

    it("checks the arguments of class calls, naming the class", function()
      assert_bad(function() errors.AbortError(1) end,
        "bad argument #1 to 'AbortError' (string expected, got number)")
      assert_bad(function() errors.TimeoutError("x", 1) end,
        "bad argument #2 to 'TimeoutError' (table expected, got number)")
    end)

    it("shares one metatable per class", function()
      local a1, a2, t = errors.AbortError(), errors.AbortError(), errors.TimeoutError()
      assert.equal(getmetatable(a1), getmetatable(a2))
      assert.are_not.equal(getmetatable(a1), getmetatable(t))
    end)

    describe("AggregateError", function()
      it("accepts (list [, message [, opts]])", function()
        local inner = { errors.new("a"), "b" }
        local e = errors.AggregateError(inner, "all failed", { cause = "why", code = 3 })
        assert.equal("AggregateError", e.name)
        assert.equal("all failed", e.message)
        assert.same(inner, e.errors)
        assert.are_not.equal(inner, e.errors) -- a copy
        assert.equal("why", e.cause)
        assert.equal(3, e.code)
        assert.equal("AggregateError: all failed\ncaused by: why", tostring(e))
      end)

      it("accepts (message [, {errors = list, cause = ...}])", function()
        local inner = { "a", "b" }
        local e = errors.AggregateError("all failed", { errors = inner, cause = "why" })
        assert.equal("all failed", e.message)
        assert.same({ "a", "b" }, e.errors)
        assert.are_not.equal(inner, e.errors)
        assert.equal("why", e.cause)
      end)

      it("defaults to an empty message and an empty list", function()
        local e = errors.AggregateError()
        assert.equal("", e.message)
        assert.same({}, e.errors)
        assert.equal("AggregateError", tostring(e))
        assert.same({}, errors.AggregateError({}).errors)
      end)

      it("treats an Error as the first argument as a bad message, not a list", function()
        assert_bad(function() errors.AggregateError(errors.new("x")) end,
          "bad argument #1 to 'AggregateError' (string expected, got table)")
      end)

      it("rejects bad arguments", function()
        assert_bad(function() errors.AggregateError(5) end,
          "bad argument #1 to 'AggregateError' (string expected, got number)")
        assert_bad(function() errors.AggregateError({}, 5) end,
          "bad argument #2 to 'AggregateError' (string expected, got number)")
        assert_bad(function() errors.AggregateError({}, "m", 5) end,
          "bad argument #3 to 'AggregateError' (table expected, got number)")
        assert_bad(function() errors.AggregateError("m", { errors = 5 }) end,
          "bad argument #2 to 'AggregateError' (field 'errors' must be a table, got number)")
        assert_bad(function() errors.AggregateError("m", 5) end,
          "bad argument #2 to 'AggregateError' (table expected, got number)")
      end)
    end)

    describe("SuppressedError", function()
      it("holds the new error and the suppressed one", function()
        local d, e = errors.new("dispose failed"), errors.new("body failed")
        local s = errors.SuppressedError(d, e)
        assert.equal("SuppressedError", s.name)
        assert.equal(d, s.error)
        assert.equal(e, s.suppressed)
        assert.equal("An error was suppressed during disposal", s.message)
        assert.equal("SuppressedError: An error was suppressed during disposal", tostring(s))
      end)

      it("accepts a message, opts and plain values", function()
        local s = errors.SuppressedError("d", "e", "both failed", { cause = "c" })
        assert.equal("d", s.error)
        assert.equal("e", s.suppressed)
        assert.equal("both failed", s.message)
        assert.equal("c", s.cause)
      end)

      it("rejects bad arguments", function()
        assert_bad(function() errors.SuppressedError("d", "e", 1) end,
          "bad argument #3 to 'SuppressedError' (string expected, got number)")
        assert_bad(function() errors.SuppressedError("d", "e", "m", 1) end,
          "bad argument #4 to 'SuppressedError' (table expected, got number)")
      end)
    end)
  end)

  describe("class", function()
    it("makes a callable subclass of Error by default", function()
      local NotFound = errors.class("NotFound")
      assert.equal("NotFound", NotFound.name)
      local e = NotFound("no such key", { key = "k" })
      assert.equal("NotFound", e.name)
      assert.equal("no such key", e.message)
      assert.equal("k", e.key)
      assert.equal("NotFound: no such key", tostring(e))
      assert.is_true(errors.is(e, NotFound))
      assert.is_true(errors.is(e, errors.Error))
      assert.is_false(errors.is(e, errors.AbortError))
    end)

    it("supports subclasses of subclasses", function()
      local IOError = errors.class("IOError")
      local FileError = errors.class("FileError", IOError)
      local MissingFile = errors.class("MissingFile", FileError)
      local e = MissingFile("gone")
      assert.is_true(errors.is(e, MissingFile))
      assert.is_true(errors.is(e, FileError))
      assert.is_true(errors.is(e, IOError))
      assert.is_true(errors.is(e, errors.Error))
      assert.is_false(errors.is(FileError("x"), MissingFile))
      assert.is_false(errors.is(IOError("x"), FileError))
    end)

    it("makes parent methods and fields visible from subclasses and instances", function()
      local Base = errors.class("Base")
      function Base:describe() return "[" .. self.name .. "] " .. self.message end
      Base.retryable = true
      local Child = errors.class("Child", Base)
      local GrandChild = errors.class("GrandChild", Child)
      assert.is_true(GrandChild.retryable)
      assert.equal("[GrandChild] hi", GrandChild("hi"):describe())
      assert.is_true(Child("x").retryable)
    end)

    it("inherits the parent's default message and arguments", function()
      local Cancelled = errors.class("Cancelled", errors.AbortError)
      assert.equal("This operation was aborted", Cancelled().message)
      assert.is_true(errors.is(Cancelled(), errors.AbortError))
      local AllFailed = errors.class("AllFailed", errors.AggregateError)
      local e = AllFailed({ "a" }, "all failed")
      assert.same({ "a" }, e.errors)
      assert.equal("AllFailed: all failed", tostring(e))
      local Disposal = errors.class("Disposal", errors.SuppressedError)
      local s = Disposal("d", "e")
      assert.equal("d", s.error)
      assert.equal("An error was suppressed during disposal", s.message)
    end)

    it("rejects bad arguments", function()
      assert_bad(function() errors.class(1) end,
        "bad argument #1 to 'class' (string expected, got number)")
      assert_bad(function() errors.class("X", {}) end,
        "bad argument #2 to 'class' (class expected, got table)")
      assert_bad(function() errors.class("X", errors.new("not a class")) end,
        "bad argument #2 to 'class' (class expected, got table)")
      assert_bad(function() errors.class("X", "Error") end,
        "bad argument #2 to 'class' (class expected, got string)")
    end)
  end)

  describe("is", function()
    it("is false for plain strings and other values", function()
      assert.is_false(errors.is("boom", errors.Error))
      assert.is_false(errors.is("boom", "Error"))
      assert.is_false(errors.is(nil, errors.Error))
      assert.is_false(errors.is({ name = "Error" }, "Error"))
      assert.is_false(errors.is(errors.AbortError, errors.Error)) -- a class is not an error
    end)

    it("matches class names up the class chain", function()
      local Http = errors.class("HttpError")
      local NotFound = errors.class("NotFound", Http)
      local e = NotFound("x")
      assert.is_true(errors.is(e, "NotFound"))
      assert.is_true(errors.is(e, "HttpError"))
      assert.is_true(errors.is(e, "Error"))
      assert.is_false(errors.is(e, "AbortError"))
      assert.is_true(errors.is(errors.TimeoutError(), "TimeoutError"))
    end)

    it("matches the error's own name", function()
      local e = errors.new("x", { name = "ConfigError" })
      assert.is_true(errors.is(e, "ConfigError"))
      assert.is_true(errors.is(e, "Error"))
      assert.is_false(errors.is(e, "AbortError"))
    end)

    it("rejects a second argument that is neither a class nor a string", function()
      assert_bad(function() errors.is(errors.new("x"), 1) end,
        "bad argument #2 to 'is' (class or string expected, got number)")
      assert_bad(function() errors.is(errors.new("x"), {}) end,
        "bad argument #2 to 'is' (class or string expected, got table)")
      assert_bad(function() errors.is(errors.new("x")) end,
        "bad argument #2 to 'is' (class or string expected, got nil)")
    end)
  end)

  describe("chain", function()
    it("lists messages from the error down its causes", function()
      local e = errors.wrap(errors.new("b", { cause = "c" }), "a")
      assert.same({ "a", "b", "c" }, errors.chain(e))
    end)

    it("keeps plain strings and other values working", function()
      assert.same({ "x" }, errors.chain("x"))
      assert.same({ "42" }, errors.chain(42))
      assert.same({ "nil" }, errors.chain(nil))
      local t = setmetatable({}, { __tostring = function() return "thing" end })
      assert.same({ "thing" }, errors.chain(t))
      assert.same({ "a", "5" }, errors.chain(errors.new("a", { cause = 5 })))
    end)

    it("stops when an error repeats", function()
      local a, b = errors.new("a"), errors.new("b")
      a.cause, b.cause = b, a
      assert.same({ "a", "b" }, errors.chain(a))
      local s = errors.new("self")
      s.cause = s
      assert.same({ "self" }, errors.chain(s))
    end)

    it("includes empty messages", function()
      assert.same({ "", "The operation timed out" },
        errors.chain(errors.new(nil, { cause = errors.TimeoutError() })))
    end)
  end)

  describe("wrap", function()
    it("is new(message, {cause = e})", function()
      local inner = errors.AbortError()
      local e = errors.wrap(inner, "outer")
      assert.equal("Error", e.name)
      assert.equal("outer", e.message)
      assert.equal(inner, e.cause)
      assert.equal("Error: outer\ncaused by: AbortError: This operation was aborted", tostring(e))
      assert.equal("Error: outer\ncaused by: plain", tostring(errors.wrap("plain", "outer")))
    end)

    it("rejects a message that is not a string", function()
      assert_bad(function() errors.wrap("e", 1) end,
        "bad argument #2 to 'wrap' (string expected, got number)")
    end)
  end)

  describe("is_error and traceback", function()
    it("recognises instances of every class only", function()
      assert.is_true(errors.is_error(errors.new("x")))
      assert.is_true(errors.is_error(errors.class("Mine")("x")))
      assert.is_true(errors.is_error(errors.SuppressedError(1, 2)))
      assert.is_false(errors.is_error("x"))
      assert.is_false(errors.is_error(nil))
      assert.is_false(errors.is_error({ name = "Error", message = "x" }))
      assert.is_false(errors.is_error(errors.Error))
    end)

    it("returns an error's traceback, or nil", function()
      local e = errors.new("x")
      assert.equal(e.traceback, errors.traceback(e))
      assert.is_nil(errors.traceback("x"))
      assert.is_nil(errors.traceback({ traceback = "fake" }))
      assert.is_nil(errors.traceback(nil))
    end)

    it("starts every traceback at the creation site, whatever the constructor", function()
      local Mine = errors.class("Mine", errors.class("Base", errors.AggregateError))
      local made = {
        errors.new("x"),
        errors.wrap("x", "y"),
        errors.Error("x"),
        errors.AbortError(),
        errors.TimeoutError(),
        errors.AggregateError({}),
        errors.AggregateError("m", { errors = {} }),
        errors.SuppressedError(1, 2),
        Mine({ "a" }, "m"),
      }
      for i, e in ipairs(made) do
        assert.matches("errors_spec%.lua:%d+", first_frame(e.traceback), 1, nil, "error #" .. i)
        assert.is_nil(e.traceback:find("ebb/errors.lua", 1, true), "error #" .. i)
      end
    end)

    it("names the line that created the error", function()
      local line = debug.getinfo(1, "l").currentline + 1
      local e = errors.new("x")
      assert.matches("errors_spec%.lua:" .. line .. ":", first_frame(e.traceback))
    end)
  end)

  describe("with error and pcall", function()
    it("raises and catches the same table", function()
      local e = errors.TimeoutError()
      local ok, got = pcall(error, e)
      assert.is_false(ok)
      assert.equal(e, got)
      ok, got = pcall(function() error(e) end)
      assert.is_false(ok)
      assert.equal(e, got)
      assert.equal("TimeoutError: The operation timed out", tostring(got))
      assert.has_error(function() error(e) end, e)
    end)
  end)
end)
