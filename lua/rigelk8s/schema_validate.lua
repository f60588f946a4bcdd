-- The config validator: type constructors, the checks of each kind, and validate().
-- The orchestration job's schema built from them is rigelk8s.schema_orchestration; both
-- are offered together as rigelk8s.schema.
--
--   local S = require "rigelk8s.schema_validate"
--   local point = S.object({{"x", S.int{min = 0}}, {"y", S.int{default = 0}}})
--   local value, problems = S.validate(raw, point, "jobs.x.with.point")
--
-- validate() never raises for bad input: it returns the normalized value (defaults
-- filled in, strings coerced the way Rigel's pydantic models coerce them: "5" -> 5,
-- "yes" -> true) and a list of problems {path=, message=}, one per bad value.
-- A schema module adds a kind of its own as S.check[kind] = function(v, ty, path, vx),
-- with vx.problem(path, message[, at]) to report and S.validate_at(v, ty, path, vx) to
-- validate a part.
local util = require "rigelk8s.util"

local M = {}

local is_null = util.is_null
-- A table with integer keys only is a list (with holes), not a map (see util.is_list).
local function is_list(t) return util.is_list(t, "holes") end

local function show(v)
  if is_null(v) then return "null" end
  if type(v) == "string" then
    -- A huge value is shown by its start: a message must stay a message.
    if #v > 120 then
      return string.format("%q", v:sub(1, 100)):gsub("\\\n", "\\n"):sub(1, -2) ..
             string.format('..." (%d bytes)', #v)
    end
    return (string.format("%q", v):gsub("\\\n", "\\n"))
  end
  if type(v) == "table" then return is_list(v) and "a list" or "a map" end
  if math.type(v) == "float" and v == math.floor(v) then return string.format("%.1f", v) end
  return tostring(v)
end
M.show = show

-- The path of a child, spelled as rigelk8s.yaml spells position paths: keys joined by
-- ".", list indexes 0-based in brackets, keys with . [ ] # " \ (or empty) as ["key"].
local function child(path, key)
  if math.type(key) == "integer" then return string.format("%s[%d]", path, key - 1) end
  key = tostring(key)
  if key == "" or key:find('[%.%[%]#"\\]') then
    return string.format('%s["%s"]', path, (key:gsub('["\\]', "\\%0")))
  end
  if path == "" then return key end
  return path .. "." .. key
end
M.child = child

-------------------------------------------------------------------------------------------
-- Checks usable on their own (ros.lua and the specs use them too)
-------------------------------------------------------------------------------------------

-- DNS-1123 label: lower-case alphanumerics and '-', starts and ends alphanumeric, <= max.
function M.dns_label_problem(s, max)
  max = max or 63
  if #s == 0 then return "must not be empty" end
  if #s > max then return string.format("is %d characters long; the limit is %d", #s, max) end
  if s:find("[^a-z0-9%-]") then
    local bad = s:match("[^a-z0-9%-]")
    -- A control character is shown escaped, never sent to the terminal as it is.
    if bad:find("%c") then bad = string.format("\\%d", bad:byte()) end
    local fixed = s:lower():gsub("[^a-z0-9%-]", "-"):gsub("^%-+", ""):gsub("%-+$", "")
    return string.format("contains '%s'; use only lower-case letters, digits and '-' (e.g. %q)",
                         bad, fixed)
  end
  if s:find("^%-") or s:find("%-$") then
    return "must start and end with a letter or digit"
  end
  return nil
end

-- DNS-1123 subdomain (most object names): dot-separated labels, <= 253 in all.
function M.dns_subdomain_problem(s, max)
  max = max or 253
  if #s > max then return string.format("is %d characters long; the limit is %d", #s, max) end
  if s == "" then return "must not be empty" end
  for part in (s .. "."):gmatch("([^.]*)%.") do
    local why = M.dns_label_problem(part, 63)
    if why then return why end
  end
  return nil
end

-- Container image reference ([registry/]path[:tag][@digest]). Returns nil when valid.
function M.image_problem(s)
  if s == "" then return "is empty" end
  if s:find("%s") then return "contains white space" end
  local rest = s:gsub("@[%w:+.-]+$", "")
  local name, tag = rest:match("^(.*/?[^/]-):([^/:]*)$")
  if not name then name = rest end
  if tag and not tag:match("^[%w_][%w_.%-]*$") then
    return string.format("has a bad tag '%s' (letters, digits, _ . -)", tag)
  end
  local first, path = name:match("^([^/]+)/(.+)$")
  if not (first and (first:find("[.:]") or first == "localhost")) then path = name end
  if path:find("[A-Z]") then
    return string.format("has upper-case letters in its repository name '%s'; image names are " ..
                         "lower-case (e.g. %q)", path, (s:gsub(path:gsub("%p", "%%%0"), path:lower(), 1)))
  end
  if not path:match("^[a-z0-9][a-z0-9._/-]*$") or path:find("//") or path:find("/$") then
    return string.format("has a bad repository name '%s'", path)
  end
  return nil
end

local binary_suffixes = {Ki = true, Mi = true, Gi = true, Ti = true, Pi = true, Ei = true}
local decimal_suffixes = {m = true, k = true, M = true, G = true, T = true, P = true, E = true}

-- Kubernetes resource.Quantity syntax. Returns nil when valid, else the reason.
function M.quantity_problem(s)
  if type(s) == "number" then return nil end
  local sign, num, suffix = s:match("^([+-]?)([%d%.]+)(.*)$")
  if not num or not (num:match("^%d+$") or num:match("^%d+%.%d*$") or num:match("^%.%d+$")) then
    return "is not a number with an optional unit"
  end
  if suffix == "" or binary_suffixes[suffix] or decimal_suffixes[suffix] or
      suffix:match("^[eE][+-]?%d+$") then
    if sign == "-" then return "must not be negative" end
    return nil
  end
  local hint = ({KB = "K", kb = "k", MB = "M", mb = "M", GB = "G", gb = "G", TB = "T", tb = "T",
                 KiB = "Ki", MiB = "Mi", GiB = "Gi", TiB = "Ti", Gb = "G", Mb = "M", g = "G",
                 gi = "Gi", mi = "Mi", ki = "Ki", K = "k", cores = "", core = "", cpu = "",
                 cpus = ""})[(suffix:gsub("^%s+", ""))]
  if hint then
    return string.format("has unit '%s', which Kubernetes does not know; write %s%s", suffix,
                         num, hint)
  end
  return string.format("has unit '%s', which Kubernetes does not know; use Ki Mi Gi Ti (binary), " ..
                       "k M G T (decimal) or m (milli)", suffix)
end

-------------------------------------------------------------------------------------------
-- Type constructors
-------------------------------------------------------------------------------------------

function M.bool(t) t = t or {}; t.kind = "bool"; return t end
function M.int(t) t = t or {}; t.kind = "int"; return t end
function M.string(t) t = t or {}; t.kind = "string"; return t end
function M.image(t) t = t or {}; t.kind = "image"; return t end
function M.enum(values, t) t = t or {}; t.kind = "enum"; t.values = values; return t end
function M.name(t) t = t or {}; t.kind = "name"; return t end
function M.quantity(t) t = t or {}; t.kind = "quantity"; return t end
function M.abspath(t) t = t or {}; t.kind = "abspath"; return t end
function M.int_or_percent(t) t = t or {}; t.kind = "int_or_percent"; return t end
function M.command(t) t = t or {}; t.kind = "command"; return t end
function M.list(item, t) t = t or {}; t.kind = "list"; t.item = item; return t end
function M.map(value, t) t = t or {}; t.kind = "map"; t.value = value; return t end
function M.any_map(t) t = t or {}; t.kind = "any_map"; return t end
function M.env(t) t = t or {}; t.kind = "env"; return t end
-- object{ {"key", type}, ... }: fields in documentation order.
function M.object(fields, t)
  t = t or {}
  t.kind = "object"
  t.fields = fields
  t.by_key = {}
  t.keys = {}
  for _, f in ipairs(fields) do
    t.by_key[f[1]] = f[2]
    t.keys[#t.keys + 1] = f[1]
  end
  return t
end
-- bool_or(object): `true`/`false` is short for {enabled: true/false}.
function M.bool_or(object, t)
  t = t or {}
  t.kind = "bool_or"
  t.object = object
  return t
end

-------------------------------------------------------------------------------------------
-- Validation
-------------------------------------------------------------------------------------------

local bool_words = {["true"] = true, yes = true, on = true, ["1"] = true, y = true,
                    ["false"] = false, no = false, off = false, ["0"] = false, n = false}
M.BOOL_WORDS = bool_words

local function to_int(v)
  if math.type(v) == "integer" then return v end
  if math.type(v) == "float" and v == math.floor(v) then return math.tointeger(v) end
  if type(v) == "string" then
    local s = v:match("^%s*([+-]?%d+)%s*$")
    if s then return math.tointeger(tonumber(s)) end
  end
  return nil
end
M.to_int = to_int

local function to_text(v)
  if type(v) == "string" then return v end
  if math.type(v) == "integer" then return string.format("%d", v) end
  if type(v) == "number" then return string.format("%.14g", v) end
  return nil
end
M.to_text = to_text

-- check[kind](v, ty, path, vx) -> the normalized value, or nil after vx.problem(...).
local check = {}
M.check = check

function check.bool(v, ty, path, vx)
  if type(v) == "boolean" then return v end
  if type(v) == "string" and bool_words[v:lower()] ~= nil then return bool_words[v:lower()] end
  if v == 0 or v == 1 then return v == 1 end
  vx.problem(path, string.format("expected true or false, got %s", show(v)))
end

function check.int(v, ty, path, vx)
  local n = to_int(v)
  if not n then
    vx.problem(path, string.format("expected a whole number, got %s%s", show(v),
                                   ty.example and ("; e.g. " .. ty.example) or ""))
    return nil
  end
  if ty.min and n < ty.min or ty.max and n > ty.max then
    local range
    if ty.max then range = string.format("a number from %d to %d", ty.min or 0, ty.max)
    else range = string.format("%d or more", ty.min) end
    vx.problem(path, string.format("%d is out of range; use %s", n, range))
    return nil
  end
  return n
end

function check.string(v, ty, path, vx)
  local s = to_text(v)
  if not s then
    vx.problem(path, string.format("expected text, got %s", show(v)))
    return nil
  end
  if ty.nonempty and s == "" then
    vx.problem(path, "must not be empty")
    return nil
  end
  return s
end

function check.image(v, ty, path, vx)
  local s = to_text(v)
  if not s then
    vx.problem(path, string.format("expected an image such as registry.example.com/app:1.0, got %s", show(v)))
    return nil
  end
  local why = M.image_problem(s)
  if why then
    vx.problem(path, string.format("%s is not a valid image reference: it %s", show(s), why))
    return nil
  end
  return s
end

function check.enum(v, ty, path, vx)
  local s = to_text(v)
  if s then
    for _, allowed in ipairs(ty.values) do
      if s == allowed then return allowed end
    end
    for alias, target in pairs(ty.aliases or {}) do
      if s == alias then return target end
    end
    for _, allowed in ipairs(ty.values) do
      if s:lower() == allowed:lower() then return allowed end
    end
  end
  local hint = s and util.closest(s, ty.values, "tight")
  vx.problem(path, string.format("%s is not one of: %s%s", show(v), table.concat(ty.values, ", "),
                                 hint and ("; did you mean '" .. hint .. "'?") or ""))
end

function check.name(v, ty, path, vx)
  local s = to_text(v)
  if not s then
    vx.problem(path, string.format("expected a name, got %s", show(v)))
    return nil
  end
  local why = ty.subdomain and M.dns_subdomain_problem(s, ty.max) or
              (not ty.subdomain and M.dns_label_problem(s, ty.max))
  if why then
    vx.problem(path, string.format("%s is not a valid Kubernetes name: it %s", show(s), why))
    return nil
  end
  return s
end

function check.quantity(v, ty, path, vx)
  if type(v) == "number" and ty.unit_required then
    vx.problem(path, string.format("%s has no unit and would mean %s bytes; write e.g. %sGi",
                                   show(v), show(v), show(v)))
    return nil
  end
  local s = to_text(v)
  if not s then
    vx.problem(path, string.format("expected a quantity such as 5Gi, got %s", show(v)))
    return nil
  end
  local why = M.quantity_problem(s)
  if why then
    vx.problem(path, string.format("%s is not a Kubernetes quantity: it %s", show(s), why))
    return nil
  end
  if ty.unit_required and s:match("^[%d%.]+$") then
    vx.problem(path, string.format("%s has no unit and would mean %s bytes; write e.g. %sGi",
                                   show(s), s, s))
    return nil
  end
  if ty.positive and tonumber(s:match("^[%d%.]+")) == 0 then
    vx.problem(path, string.format("%s must be greater than zero", show(s)))
    return nil
  end
  return s
end

function check.abspath(v, ty, path, vx)
  local s = to_text(v)
  if not s or s:sub(1, 1) ~= "/" then
    local fixed = s and ("/" .. s:gsub("^%./", ""))
    vx.problem(path, string.format("%s is not an absolute path; start it with '/'%s", show(v),
                                   fixed and string.format(" (e.g. %q)", fixed) or ""))
    return nil
  end
  if s:find(":") and ty.no_colon then
    vx.problem(path, string.format("%s must not contain ':'", show(s)))
    return nil
  end
  return s
end

function check.int_or_percent(v, ty, path, vx)
  local n = to_int(v)
  if n then
    if n < 0 then
      vx.problem(path, string.format("%d is negative; use 0 or more, or a percentage like \"25%%\"", n))
      return nil
    end
    return n
  end
  if type(v) == "string" then
    local p = v:match("^%s*(%d+)%%%s*$")
    if p then
      if tonumber(p) > 100 then
        vx.problem(path, string.format("%s is more than 100%%", show(v)))
        return nil
      end
      return p .. "%"
    end
  end
  vx.problem(path, string.format("expected a whole number (e.g. 1) or a percentage (e.g. \"25%%\"), got %s",
                                 show(v)))
end

function check.command(v, ty, path, vx)
  local s = to_text(v)
  if s then
    if s:match("^%s*$") then vx.problem(path, "must not be empty"); return nil end
    return s
  end
  if is_list(v) then
    local out = {}
    for i, item in ipairs(v) do
      local t = to_text(item)
      if not t then
        vx.problem(child(path, i), string.format("expected text, got %s", show(item)))
      end
      out[i] = t
    end
    if #out == 0 then vx.problem(path, "must not be an empty list"); return nil end
    return out
  end
  vx.problem(path, string.format("expected a command (text or a list of arguments), got %s", show(v)))
end

local validate

function check.list(v, ty, path, vx)
  if type(v) == "table" and not is_null(v) and next(v) == nil then return {} end
  if not is_list(v) then
    vx.problem(path, string.format("expected a list, got %s%s", show(v),
                                   ty.example and ("; e.g. " .. ty.example) or ""))
    return nil
  end
  local out = {}
  for i, item in ipairs(v) do
    out[#out + 1] = validate(item, ty.item, child(path, i), vx)
  end
  if ty.unique then
    local seen = {}
    for i, item in ipairs(out) do
      local key = type(item) == "table" and item[ty.unique]
      if key ~= nil then
        if seen[key] then
          vx.problem(child(child(path, i), ty.unique), string.format(
            "%s %s is used twice (also at %s); each must be unique", ty.unique, show(key),
            child(path, seen[key])))
        else
          seen[key] = i
        end
      end
    end
  end
  return out
end

function check.map(v, ty, path, vx)
  if type(v) ~= "table" or is_null(v) or (is_list(v) and next(v) ~= nil) then
    vx.problem(path, string.format("expected a map of key: value, got %s", show(v)))
    return nil
  end
  local out = {}
  for k, item in pairs(v) do
    if type(k) ~= "string" then
      vx.problem(child(path, tostring(k)), "keys must be text")
    else
      out[k] = validate(item, ty.value, child(path, k), vx)
    end
  end
  return out
end

-- Free-form maps (Kubernetes fragments). Quantities under `resources` are checked anyway,
-- because a typo there otherwise surfaces as an opaque API-server rejection.
local function check_resources(v, path, vx)
  if type(v) ~= "table" or is_null(v) then return end
  for k, item in pairs(v) do
    local p = child(path, k)
    if (k == "limits" or k == "requests") and type(item) == "table" and not is_list(item) and
        path:match("resources$") then
      for res, q in pairs(item) do
        local why = (type(q) == "string" or type(q) == "number") and M.quantity_problem(to_text(q))
                    or (type(q) ~= "string" and type(q) ~= "number" and "is not a quantity")
        if why then
          local hint = why:find("; write ", 1, true) and "" or " (cpu: 500m or 2; memory: 256Mi or 1Gi)"
          vx.problem(child(p, res), string.format("%s is not a Kubernetes quantity: it %s%s",
                                                  show(q), why, hint))
        end
      end
    elseif type(item) == "table" then
      check_resources(item, type(k) == "number" and child(path, k) or p, vx)
    end
  end
end
M.check_resources = check_resources

function check.any_map(v, ty, path, vx)
  if type(v) ~= "table" or is_null(v) or (is_list(v) and next(v) ~= nil) then
    vx.problem(path, string.format("expected a map (a Kubernetes object fragment), got %s", show(v)))
    return nil
  end
  check_resources(v, path, vx)
  return v
end

function check.env(v, ty, path, vx)
  local out = {}
  if is_list(v) then
    for i, item in ipairs(v) do
      local p = child(path, i)
      if type(item) ~= "table" or is_list(item) or type(item.name) ~= "string" then
        vx.problem(p, "expected {name: NAME, value: VALUE}")
      else
        local e = {name = item.name}
        if item.valueFrom ~= nil then e.valueFrom = item.valueFrom
        else
          local t = to_text(item.value) or (type(item.value) == "boolean" and tostring(item.value))
          if t == nil and not is_null(item.value) then
            vx.problem(child(p, "value"), "expected text")
          end
          e.value = t or ""
        end
        out[#out + 1] = e
      end
    end
    return out
  end
  if type(v) == "table" and not is_null(v) then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do
      local item = v[k]
      local t = to_text(item) or (type(item) == "boolean" and tostring(item))
      if t == nil then
        vx.problem(child(path, tostring(k)), string.format("expected text, got %s", show(item)))
      else
        out[#out + 1] = {name = tostring(k), value = t}
      end
    end
    return out
  end
  vx.problem(path, string.format("expected a map NAME: VALUE or a list of {name, value}, got %s", show(v)))
end

function check.object(v, ty, path, vx)
  if type(v) ~= "table" or (is_list(v) and next(v) ~= nil) then
    if ty.example then
      vx.problem(path, string.format("expected a map, got %s; write it as %s", show(v),
                                     -- a function: the user's text may hold '%'
                                     (ty.example:gsub("VALUE", function()
                                       return tostring(to_text(v) or "...")
                                     end))))
    else
      vx.problem(path, string.format("expected a map with keys %s, got %s",
                                     table.concat(ty.keys, ", "), show(v)))
    end
    return nil
  end
  local out = {}
  local unknown = {}
  for k in pairs(v) do
    if not ty.by_key[k] then unknown[#unknown + 1] = tostring(k) end
  end
  table.sort(unknown)
  for _, k in ipairs(unknown) do
    local hint = util.closest(k, ty.keys, "tight")
    if hint and v[hint] == nil then
      vx.problem(child(path, k), string.format("unknown key '%s'; did you mean '%s'?", k, hint),
                 child(path, k) .. "#key")
    else
      vx.problem(child(path, k), string.format("unknown key '%s'; known keys: %s", k,
                                                 table.concat(ty.keys, ", ")), child(path, k) .. "#key")
    end
  end
  for _, f in ipairs(ty.fields) do
    local key, fty = f[1], f[2]
    local raw = v[key]
    if is_null(raw) then
      if fty.required then
        vx.problem(path, string.format("missing required key '%s'%s", key,
                                       fty.example and ("; add e.g. " .. key .. ": " .. fty.example) or ""),
                   child(path, key))
      elseif fty.kind == "object" and not fty.optional then
        out[key] = check.object({}, fty, child(path, key), vx) -- nested defaults
      elseif fty.kind == "bool_or" then
        local obj = check.object({}, fty.object, child(path, key), vx)
        if not fty.unset then obj.enabled = false end
        out[key] = obj
      elseif fty.default ~= nil then
        local d = fty.default
        if type(d) == "function" then d = d(out, v)
        elseif type(d) == "table" then d = validate(d, fty, child(path, key), vx) end
        out[key] = d
      end
    else
      out[key] = validate(raw, fty, child(path, key), vx)
    end
  end
  if ty.check then ty.check(out, path, vx) end
  return out
end

function check.bool_or(v, ty, path, vx)
  if type(v) == "boolean" or (type(v) == "string" and bool_words[v:lower()] ~= nil) then
    local obj = validate({}, ty.object, path, vx)
    obj.enabled = check.bool(v, ty, path, vx)
    return obj
  end
  return validate(v, ty.object, path, vx)
end

function validate(v, ty, path, vx)
  if is_null(v) then
    if ty.default ~= nil then return ty.default end
    return nil
  end
  local f = check[ty.kind]
  if not f then error("schema: unknown kind " .. tostring(ty.kind)) end
  return f(v, ty, path, vx)
end
-- validate_at(v, ty, path, vx): a part of a value, inside a check of a kind.
M.validate_at = validate

-- validate(value, type, path) -> normalized, problems ({path=, message=, at=}).
-- `at` is the path whose source position is best for the message (a missing key
-- points at its parent map).
function M.validate(value, ty, path)
  local problems = {}
  local vx = {}
  -- p: the path shown in the message; at: the path whose position to report (default p).
  function vx.problem(p, message, at)
    problems[#problems + 1] = {path = p, at = at or p, message = message}
  end
  local out = validate(value, ty, path or "", vx)
  return out, problems
end

return M
