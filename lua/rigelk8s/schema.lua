-- The orchestration config schema and a small validator for it. The schema is documented
-- for users at the top of rigelfile.lua; this file is the machine-readable copy.
--
--   local schema = require "rigelk8s.schema"
--   local cfg, problems = schema.validate(raw, schema.orchestration, "jobs.x.with.orchestration")
--
-- validate() never raises for bad input: it returns the normalized value (defaults
-- filled in, strings coerced the way Rigel's pydantic models coerce them: "5" -> 5,
-- "yes" -> true) and a list of problems {path=, message=}, one per bad value.
local M = {}

local core_ok, core = pcall(require, "rigelk8s")
if not core_ok or type(core) ~= "table" then core = {} end
local null = core.null

local function is_null(v) return v == nil or (null ~= nil and v == null) end

local function is_list(t)
  if type(t) ~= "table" or is_null(t) then return false end
  if core.is_array and core.is_array(t) then return true end
  if next(t) == nil then return false end
  for k in pairs(t) do
    if math.type(k) ~= "integer" then return false end
  end
  return true
end
M.is_list = is_list

local function closest(word, candidates)
  -- Suggestions must be close enough to help: none for very short words.
  local ok, cli = pcall(require, "rigelk8s.cli")
  if not ok then return nil end
  local limit = #word <= 2 and 0 or #word <= 4 and 1 or #word <= 8 and 2 or 3
  local best, best_d
  for _, c in ipairs(candidates) do
    local d = cli.distance(word, c)
    if d <= limit and (not best_d or d < best_d) then best, best_d = c, d end
  end
  return best
end
M.closest = closest

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

local check = {}

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
  local hint = s and closest(s, ty.values)
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
    local hint = closest(k, ty.keys)
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

-------------------------------------------------------------------------------------------
-- The orchestration job's schema
-------------------------------------------------------------------------------------------

M.ROS1_DISTROS = {"noetic", "melodic", "kinetic", "lunar", "indigo"}
M.ROS2_DISTROS = {"foxy", "galactic", "humble", "iron", "jazzy", "kilted", "rolling"}

local S = M

local readiness = S.object({
  {"command", S.command{}},
  {"initial_delay_seconds", S.int{min = 0, default = 5}},
  {"period_seconds", S.int{min = 1, default = 10}},
  -- The Python plugin's meaning: the deadline of the whole readiness wait (--timeout wins).
  {"timeout_seconds", S.int{min = 1}},
  {"probe_timeout_seconds", S.int{min = 1, default = 1}},
  {"failure_threshold", S.int{min = 1, default = 3}},
  {"init_container", S.bool{}},
}, {example = "readiness: {command: VALUE}"})

local volume = S.object({
  {"name", S.name{required = true, max = 59, example = "data"}},
  {"size", S.quantity{required = true, positive = true, unit_required = true, example = "1Gi"}},
  {"storage_class", S.string{nonempty = true}},
  {"host_path", S.abspath{}},
  {"mount_path", S.abspath{no_colon = true}},
  {"access_mode", S.enum({"ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"},
                         {default = "ReadWriteOnce"})},
})

local persistent_storage = S.object({
  {"volumes", S.list(volume, {default = {}, unique = "name", example = "[{name: data, size: 1Gi}]"})},
})

local rolling_update = S.object({
  {"strategy", S.enum({"Rolling", "Recreate"}, {default = "Rolling",
                      aliases = {RollingUpdate = "Rolling"}})},
  {"max_surge", S.int_or_percent{default = 1}},
  {"max_unavailable", S.int_or_percent{default = 0}},
}, {check = function(ru, path, vx)
  if ru.strategy == "Rolling" and (ru.max_surge == 0 or ru.max_surge == "0%") and
      (ru.max_unavailable == 0 or ru.max_unavailable == "0%") then
    vx.problem(path .. ".max_surge", "max_surge and max_unavailable are both 0, so a rollout " ..
               "could never make progress; set max_surge: 1")
  end
end})

local resources = S.object({
  {"requests", S.map(S.quantity{})},
  {"limits", S.map(S.quantity{})},
})

local placement = {kind = "placement"}
function check.placement(v, ty, path, vx)
  if type(v) == "string" then
    return check.enum(v, {values = {"local", "remote"}}, path, vx)
  end
  if type(v) == "table" and not is_list(v) then
    return validate(v, S.map(S.string{}), path, vx)
  end
  vx.problem(path, string.format("expected local, remote or a nodeSelector map, got %s", show(v)))
end

local component = S.object({
  {"name", S.name{required = true, max = 63, example = "planner"}},
  {"readiness", readiness},
  {"volumes", S.list(S.name{})},
  {"image", S.image{}},
  {"placement", placement},
  {"replicas", S.int{min = 0, default = 1}},
  {"env", S.env{}},
  {"command", S.command{}},
  {"args", S.list(S.string{})},
  {"after", S.list(S.name{})},
  {"resources", resources},
})

