-- rigelk8s.util: null, list/is_list (and its named readings), is_map, distance, closest;
-- and that the modules which had their own copies now use these.
local util = require "rigelk8s.util"
local core = require "rigelk8s"
local yaml = require "rigelk8s.yaml"

describe("util null and list", function()
  it("is the codecs' null, and nil counts as null", function()
    assert.are.equal(core.null, util.null)
    assert.is_true(util.is_null(nil))
    assert.is_true(util.is_null(yaml.load("a: null").a))
    assert.is_false(util.is_null(false))
    assert.is_false(util.is_null({}))
  end)

  it("marks a table, or a new empty one, as a list that encodes as []", function()
    local t = {1, 2}
    assert.are.equal(t, util.list(t))
    assert.is_true(core.is_array(t))
    assert.are.equal("[]", require("rigelk8s.json").encode(util.list()))
    assert.has_error(function() util.list(setmetatable({}, {})) end)
  end)
end)

describe("util.is_list", function()
  it("by default is rigelk8s.is_array: marked, or keys exactly 1..n", function()
    assert.is_true(util.is_list({1, 2, 3}))
    assert.is_true(util.is_list(util.list()))
    assert.is_true(util.is_list(yaml.load("[]")))
    assert.is_false(util.is_list({}))                -- unmarked empty: could be a map
    assert.is_false(util.is_list({1, 2, n = 2}))
    assert.is_false(util.is_list({[1] = "a", [3] = "b"}))
    assert.is_false(util.is_list({[0] = "a"}))
    assert.is_false(util.is_list(yaml.load("{a: 1}")))
    assert.is_false(util.is_list(core.null))
    assert.is_false(util.is_list("abc"))
    assert.is_false(util.is_list(nil))
  end)

  it("'holes' also takes a table whose keys are all integers", function()
    assert.is_true(util.is_list({[1] = "a", [3] = "b"}, "holes"))
    assert.is_true(util.is_list({[0] = "a", [-1] = "b"}, "holes"))
    assert.is_false(util.is_list({1, n = 1}, "holes"))
    assert.is_false(util.is_list({}, "holes"))
    assert.is_true(util.is_list(util.list(), "holes"))
  end)

  it("'first' also takes any table with an item at [1]", function()
    assert.is_true(util.is_list({1, 2, n = 2}, "first"))
    assert.is_true(util.is_list(table.pack("a", "b"), "first"))
    assert.is_false(util.is_list({[2] = "b"}, "first"))
    assert.is_false(util.is_list({}, "first"))
  end)

  it("refuses a reading it does not know, naming the ones it does", function()
    local ok, err = pcall(util.is_list, {1, n = 1}, "loose")
    assert.is_false(ok)
    assert.truthy(tostring(err):find("unknown reading 'loose' (holes or first)", 1, true))
  end)

  it("is_map is a table that is not a list under the same reading", function()
    assert.is_true(util.is_map({a = 1}))
    assert.is_true(util.is_map({}))
    assert.is_true(util.is_map({1, n = 1}))
    assert.is_false(util.is_map({1, n = 1}, "first"))
    assert.is_false(util.is_map({[2] = 1}, "holes"))
    assert.is_false(util.is_map(core.null))
    assert.is_false(util.is_map("a"))
  end)
end)

describe("util.closest", function()
  it("measures edits", function()
    assert.are.equal(0, util.distance("abc", "abc"))
    assert.are.equal(3, util.distance("kitten", "sitting"))
    assert.are.equal(4, util.distance("", "four"))
  end)

  it("by default allows max(2, a third of the word) edits", function()
    assert.are.equal("--timeout", util.closest("--timout", {"--file", "--timeout"}))
    assert.are.equal("ab", util.closest("x", {"ab"}))              -- 2 edits, short word
    assert.is_nil(util.closest("deploy", {"undo", "render"}))
  end)

  it("'tight' gives no hint for 1-2 letter words and fewer edits for short ones", function()
    assert.is_nil(util.closest("x", {"ab"}, "tight"))
    assert.is_nil(util.closest("ab", {"ac"}, "tight"))
    assert.are.equal("name", util.closest("nme", {"image", "name"}, "tight"))
    assert.is_nil(util.closest("na", {"nam"}, "tight"))
    assert.are.equal("nam", util.closest("na", {"nam"}))
    assert.are.equal("replicas", util.closest("rpelicas", {"replicas"}, "tight"))
    assert.are.equal("replicas", util.closest("replica", {"replicas"}, "tight"))
  end)

  it("picks the first candidate on a tie, and nil when there are none", function()
    assert.are.equal("bat", util.closest("cat", {"bat", "hat"}))
    assert.is_nil(util.closest("cat", {}))
  end)

  it("refuses a limit it does not know", function()
    assert.has_error(function() util.closest("a", {"b"}, "loose") end)
  end)
end)

