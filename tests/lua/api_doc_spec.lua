-- docs/lua-api.md against the modules as they are: every public function of every
-- public module is documented there, every documented function exists, and every module
-- is either documented or listed as internal.
local sys = require "rigelk8s.sys"

local root = os.getenv("RK_SOURCE_DIR")
if not root or root == "" then root = "." end

-- sections[module] = {documented function names}; internal = {module = true}
local function parse(text)
  local sections, internal, order = {}, {}, {}
  local current
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    local heading = line:match("^## (.+)$")
    if heading then
      current = heading:match("^(rigelk8s[%w_.]*)%s*$") or (heading == "Internal modules" and "#internal") or nil
      if current and current ~= "#internal" and not sections[current] then
        sections[current] = {}
        order[#order + 1] = current
      end
    elseif current == "#internal" then
      for m in line:gmatch("`(rigelk8s[%w_.]*)`") do internal[m] = true end
    elseif current then
      local name = line:match("^%- `[%w_]+[.:]([%w_]+)%(")
      if name then sections[current][name] = true end
    end
  end
  return sections, internal, order
end

-- The functions a module (or a class table of one) offers.
local function functions_of(module)
  local t
  local base, class = module:match("^(rigelk8s%.k8s)%.(%u%w*)$")
  if base then t = require(base)[class] else t = require(module) end
  local out = {}
  for k, v in pairs(t) do
    if type(k) == "string" and type(v) == "function" then out[k] = true end
  end
  return out
end

local function sorted(set)
  local l = {}
  for k in pairs(set) do l[#l + 1] = k end
  table.sort(l)
  return l
end

describe("docs/lua-api.md", function()
  local text = assert(sys.readfile(root .. "/docs/lua-api.md"))
  local sections, internal, order = parse(text)

  it("parses into the public modules", function()
    for _, m in ipairs{"rigelk8s", "rigelk8s.sys", "rigelk8s.k8s", "rigelk8s.k8s.Client",
                       "rigelk8s.workflow", "rigelk8s.rollout", "rigelk8s.hash"} do
      assert.truthy(sections[m], "no section for " .. m)
      assert.truthy(next(sections[m]) or m == "rigelk8s.k8s", "no function listed for " .. m)
    end
  end)

  it("documents every public function, and only functions that exist", function()
    local problems = {}
    for _, m in ipairs(order) do
      local real = functions_of(m)
      for _, f in ipairs(sorted(real)) do
        if not sections[m][f] then problems[#problems + 1] = string.format("%s.%s is not documented", m, f) end
      end
      for _, f in ipairs(sorted(sections[m])) do
        if not real[f] then problems[#problems + 1] = string.format("%s.%s is documented but does not exist", m, f) end
      end
    end
    assert.are.equal("", table.concat(problems, "\n"))
  end)

  it("documents every module or lists it as internal", function()
    local modules = {}
    for _, f in ipairs(assert(sys.listdir(root .. "/lua/rigelk8s"))) do
      local name = f:match("^([%w_]+)%.lua$")
      if name then modules["rigelk8s." .. name] = true end
    end
    for name in pairs(package.preload) do
      if name:match("^rigelk8s") then modules[name] = true end
    end
    local problems = {}
    for _, m in ipairs(sorted(modules)) do
      if not sections[m] and not internal[m] then
        problems[#problems + 1] = m .. " is neither documented in docs/lua-api.md nor listed as internal there"
      end
    end
    for _, m in ipairs(sorted(internal)) do
      if not modules[m] then problems[#problems + 1] = m .. " is listed as internal but does not exist" end
    end
    assert.are.equal("", table.concat(problems, "\n"))
  end)

  it("would notice a function that is missing from the page (the check itself)", function()
    local s = parse("## rigelk8s.hash\n\n- `hash.sha256(data)` → hex\n- `hash.md5(data)` → hex\n")
    assert.truthy(s["rigelk8s.hash"].md5)
    assert.is_nil(functions_of("rigelk8s.hash").md5)
    local missing = parse("## rigelk8s.hash\n\ntext only\n")
    assert.is_nil(missing["rigelk8s.hash"].sha256)
  end)
end)
