-- rigelk8s.json: decode and encode from Lua, with the shared null / array / key-order
-- conventions and error messages that say where.
local rk = require "rigelk8s"
local json = require "rigelk8s.json"
local yaml = require "rigelk8s.yaml"

local null = rk.null

local function error_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return err
end

describe("rigelk8s.json.decode", function()
  it("keeps integers as integers and floats as floats", function()
    local v = json.decode('[1, 9007199254740993, -9223372036854775808, 1.0, 1e3, 0.5]')
    assert.equal("integer", math.type(v[1]))
    assert.equal(9007199254740993, v[2])
    assert.equal("integer", math.type(v[2]))
    assert.equal(math.mininteger, v[3])
    assert.equal("float", math.type(v[4]))
    assert.equal("float", math.type(v[5]))
    assert.equal(0.5, v[6])
  end)

  it("maps null to the sentinel and marks arrays, not objects", function()
    local v = json.decode('{"a": null, "b": [], "c": {}, "d": [null]}')
    assert.equal(null, v.a)
    assert.equal(null, v.d[1])
    assert.is_true(rk.is_array(v.b))
    assert.equal("rigelk8s.array", getmetatable(v.b).__name)
    assert.is_nil(getmetatable(v.c))
    assert.equal(null, json.decode("null"))
  end)

  it("decodes strings with escapes, surrogate pairs and NUL bytes", function()
    assert.equal("é☃😀", json.decode('"\\u00e9\\u2603\\ud83d\\ude00"'))
    assert.equal("a\0b", json.decode('"a\\u0000b"'))
    assert.equal("line\n\ttab", json.decode('"line\\n\\ttab"'))
  end)

  it("raises errors that give the byte offset", function()
    assert.equal("JSON parse error at byte 10 (line 2, column 3): expected ',' or '}' in object, "
      .. "found '\"'", error_of(json.decode, '{"a": 1\n  "b": 2}'))
    assert.equal("JSON parse error at byte 0 (line 1, column 1): unexpected end of input; "
      .. "expected a value", error_of(json.decode, ""))
    assert.matches("bad argument #1 to '.-decode'", error_of(json.decode, {}))
  end)
end)

describe("rigelk8s.json.encode", function()
  it("writes compact JSON, keeping decoded key order", function()
    local v = json.decode('{"zeta": 1, "alpha": [1, 2.5, "x"], "mid": {"b": true, "a": null}}')
    assert.equal('{"zeta":1,"alpha":[1,2.5,"x"],"mid":{"b":true,"a":null}}', json.encode(v))
  end)

  it("sorts the keys of tables built in Lua", function()
    assert.equal('{"10":1,"200":2,"B":3,"a":4}', json.encode({a = 4, B = 3, [200] = 2, [10] = 1}))
  end)

  it("tells lists from maps by the array marker and the keys", function()
    assert.equal("{}", json.encode({}))
    assert.equal("[]", json.encode(rk.array()))
    assert.equal("[]", json.encode(json.array {}))
    assert.equal('[1,2,3]', json.encode({1, 2, 3}))
    assert.equal('{"1":1,"3":3}', json.encode({[1] = 1, [3] = 3}))
    assert.equal('[1,null,3]', json.encode(rk.array {1, nil, 3}))
    assert.equal("null", json.encode(nil))
    assert.equal("null", json.encode(null))
  end)

  it("keeps floats floats and integers integers", function()
    assert.equal("[1,1.0,0.1,-0.0,1e+300,9007199254740993]",
      json.encode({1, 1.0, 0.1, -0.0, 1e300, 9007199254740993}))
  end)

  it("escapes control characters and keeps UTF-8", function()
    assert.equal('"a\\"b\\\\c\\n\\u0001é☃"', json.encode('a"b\\c\n\1é☃'))
  end)

  it("indents on request", function()
    assert.equal('{\n  "a": [\n    1,\n    {}\n  ],\n  "b": []\n}',
      json.encode(json.decode('{"a":[1,{}],"b":[]}'), {indent = true}))
    assert.equal('[\n    1\n]', json.encode({1}, {indent = 4}))
  end)

  it("names the path of values JSON cannot hold", function()
    assert.equal("json.encode: cannot encode NaN as JSON at spec.replicas",
      error_of(json.encode, {spec = {replicas = 0 / 0}}))
    assert.equal("json.encode: cannot encode an infinite number as JSON at items[1]",
      error_of(json.encode, {items = {1, math.huge}}))
    assert.equal("json.encode: cannot convert a function at spec.containers[0].env",
      error_of(json.encode, {spec = {containers = {{env = print}}}}))
    local t = {}
    t[1] = t
    assert.equal("json.encode: table contains itself (a cycle) at [0]", error_of(json.encode, t))
    assert.equal("json.encode: cannot use a non-integer number as a map key (only strings and "
      .. "integers) at a", error_of(json.encode, {a = {[1.5] = true}}))
  end)

  it("refuses nesting deeper than 1000 levels", function()
    local deep = {}
    local cur = deep
    for _ = 1, 1001 do
      cur.x = {}
      cur = cur.x
    end
    assert.matches("value nested deeper than 1000 levels", error_of(json.encode, deep))
  end)
end)

describe("JSON and YAML together", function()
  it("round-trip null, [], {} and key order both ways", function()
    local text = '{"kind":"List","items":[],"meta":{},"x":null,"spec":{"z":[{}],"a":[[]]}}'
    local y = yaml.dump(json.decode(text))
    assert.equal("kind: List\nitems: []\nmeta: {}\nx: null\nspec:\n  z:\n  - {}\n  a:\n  - []\n",
      y)
    assert.equal(text, json.encode(yaml.load(y)))
  end)
end)