describe("util.sorted_keys and util.contains", function()
  it("sorts keys by their text, mixed keys included", function()
    assert.are.same({"a", "b", "c"}, util.sorted_keys({c = 1, a = 2, b = 3}))
    assert.are.same({1, 10, 2, "x"}, util.sorted_keys({[2] = 1, [10] = 1, [1] = 1, x = 1}))
    assert.are.same({}, util.sorted_keys({}))
  end)

  it("finds an item of a list", function()
    assert.is_true(util.contains({"a", "b"}, "b"))
    assert.is_false(util.contains({"a", "b"}, "c"))
    assert.is_false(util.contains({}, nil))
  end)
end)

describe("util's users", function()
  local function source(module)
    local path = "lua/" .. module:gsub("%.", "/") .. ".lua"
    local root = os.getenv("RK_SOURCE_DIR")
    local f = assert(io.open(((root and root ~= "") and (root .. "/") or "") .. path, "rb"))
    local text = f:read("a")
    f:close()
    return text
  end

  it("keep no copy of is_list, closest or a hedged require of rigelk8s", function()
    local sys = require "rigelk8s.sys"
    local root = os.getenv("RK_SOURCE_DIR")
    local dir = ((root and root ~= "") and root or ".") .. "/lua/rigelk8s"
    local problems = {}
    for _, f in ipairs(assert(sys.listdir(dir))) do
      local name = f:match("^([%w_]+)%.lua$")
      if name and name ~= "util" then
        local text = source("rigelk8s." .. name)
        if text:find("pcall%(%s*require%s*,") then problems[#problems + 1] = f .. ": pcall(require ...)" end
        if text:find("local function closest%(word, candidates%)%s*\n") then
          problems[#problems + 1] = f .. ": its own closest()"
        end
        if text:find("math.min(prev[j] + 1", 1, true) then problems[#problems + 1] = f .. ": its own edit distance" end
        if text:find("core.is_array", 1, true) then problems[#problems + 1] = f .. ": its own is_list on is_array" end
      end
    end
    assert.are.equal("", table.concat(problems, "\n"))
  end)

  it("give the hints they gave before (schema tight, cli default)", function()
    local schema = require "rigelk8s.schema"
    local _, problems = schema.validate({replica = 2}, schema.object({{"replicas", schema.int{}}}), "x")
    assert.truthy(problems[1].message:find("did you mean 'replicas'", 1, true), problems[1].message)
    local ok, err = pcall(require("rigelk8s.cli").parse, {"--verbos"}, {{"verbose", "-v", "--verbose"}}, {})
    assert.is_false(ok)
    assert.truthy(tostring(err.message or err):find("--verbose", 1, true))
  end)
end)

describe("rigelk8s.base64_encode/base64_decode (core/base64.c)", function()
  local c = require "rigelk8s"
  it("round-trip every length, and match RFC 4648's vectors", function()
    local vectors = {[""] = "", f = "Zg==", fo = "Zm8=", foo = "Zm9v", foob = "Zm9vYg==",
                     fooba = "Zm9vYmE=", foobar = "Zm9vYmFy"}
    for plain, enc in pairs(vectors) do
      assert.equal(enc, c.base64_encode(plain))
      assert.equal(plain, c.base64_decode(enc))
    end
    for n = 0, 40 do
      local s = string.rep("\0\255x", n):sub(1, n)
      assert.equal(s, c.base64_decode(c.base64_encode(s)))
    end
  end)
  it("skip white space and refuse what is not base64, saying why", function()
    assert.equal("foobar", c.base64_decode("Zm9v\nYmFy\n"))
    local v, why = c.base64_decode("Zm9vYg")
    assert.is_nil(v)
    assert.truthy(why:find("padding", 1, true) or why:find("=", 1, true), why)
    v, why = c.base64_decode("Zm9v!mFy")
    assert.is_nil(v)
    assert.truthy(why:find("byte 5", 1, true), why)
  end)
end)
