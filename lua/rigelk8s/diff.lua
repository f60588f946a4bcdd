-- Unified diffs of text and of Kubernetes objects (as YAML), for `rigelk8s diff`.
--   diff.unified(a_text, b_text, {from = "live", to = "merged", context = 3}) -> text or ""
--   diff.clean(obj) -> a copy without managedFields, status and resourceVersion
--   diff.mask_secrets(live, merged) -> copies with Secret data replaced by "***"
local M = {}

local function split_lines(s)
  local out = {}
  for line in (s .. (s:sub(-1) == "\n" and "" or "\n")):gmatch("(.-)\n") do out[#out + 1] = line end
  return out
end

-- Longest common subsequence table over lines; objects are small, so O(n*m) is fine.
local function lcs_ops(a, b)
  local n, m = #a, #b
  local L = {}
  for i = n + 1, 1, -1 do
    L[i] = {}
    for j = m + 1, 1, -1 do
      if i > n or j > m then L[i][j] = 0
      elseif a[i] == b[j] then L[i][j] = L[i + 1][j + 1] + 1
      else L[i][j] = math.max(L[i + 1][j], L[i][j + 1]) end
    end
  end
  local ops, i, j = {}, 1, 1
  while i <= n or j <= m do
    if i <= n and j <= m and a[i] == b[j] then
      ops[#ops + 1] = {" ", a[i], i, j}; i, j = i + 1, j + 1
    elseif i <= n and (j > m or L[i + 1][j] >= L[i][j + 1]) then
      ops[#ops + 1] = {"-", a[i], i, j}; i = i + 1
    else
      ops[#ops + 1] = {"+", b[j], i, j}; j = j + 1
    end
  end
  return ops
end

function M.unified(a_text, b_text, opts)
  opts = opts or {}
  local ctxn = opts.context or 3
  local a, b = split_lines(a_text), split_lines(b_text)
  local ops = lcs_ops(a, b)
  local changed = {}
  for k, op in ipairs(ops) do if op[1] ~= " " then changed[#changed + 1] = k end end
  if #changed == 0 then return "" end
  local out = {string.format("--- %s", opts.from or "a"), string.format("+++ %s", opts.to or "b")}
  local k = 1
  while k <= #changed do
    local first, last = changed[k], changed[k]
    while k < #changed and changed[k + 1] - last <= 2 * ctxn + 1 do k = k + 1; last = changed[k] end
    local s, e = math.max(1, first - ctxn), math.min(#ops, last + ctxn)
    local a_start, b_start, a_len, b_len = nil, nil, 0, 0
    for x = s, e do
      local op = ops[x]
      if op[1] ~= "+" then a_len = a_len + 1; a_start = a_start or op[3] end
      if op[1] ~= "-" then b_len = b_len + 1; b_start = b_start or op[4] end
    end
    out[#out + 1] = string.format("@@ -%d,%d +%d,%d @@", a_len > 0 and a_start or 0, a_len,
                                  b_len > 0 and b_start or 0, b_len)
    for x = s, e do out[#out + 1] = ops[x][1] .. ops[x][2] end
    k = k + 1
  end
  return table.concat(out, "\n") .. "\n"
end

local function copy(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = copy(x) end
  return setmetatable(c, getmetatable(v))
end

-- What an apply can change: everything but managedFields and status. Status is the
-- controllers' to write (a rollout moving between the live GET and the dry run would
-- otherwise show up as a difference the Rigelfile did not make), and so is the
-- resourceVersion that every status write bumps.
function M.clean(obj)
  if obj == nil then return nil end
  local c = copy(obj)
  c.status = nil
  if c.metadata then
    c.metadata.managedFields = nil
    c.metadata.resourceVersion = nil
  end
  return c
end

-- Secret values never reach the screen: equal values show as ***, changed ones as
-- "*** (before)" / "*** (after)", like kubectl diff.
function M.mask_secrets(live, merged)
  for _, field in ipairs{"data", "stringData"} do
    local a = live and live.kind == "Secret" and live[field]
    local b = merged and merged.kind == "Secret" and merged[field]
    if type(a) == "table" or type(b) == "table" then
      local keys = {}
      for k in pairs(type(a) == "table" and a or {}) do keys[k] = true end
      for k in pairs(type(b) == "table" and b or {}) do keys[k] = true end
      for k in pairs(keys) do
        local va, vb = a and a[k], b and b[k]
        if va ~= nil and vb ~= nil and va == vb then
          a[k], b[k] = "***", "***"
        else
          if va ~= nil then a[k] = "*** (before)" end
          if vb ~= nil then b[k] = "*** (after)" end
        end
      end
    end
  end
  return live, merged
end

return M