local components = S.list(component, {unique = "name"})

local distributed = S.object({
  {"enabled", S.bool{default = false}},
  {"default_to_remote", S.bool{default = false}},
  {"force_local_flag", S.bool{default = false}},
  {"components", components},
})

-- The plugin's dict forms: `prometheus: {enabled: true, ...}`. Left out, a switch is on
-- when observability.enabled is (rigelfile.finish fills that in: enabled stays nil here).
local prometheus = S.bool_or(S.object({
  {"enabled", S.bool{}},
  {"retention", S.string{nonempty = true}},
  {"scrape_interval", S.string{nonempty = true}},
}), {unset = true})

local loki = S.bool_or(S.object({
  {"enabled", S.bool{}},
  {"retention", S.string{nonempty = true}},
}), {unset = true})

local grafana = S.bool_or(S.object({
  {"enabled", S.bool{}},
  {"default_dashboards", S.bool{default = false}},
  -- Secret-like: never printed; given to helm in a 0600 values file.
  {"admin_password", S.string{nonempty = true, secret = true}},
  {"admin_user", S.string{nonempty = true}},
}), {unset = true})

local observability = S.object({
  {"enabled", S.bool{default = false}},
  {"prometheus", prometheus},
  {"loki", loki},
  {"grafana", grafana},
  {"node_exporter", S.bool{default = false}},
  {"ros_metrics", S.bool{default = false}},
  {"metrics_port", S.int{min = 1, max = 65535, default = 9102}},
  {"metrics_path", S.abspath{default = "/metrics"}},
  {"namespace", S.name{default = "monitoring"}},
})

local results = S.object({
  {"source_path", S.abspath{}},
  {"container", S.string{default = "ros-app"}},
  {"destination", S.string{}},
})

