-- Rigel's `{{ ... }}` templates, rendered on the parsed value tree (never on YAML text,
-- so a value can never inject YAML structure).
--
--   local template = require "rigelk8s.template"
--   local out, problems = template.render(value, {
--     vars = {...}, data = {...}, env = os.getenv,   -- lookups
--     path = "jobs.deploy_k8s.with", positions = pos, -- for messages
--   })
--
-- Semantics (Rigel's):
--   * a string that is exactly one template ("{{ vars.ports }}") becomes the value itself,
--     keeping its type: a list stays a list, a number a number;
--   * otherwise every template in the string is interpolated (numbers and booleans as text;
--     a list or map cannot be interpolated and is an error);
--   * `vars.x` falls back to the environment variable `x`; `data.x` has no fallback;
--   * mapping keys are rendered too (they must render to a string or number);
--   * a rendered value is never rendered again: `{{` inside a variable stays text.
--
-- Expressions: `vars.a.b`, `vars['a-b']`, `vars.list[0]` or `vars.list.0` (Jinja2's indexing: 0-based,
-- `[-1]` is the last item, an index out of range is an error), `data.x`, literals ('text', "text", 12, 1.5,
-- true, false, none), followed by filters: `x | f`, `x | f(arg, ...)`.
-- Filters: default(v [, also_when_falsy]), lower, upper, trim, replace(old, new [, count]),
-- regex_replace(pattern, replacement), int, string.
--
-- regex_replace is Python's re.sub on PCRE2 (rigelk8s.regex, core/lua_regex.c): Python's
-- syntax and replacement template, with the differences listed in README ("Templates").
-- A pattern error names its position in the pattern; a pattern that backtracks without
-- end stops at PCRE2's match limit with an error.
local M = {}

M.regex = require "rigelk8s.regex"

local util = require "rigelk8s.util"

-------------------------------------------------------------------------------------------
-- Template expressions
-------------------------------------------------------------------------------------------

local UNDEFINED = setmetatable({}, {__name = "rigelk8s.template.undefined",
                                    __tostring = function() return "undefined" end})
M.UNDEFINED = UNDEFINED

local TemplateError = {}
local function fail(fmt, ...)
  error(setmetatable({message = string.format(fmt, ...)}, TemplateError), 0)
end

local is_null = util.is_null
-- A table with an item at [1] is a list here even with other keys (see util.is_list).
local function is_list(t) return util.is_list(t, "first") end

local function describe(v)
  if v == UNDEFINED then return "undefined" end
  if is_null(v) then return "null" end
  if type(v) == "table" then return is_list(v) and "a list" or "a map" end
  return type(v) == "string" and ("'" .. v .. "'") or tostring(v)
end

local function to_text(v, what)
  if type(v) == "string" then return v end
  if math.type(v) == "integer" then return string.format("%d", v) end
  if type(v) == "number" then
    if v == math.floor(v) and v > -1e15 and v < 1e15 then return string.format("%.1f", v) end
    return string.format("%.14g", v)
  end
  if type(v) == "boolean" then return tostring(v) end
  if is_null(v) then return "" end
  fail("%s is %s and cannot be used as text; use the template alone as the whole value",
       what, describe(v))
end

-- Tokenizer for the inside of {{ }}.
local function tokenize(src)
  local toks, pos = {}, 1
  while true do
    pos = src:match("^%s*()", pos)
    if pos > #src then break end
    local c = src:sub(pos, pos)
    if c:match("[%a_]") then
      local w, e = src:match("^([%w_]+)()", pos)
      toks[#toks + 1] = {t = "name", v = w, pos = pos}
      pos = e
    elseif c:match("%d") or (c == "-" and src:sub(pos + 1, pos + 1):match("%d")) then
      -- a dot belongs to the number only when a digit follows (ports.0.name is indexing)
      local num, e = src:match("^(%-?%d+%.%d+)()", pos)
      if not num then num, e = src:match("^(%-?%d+)()", pos) end
      toks[#toks + 1] = {t = "lit", v = math.tointeger(tonumber(num)) or tonumber(num), pos = pos}
      pos = e
    elseif c == "'" or c == '"' then
      local buf, i = {}, pos + 1
      while true do
        local ch = src:sub(i, i)
        if ch == "" then fail("unterminated string literal in '{{%s}}'", src) end
        if ch == c then break end
        if ch == "\\" then
          local nx = src:sub(i + 1, i + 1)
          if nx == "\\" or nx == "'" or nx == '"' then buf[#buf + 1] = nx
          elseif nx == "n" then buf[#buf + 1] = "\n"
          elseif nx == "t" then buf[#buf + 1] = "\t"
          else buf[#buf + 1] = "\\" .. nx end
          i = i + 2
        else
          buf[#buf + 1] = ch
          i = i + 1
        end
      end
      toks[#toks + 1] = {t = "lit", v = table.concat(buf), pos = pos}
      pos = i + 1
    elseif c:match("[%.|%(%),%[%]]") then
      toks[#toks + 1] = {t = c, pos = pos}
      pos = pos + 1
    else
      fail("unexpected '%s' in '{{%s}}'", c, src)
    end
  end
  toks[#toks + 1] = {t = "end", pos = #src + 1}
  return toks
end

local filters = {}
M.filters = filters

local function need_text(name, v)
  if type(v) == "string" then return v end
  if type(v) == "number" or type(v) == "boolean" then return to_text(v, "the input") end
  fail("filter '%s' needs text, got %s", name, describe(v))
end

local function arg_text(name, v, which)
  if type(v) == "string" then return v end
  if type(v) == "number" then return to_text(v, which) end
  fail("filter '%s': %s must be text, got %s", name, which, describe(v))
end

local function arity(name, args, min, max)
  if #args < min or #args > max then
    local want = min == max and tostring(min) or (min .. " to " .. max)
    fail("filter '%s' takes %s argument(s), got %d", name, want, #args)
  end
end

filters.default = function(v, args)
  arity("default", args, 1, 2)
  if v == UNDEFINED or is_null(v) then return args[1] end
  if args[2] == true and (v == "" or v == false) then return args[1] end
  return v
end
filters.lower = function(v, args) arity("lower", args, 0, 0); return need_text("lower", v):lower() end
filters.upper = function(v, args) arity("upper", args, 0, 0); return need_text("upper", v):upper() end
filters.trim = function(v, args)
  arity("trim", args, 0, 0)
  return (need_text("trim", v):gsub("^%s+", ""):gsub("%s+$", ""))
end
filters.replace = function(v, args)
  arity("replace", args, 2, 3)
  local s = need_text("replace", v)
  local old, new = arg_text("replace", args[1], "old"), arg_text("replace", args[2], "new")
  local count = args[3]
  if count ~= nil and math.type(count) ~= "integer" then
    fail("filter 'replace': count must be an integer, got %s", describe(count))
  end
  if old == "" then return s end
  local out, pos, done = {}, 1, 0
  while true do
    if count and done >= count then break end
    local a, b = s:find(old, pos, true)
    if not a then break end
    out[#out + 1] = s:sub(pos, a - 1)
    out[#out + 1] = new
    pos = b + 1
    done = done + 1
  end
  out[#out + 1] = s:sub(pos)
  return table.concat(out)
end
filters.regex_replace = function(v, args)
  arity("regex_replace", args, 1, 2)
  local s = need_text("regex_replace", v)
  local pattern = arg_text("regex_replace", args[1], "the pattern")
  local repl = args[2] == nil and "" or arg_text("regex_replace", args[2], "the replacement")
  local regex = M.regex
  local ok, res = pcall(regex.sub, pattern, repl, s)
  if not ok then
    if getmetatable(res) == regex.Error then
      fail("filter 'regex_replace': %s%s", res.message, res.kind == "pattern" and
           " (Python's re syntax, matched by PCRE2; README, \"regex_replace\", lists the differences)" or "")
    end
    error(res, 0)
  end
  return res
end
filters.int = function(v, args)
  arity("int", args, 0, 1)
  if math.type(v) == "integer" then return v end
  if type(v) == "number" then return math.tointeger(v // 1) end
  local n = type(v) == "string" and math.tointeger(tonumber((v:gsub("^%s+", ""):gsub("%s+$", ""))))
  if n then return n end
  if args[1] ~= nil then return args[1] end
  fail("filter 'int': %s is not an integer; add a fallback, e.g. int(0)", describe(v))
end
filters.string = function(v, args)
  arity("string", args, 0, 0)
  return to_text(v, "the value")
end

local filter_names = {}
for name in pairs(filters) do filter_names[#filter_names + 1] = name end
table.sort(filter_names)

local function closest(word, candidates) return util.closest(word, candidates, "tight") end

-- Evaluates one expression (the text between {{ and }}) against ctx.
-- Returns a value, or UNDEFINED wrapped with the name that was missing.
local function evaluate(src, ctx)
  local toks = tokenize(src)
  local i = 1
  local function peek() return toks[i] end
  local function take(t)
    local tok = toks[i]
    if t and tok.t ~= t then
      fail("expected '%s' in '{{%s}}' at column %d", t, src, tok.pos)
    end
    i = i + 1
    return tok
  end

  local missing -- the dotted name of the first undefined variable
  local function primary()
    local tok = take()
    if tok.t == "lit" then return tok.v end
    if tok.t ~= "name" then fail("expected a variable or a literal in '{{%s}}'", src) end
    local w = tok.v
    if w == "true" or w == "True" then return true end
    if w == "false" or w == "False" then return false end
    if w == "none" or w == "None" or w == "null" then return util.null end
    if w ~= "vars" and w ~= "data" then
      local hint = closest(w, {"vars", "data"})
      fail("unknown name '%s' in '{{%s}}'; variables are vars.NAME or data.NAME%s", w, src,
           hint and ("; did you mean '" .. hint .. "'?") or "")
    end
    local names = {w}
    local value = ctx.lookup(w, nil)
    local first = true
    while peek().t == "." or peek().t == "[" do
      local key
      if take().t == "." then
        -- Jinja2: `ports.0` is `ports[0]`
        if peek().t == "lit" and math.type(peek().v) == "integer" then key = take().v
        else key = take("name").v end
      else
        local k = take("lit")
        key = k.v
        take("]")
      end
      names[#names + 1] = tostring(key)
      if value == UNDEFINED then
        -- keep walking to name the whole path
      elseif first then
        value = ctx.lookup(w, key)
      elseif type(value) == "table" and not is_null(value)
             and (is_list(value) or (math.type(key) == "integer" and next(value) == nil)) then
        -- Jinja2's indexing: 0-based, negative counts from the end; out of range is an
        -- error here (Jinja2 gives an undefined value that renders as nothing).
        if math.type(key) ~= "integer" then
          value = UNDEFINED
        else
          local n = #value
          local at = key >= 0 and key + 1 or n + key + 1
          if at < 1 or at > n then
            local list = table.concat(names, ".", 1, #names - 1)
            if n == 0 then fail("index %d is out of range in '{{%s}}': %s is an empty list", key, src, list) end
            fail("index %d is out of range in '{{%s}}': %s has %d item%s (indexes 0..%d, or -1..-%d " ..
                 "from the end; Jinja2 counts from 0)", key, src, list, n, n == 1 and "" or "s", n - 1, n)
          end
          value = value[at]
        end
      elseif type(value) == "table" and not is_null(value) then
        local v = value[key]
        value = (v == nil) and UNDEFINED or v
      else
        value = UNDEFINED
      end
      first = false
      if value == UNDEFINED and not missing then missing = table.concat(names, ".") end
    end
    if first then fail("'%s' alone is not a value; write %s.NAME", w, w) end
    return value
  end

  local value = primary()
  while peek().t == "|" do
    take()
    local name = take("name").v
    local args = {}
    if peek().t == "(" then
      take()
      if peek().t ~= ")" then
        while true do
          local a = primary()
          if a == UNDEFINED then
            fail("undefined variable '%s' used as an argument of filter '%s'", missing, name)
          end
          args[#args + 1] = a
          if peek().t == "," then take() else break end
        end
      end
      take(")")
    end
    local f = filters[name]
    if not f then
      local hint = closest(name, filter_names)
      fail("unknown filter '%s'%s (filters: %s)", name,
           hint and ("; did you mean '" .. hint .. "'?") or "", table.concat(filter_names, ", "))
    end
    -- Only `default` may see an undefined value; other filters pass it on to be reported.
    if value ~= UNDEFINED or name == "default" then
      value = f(value, args, ctx)
      if value ~= UNDEFINED then missing = nil end
    end
  end
  if peek().t ~= "end" then
    fail("unexpected '%s' in '{{%s}}'", peek().v or peek().t, src)
  end
  if value == UNDEFINED then
    return UNDEFINED, missing
  end
  return value
end

local function undefined_message(name, src, ctx)
  local root, rest = name:match("^(%a+)%.(.*)$")
  local msg = string.format("undefined variable '%s' in '{{%s}}'", name, src)
  if root == "vars" then
    local top = rest:match("^[^.]+")
    local hint = ctx.var_names and closest(top, ctx.var_names())
    if hint and hint ~= top then msg = msg .. string.format(" (did you mean 'vars.%s'?)", hint) end
    if top == rest then
      return msg .. string.format("; define it under vars:, set the environment variable %s, " ..
                                  "or add '| default(...)'", top)
    end
    return msg .. "; check the name, or add '| default(...)'"
  end
  return msg .. "; data values come from earlier jobs of a Rigel sequence; add '| default(...)'"
end

-- Renders one string. Returns the value (any type when the string is one template).
function M.render_string(s, ctx)
  if not s:find("{{", 1, true) then return s end
  local whole = s:match("^{{(.-)}}$")
  if whole and not whole:find("}}", 1, true) and not whole:find("{{", 1, true) then
    local v, missing = evaluate(whole, ctx)
    if v == UNDEFINED then fail("%s", undefined_message(missing, whole, ctx)) end
    return v
  end
  local out, pos = {}, 1
  while true do
    local a, b = s:find("{{", pos, true)
    if not a then out[#out + 1] = s:sub(pos); break end
    local c, d = s:find("}}", b + 1, true)
    if not c then fail("'{{' without a closing '}}' in '%s'", s) end
    out[#out + 1] = s:sub(pos, a - 1)
    local src = s:sub(b + 1, c - 1)
    local v, missing = evaluate(src, ctx)
    if v == UNDEFINED then fail("%s", undefined_message(missing, src, ctx)) end
    out[#out + 1] = to_text(v, "'{{" .. src .. "}}'")
    pos = d + 1
  end
  return table.concat(out)
end

-- A lookup context over vars/data/env. vars values are rendered on first use (a var
-- may use other vars); a cycle is an error.
function M.context(opts)
  local vars, data = opts.vars or {}, opts.data or {}
  local env = opts.env or os.getenv
  local rendered, busy = {}, {}
  local ctx = {}
  ctx.var_names = function()
    local names = {}
    if type(vars) == "table" then for k in pairs(vars) do names[#names + 1] = tostring(k) end end
    table.sort(names)
    return names
  end
  function ctx.lookup(root, key)
    if key == nil then return root == "vars" and vars or data end
    if root == "data" then
      local v
      if type(data) == "table" then v = data[key] end
      if v == nil then return UNDEFINED end
      return v
    end
    if rendered[key] ~= nil then return rendered[key] end
    local v
    if type(vars) == "table" then v = vars[key] end
    if v == nil then
      local e = type(key) == "string" and env(key)
      if e == nil then return UNDEFINED end
      return e -- environment values are data: never rendered
    end
    if busy[key] then fail("vars.%s refers to itself (through other vars)", key) end
    busy[key] = true
    local out = M.render_value(v, ctx)
    busy[key] = nil
    rendered[key] = out
    return out
  end
  return ctx
end

-- Renders a value tree without positions (used for vars); raises on the first problem.
function M.render_value(v, ctx)
  if type(v) == "string" then return M.render_string(v, ctx) end
  if type(v) ~= "table" or is_null(v) then return v end
  local out = {}
  if is_list(v) then
    for i, item in ipairs(v) do out[i] = M.render_value(item, ctx) end
    return setmetatable(out, getmetatable(v))
  end
  for k, item in pairs(v) do
    local key = type(k) == "string" and M.render_string(k, ctx) or k
    out[key] = M.render_value(item, ctx)
  end
  return setmetatable(out, getmetatable(v))
end

-- Paths are spelled as rigelk8s.yaml spells position paths.
local child_path = require("rigelk8s.schema").child
M.child_path = child_path

-- render(value, opts) -> rendered, problems, positions
--   opts.ctx: a context from M.context (or opts.vars/opts.data/opts.env to make one)
--   opts.path: the dotted path of `value` in its file; opts.positions: the loader's map.
-- problems: list of {path=, message=, pos=} (empty when all went well). The returned
-- positions map covers the rendered paths (keys after rendering) so later messages can
-- still point at the source line.
function M.render(value, opts)
  local ctx = opts.ctx or M.context(opts)
  local src_pos = opts.positions or {}
  local problems, out_pos = {}, {}
  local function walk(v, src_path, out_path)
    out_pos[out_path] = src_pos[src_path]
    if type(v) == "string" then
      if not v:find("{{", 1, true) then return v end
      local ok, res = pcall(M.render_string, v, ctx)
      if ok then return res end
      if getmetatable(res) ~= TemplateError then error(res, 0) end
      problems[#problems + 1] = {path = out_path, message = res.message, pos = src_pos[src_path]}
      return v
    end
    if type(v) ~= "table" or is_null(v) then return v end
    local out = {}
    if is_list(v) then
      for i, item in ipairs(v) do
        out[i] = walk(item, child_path(src_path, i), child_path(out_path, i))
      end
      return setmetatable(out, getmetatable(v))
    end
    for k, item in pairs(v) do
      local key = k
      if type(k) == "string" and k:find("{{", 1, true) then
        local kok, kres = pcall(M.render_string, k, ctx)
        if not kok then
          if getmetatable(kres) ~= TemplateError then error(kres, 0) end
          problems[#problems + 1] = {path = child_path(out_path, k), message = kres.message,
                                     pos = src_pos[child_path(src_path, k)]}
        elseif type(kres) == "string" or type(kres) == "number" then
          key = type(kres) == "number" and to_text(kres, "key") or kres
        else
          problems[#problems + 1] = {path = child_path(out_path, k),
            message = string.format("key '%s' renders to %s; a key must be text", k, describe(kres)),
            pos = src_pos[child_path(src_path, k)]}
        end
      end
      if key ~= k and (out[key] ~= nil or v[key] ~= nil) then
        -- Two keys of one map would be one after rendering: which value wins would be
        -- an accident of table order.
        problems[#problems + 1] = {path = child_path(out_path, k),
          message = string.format("key '%s' renders to '%s', which is already a key of this map",
                                  k, tostring(key)),
          pos = src_pos[child_path(src_path, k)]}
      else
        out[key] = walk(item, child_path(src_path, k), child_path(out_path, key))
      end
    end
    return setmetatable(out, getmetatable(v))
  end
  local rendered = walk(value, opts.path or "", opts.path or "")
  return rendered, problems, out_pos
end

M.is_error = function(e) return getmetatable(e) == TemplateError end

return M
