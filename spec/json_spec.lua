local json = require "ebb.json"
local errors = require "ebb.errors"

local function raised(fn, ...)
  local ok, e = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return e
end

describe("ebb.json", function()
  it("encodes the Lua values JSON has", function()
    assert.equal('[1,2,3]', json.encode { 1, 2, 3 })
    assert.equal('{"a":1}', json.encode { a = 1 })
    assert.equal('"x"', json.encode "x")
    assert.equal('true', json.encode(true))
    assert.equal('null', json.encode(json.null))
    assert.equal('null', json.encode(nil))
    assert.equal('[1,null,3]', json.encode { 1, json.null, 3 })
    assert.equal('[1,null,3]', json.encode { 1, nil, 3 })
  end)

  it("writes numbers as JavaScript does, in the fewest digits that read back the same", function()
    local cases = {
      { 0.1, "0.1" }, { 0.1 + 0.2, "0.30000000000000004" }, { 1 / 3, "0.3333333333333333" },
      { 2 ^ 53, "9007199254740992" }, { 123456789012345678, "123456789012345680" },
      { -0.0, "0" }, { 1e21, "1e+21" }, { 1e20, "100000000000000000000" }, { 1.5e-7, "1.5e-7" },
      { 0.000001, "0.000001" }, { 1.7976931348623157e308, "1.7976931348623157e+308" }, { -42, "-42" },
    }
    for _, c in ipairs(cases) do assert.equal(c[2], json.encode(c[1])) end
    math.randomseed(7)
    for _ = 1, 20000 do
      local v = (math.random() - 0.5) * 10 ^ math.random(-300, 300)
      assert.equal(v, json.decode(json.encode(v)))
    end
  end)

  it("escapes what JSON strings must, NUL bytes too, and passes UTF-8 through", function()
    assert.equal([["a\u0000b\n\t\"\\\u0001é/"]], json.encode "a\0b\n\t\"\\\1é/")
    assert.equal("a\0b\n\t\"\\\1é/", json.decode(json.encode "a\0b\n\t\"\\\1é/"))
    assert.equal("é😀", json.decode [["\u00e9\ud83d\ude00"]])
  end)

  it("encodes an empty table as {}, a json.array as [], and decoded arrays as arrays again", function()
    assert.equal("{}", json.encode {})
    assert.equal("[]", json.encode(json.array()))
    assert.equal('{"list":[]}', json.encode { list = json.array {} })
    local v = json.decode '{"a":[],"b":{},"c":[[]]}'
    assert.is_true(json.is_array(v.a) and json.is_array(v.c) and json.is_array(v.c[1]))
    assert.is_false(json.is_array(v.b))
    assert.equal('{"a":[],"b":{},"c":[[]]}', json.encode(v, { sort_keys = true }))
    local t = { 1, 2 }
    assert.equal(t, json.array(t))
    assert.matches("bad argument #1 to 'array' %(table expected, got number%)", raised(json.array, 5))
    assert.matches("table without a metatable expected", raised(json.array, setmetatable({}, {})))
  end)

  it("makes an object of a table with other keys, or an array sparser than half full", function()
    assert.equal('{"1":1,"2":2,"x":3}', json.encode({ 1, 2, x = 3 }, { sort_keys = true }))
    assert.equal('{"200":5,"404":1}', json.encode({ [200] = 5, [404] = 1 }, { sort_keys = true }))
    assert.equal('[1,null,null,4]', json.encode { [1] = 1, [4] = 4 })
    assert.equal('{"1.5":true}', json.encode { [1.5] = true })
  end)

  it("indents and sorts keys when asked", function()
    assert.equal('{"a":[1,{"b":null}],"c":{}}', json.encode({ c = {}, a = { 1, { b = json.null } } }, { sort_keys = true }))
    assert.equal('{\n  "a": [\n    1,\n    2\n  ],\n  "b": {}\n}',
      json.encode({ b = {}, a = { 1, 2 } }, { indent = 2, sort_keys = true }))
    assert.matches("unknown option 'pretty'; valid options: indent, sort_keys", raised(json.encode, {}, { pretty = true }))
    assert.matches("option 'indent' must be a whole number from 0 to 10", raised(json.encode, {}, { indent = 11 }))
  end)

  it("says what could not be encoded and the way to it", function()
    local e = raised(json.encode, { users = { { name = "a" }, { name = "b", f = print } } })
    assert.is_true(errors.is(e, json.EncodeError))
    assert.equal("JSONEncodeError: cannot encode a function at $.users[2].f", tostring(e))
    assert.equal("$.users[2].f", e.path)
    assert.equal("cannot encode NaN (JSON has no NaN) at $[\"odd key\"][1]",
      raised(json.encode, { ["odd key"] = { 0 / 0 } }).message)
    assert.equal("cannot encode inf (JSON has no infinities) at $", raised(json.encode, math.huge).message)
    assert.equal("cannot encode a key of type boolean (keys are strings or numbers) at $.a",
      raised(json.encode, { a = { [true] = 1 } }).message)
    assert.equal("cannot encode a thread at $", raised(json.encode, coroutine.create(print)).message)
    local cycle = {}
    cycle.self = cycle
    assert.matches("^cannot encode tables nested deeper than 1000 levels %(does a table contain itself%?%) at " ..
      "%$%.self%.self.*%.%.%.$", raised(json.encode, cycle).message)
  end)

  it("decodes JSON's values; null is json.null, and numbers keep their precision", function()
    local v = json.decode ' {"a": [1, 2.5, -3e2, true, false, null], "s": "x", "big": 9007199254740993} '
    assert.same({ 1, 2.5, -300, true, false, json.null }, setmetatable(v.a, nil))
    assert.equal("x", v.s)
    assert.equal(9007199254740992, v.big)
    assert.equal(1 / 0, json.decode "1e400")
    assert.equal(0.1, json.decode "0.1")
    assert.equal(false, json.decode "false")
  end)

  it("reads every number as Lua's tonumber reads it (the nearest double)", function()
    math.randomseed(11)
    local function digits(n)
      local t = {}
      for i = 1, n do t[i] = math.random(0, 9) end
      return table.concat(t)
    end
    for _ = 1, 20000 do
      local s = (math.random(2) == 1 and "-" or "") .. math.random(1, 9) .. digits(math.random(0, 18))
      if math.random(2) == 1 then s = s .. "." .. digits(math.random(1, 20)) end
      if math.random(3) == 1 then s = s .. "e" .. ({ "", "+", "-" })[math.random(3)] .. math.random(0, 40) end
      assert.equal(tonumber(s), json.decode(s), s)
    end
  end)

  it("says where bad input is: a line, a column in characters, and the byte", function()
    local e = raised(json.decode, '{"a": 1,\n  "é": [1, 2,]}')
    assert.is_true(errors.is(e, json.DecodeError))
    assert.equal("JSONDecodeError: expected a value but found ']' at line 2, column 14 (byte 24)", tostring(e))
    assert.same({ 24, 2, 14 }, { e.position, e.line, e.column })
    local function msg(text) return raised(json.decode, text).message end
    assert.equal("expected true, false or null but found 'tru' at line 1, column 2 (byte 2)", msg "[tru]")
    assert.equal("unexpected end of the text at line 1, column 6 (byte 6)", msg "[1, 2")
    assert.equal("unexpected end of the text at line 1, column 5 (byte 5)", msg '"abc')
    assert.equal("expected ',' or ']' but found '2' at line 1, column 4 (byte 4)", msg "[1 2]")
    assert.equal("expected ',' or '}' but found '2' at line 1, column 8 (byte 8)", msg '{"a":1 2}')
    assert.equal("expected ':' after the key but found '1' at line 1, column 6 (byte 6)", msg '{"a" 1}')
    assert.equal("expected a string key but found '}' at line 1, column 9 (byte 9)", msg '{"a": 1,}')
    assert.equal("invalid escape in a string at line 1, column 2 (byte 2)", msg '"\\x"')
    assert.equal("control character 0x0A in a string (write it as an escape: \\u000A) at line 1, column 3 (byte 3)",
      msg '"a\nb"')
    assert.equal("expected the end of the text after the value but found '1' at line 1, column 2 (byte 2)", msg "01")
    assert.equal("unexpected end of the text at line 1, column 1 (byte 1)", msg "")
    assert.equal("expected a value but found '@' at line 1, column 2 (byte 2)", msg "[@]")
    assert.equal("expected the end of the text after the value but found 'x' at line 1, column 9 (byte 9)",
      msg "[1, 2]  x")
    assert.equal("expected a digit after the minus sign but found ']' at line 1, column 3 (byte 3)", msg "[-]")
    assert.equal("expected a value (JSON has no comments) but found '/' at line 1, column 4 (byte 4)", msg "[1,/* x */2]")
    assert.equal("expected a value but found byte 0x00 at line 1, column 1 (byte 1)", msg "\0")
    assert.equal("expected the end of the text after the value but found byte 0x00 at line 1, column 4 (byte 4)",
      msg "[1]\0")
    assert.equal("expected a digit after the decimal point but found the end of the text at line 1, column 3 (byte 3)",
      msg "1.")
    assert.equal("invalid \\u escape (four hex digits expected) at line 1, column 6 (byte 6)", msg '"\\u12"')
    assert.equal("invalid UTF-8 in a string at line 2, column 4 (byte 6)", msg '[\n "a\255"]')
  end)

  it("reads escapes as UTF-8; a lone surrogate, which UTF-8 cannot hold, is not kept", function()
    assert.equal("\0x", json.decode [["\u0000x"]])
    assert.equal("?", json.decode [["\ud800"]])
    assert.equal("\237\176\128", json.decode [["\udc00"]])
  end)

  it("indents every level, past the levels one yajl generator holds", function()
    local v = json.array()
    local inner = v
    for _ = 1, 249 do
      local t = { json.array(), {}, 1 }
      inner[1] = t
      inner = t
    end
    local text = json.encode(v, { indent = 2 })
    local depth = 0
    for line in text:gmatch("[^\n]+") do
      local spaces, rest = line:match("^( *)(.*)$")
      if rest:match("^[%]}]") then depth = depth - 1 end
      assert.equal(2 * depth, #spaces, line)
      if rest:match("[%[{]$") then depth = depth + 1 end
    end
    assert.equal(0, depth)
    assert.equal(json.encode(v), json.encode(json.decode(text)))
    assert.equal("],\n    {},\n    1\n  ]\n]", text:sub(-22))
  end)

  it("refuses nesting deeper than 1000 levels, and takes 1000", function()
    local deep = ("["):rep(1000) .. ("]"):rep(1000)
    assert.equal(deep, json.encode(json.decode(deep)))
    assert.matches("^nesting deeper than 1000 levels at line 1, column 1001",
      raised(json.decode, "[" .. deep .. "]").message)
  end)

  it("checks its arguments", function()
    assert.matches("bad argument #1 to 'decode' %(string expected, got number%)", raised(json.decode, 5))
    assert.matches("bad argument #2 to 'encode' %(table of options expected, got number%)", raised(json.encode, 1, 2))
  end)

  it("keeps its own settings whatever a script does with lua-cjson", function()
    local ok, cjson = pcall(require, "cjson")
    if ok then cjson.encode_number_precision(3) end
    assert.equal("0.30000000000000004", json.encode(0.1 + 0.2))
    if ok then cjson.encode_number_precision(14) end
  end)

  it("writes numbers with a point whatever the locale", function()
    local was = os.setlocale(nil, "numeric")
    if os.setlocale("de_DE.UTF-8", "numeric") or os.setlocale("fr_FR.UTF-8", "numeric") then
      assert.equal("[1.5,0.1,0.3333333333333333]", json.encode { 1.5, 0.1, 1 / 3 })
      assert.equal(2.5, json.decode "2.5")
      os.setlocale(was, "numeric")
    end
  end)
end)