-- hooks: a Lua file (or a list of them) that registers workflow hooks (before_apply,
-- after_apply, on_ready, on_failure); see lua/rigelk8s/workflow.lua.
local hooks = {kind = "hook_files"}
function check.hook_files(v, ty, path, vx)
  if type(v) == "string" then v = {v} end
  if type(v) ~= "table" or not is_list(v) then
    vx.problem(path, "expected a Lua file name or a list of them, e.g. hooks: hooks.lua")
    return nil
  end
  local out = {}
  for i, f in ipairs(v) do
    if type(f) ~= "string" or not f:match("%.lua$") then
      vx.problem(child(path, i), "expected the name of a Lua file ending in .lua, e.g. hooks.lua")
    else
      out[#out + 1] = f
    end
  end
  return out
end

local fleet_member = S.object({
  {"context", S.string{required = true, nonempty = true, example = "robot-1"}},
  {"namespace", S.name{}},
  {"name", S.string{}},
  {"kubeconfig", S.string{nonempty = true}},
  {"labels", S.any_map{}},
})

local additional = S.object({
  {"application", S.any_map{}},
  {"ros_master", S.any_map{}},
})

-- Private registries: a kubernetes.io/dockerconfigjson Secret made from the user's docker
-- config, holding only the entry of the application image's registry.
local registry_credentials = {kind = "registry_credentials"}
function check.registry_credentials(v, ty, path, vx)
  local src
  if type(v) == "table" and not is_list(v) then
    for k in pairs(v) do
      if k ~= "from_docker_config" then
        vx.problem(child(path, k), string.format("unknown key '%s'; known keys: from_docker_config", tostring(k)),
                   child(path, k) .. "#key")
      end
    end
    src = v.from_docker_config
  else
    vx.problem(path, "expected a map, e.g. registry_credentials: {from_docker_config: true}")
    return nil
  end
  if is_null(src) then
    vx.problem(path, "missing key 'from_docker_config'; add from_docker_config: true " ..
               "(~/.docker/config.json) or the path of a docker config file")
    return nil
  end
  if type(src) == "boolean" or (type(src) == "string" and bool_words[src:lower()] ~= nil) then
    local b = check.bool(src, ty, child(path, "from_docker_config"), vx)
    if not b then return nil end
    return {from_docker_config = true}
  end
  if type(src) ~= "string" or src == "" then
    vx.problem(child(path, "from_docker_config"), string.format(
      "expected true or the path of a docker config file, got %s", show(src)))
    return nil
  end
  return {from_docker_config = src}
end

M.orchestration = S.object({
  {"deploy_ros_master", S.bool{default = false}},
  {"namespace", S.name{default = "default"}},
  {"deployment_name", S.name{default = "rigel-k8s-application", max = 55}},
  {"application_image", S.image{}},
  {"ros_master_image", S.image{}},
  {"ros_master_uri", S.string{nonempty = true}},
  {"distro", S.enum({})}, -- values filled in below
  {"ros_version", S.enum({"ros1", "ros2"}, {aliases = {["1"] = "ros1", ["2"] = "ros2"}})},
  {"ros_domain_id", S.int{min = 0, max = 232, default = 0}},
  {"wait_for_master", S.bool{default = false}},
  {"master_init_container", S.bool{default = false}},
  {"replicas", S.int{min = 0, default = 1}},
  {"progress_deadline_seconds", S.int{min = 1, default = 600}},
  {"readiness", readiness},
  {"persistent_storage", persistent_storage},
  {"rolling_update", rolling_update},
  {"distributed", distributed},
  {"components", components},
  {"observability", observability},
  {"results", results},
  {"hooks", hooks},
  {"fleet", S.list(fleet_member)},
  {"image_pull_secrets", S.list(S.name{max = 253, subdomain = true}, {example = "[regcred]"})},
  {"registry_credentials", registry_credentials},
  {"additional_k8s_params", additional},
})
-- `distro` accepts every known ROS 1 and ROS 2 distribution.
do
  local all = {}
  for _, d in ipairs(M.ROS1_DISTROS) do all[#all + 1] = d end
  for _, d in ipairs(M.ROS2_DISTROS) do all[#all + 1] = d end
  M.orchestration.by_key.distro.values = all
  M.DISTROS = all
end

-------------------------------------------------------------------------------------------
-- ros_graph: what "done" means for the ROS graph (lua/rigelk8s/rosgraph.lua), under
-- orchestration and per component. Absent: no graph check.
-------------------------------------------------------------------------------------------

-- A global ROS graph name: /talker, /robot1/scan.
local ros_name = {kind = "ros_name"}
function check.ros_name(v, ty, path, vx)
  local s = to_text(v)
  if not s or not s:match("^/[%w_/~]*$") or s:match("//") or (#s > 1 and s:match("/$")) then
    vx.problem(path, string.format("%s is not a global ROS name; write it with a leading slash, e.g. /%s",
                                   show(v), (s or "talker"):gsub("^/*", ""):gsub("[^%w_/]", "_")))
    return nil
  end
  return s
end

-- Seconds: a number or a duration such as 60s, 2m, 1m30s.
local seconds = {kind = "seconds"}
function check.seconds(v, ty, path, vx)
  if type(v) == "number" and v > 0 then return v end
  local s = to_text(v)
  local total, rest = 0, s
  if s and s:match("^%d+%.?%d*$") then total, rest = tonumber(s), "" end
  while rest and rest ~= "" do
    local n, unit, tail = rest:match("^(%d+%.?%d*)([hms])(.*)$")
    if not n then rest = nil; break end
    total = total + tonumber(n) * ({h = 3600, m = 60, s = 1})[unit]
    rest = tail
  end
  if not rest or total <= 0 then
    vx.problem(path, string.format("expected a positive duration such as 60s or 2m, got %s", show(v)))
    return nil
  end
  return total
end

local topic_want = S.object({
  {"publishers", S.int{min = 0, default = 0}},
  {"subscribers", S.int{min = 0, default = 0}},
}, {example = "{publishers: 1, subscribers: 1}"})

M.ros_graph = S.object({
  {"nodes", S.list(ros_name, {default = {}, example = "[/talker, /listener]"})},
  {"topics", S.map(topic_want, {default = {}})},
  {"services", S.list(ros_name, {default = {}, example = "[/add_two_ints]"})},
  {"timeout", seconds},
  {"service", S.name{default = "ros-master"}},
  {"port", S.int{min = 1, max = 65535, default = 11311}},
  {"on_unavailable", S.enum({"job", "fail", "skip"}, {default = "job"})},
}, {optional = true, check = function(g, path, vx)
  g.timeout = g.timeout or 60
  for name in pairs(g.topics or {}) do
    local p = child(path .. ".topics", name)
    check.ros_name(name, ros_name, p, {problem = function(_, m) vx.problem(p, m, p .. "#key") end})
  end
end})

for _, obj in ipairs{M.orchestration, component} do
  obj.fields[#obj.fields + 1] = {"ros_graph", M.ros_graph}
  obj.by_key.ros_graph = M.ros_graph
  obj.keys[#obj.keys + 1] = "ros_graph"
end

-- ros2: how ROS 2 pods find each other (lua/rigelk8s/ros2net.lua).
M.ros2 = S.object({
  {"rmw", S.enum({"fastdds", "cyclonedds"}, {default = "fastdds",
                 aliases = {rmw_fastrtps_cpp = "fastdds", rmw_cyclonedds_cpp = "cyclonedds",
                            fastrtps = "fastdds", cyclone = "cyclonedds"}})},
  {"shared_memory", S.bool{default = false}},
  {"super_client", S.bool{default = true}},
})
M.orchestration.fields[#M.orchestration.fields + 1] = {"ros2", M.ros2}
M.orchestration.by_key.ros2 = M.ros2
M.orchestration.keys[#M.orchestration.keys + 1] = "ros2"

return M
