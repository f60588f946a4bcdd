-- The Lua diff rigelk8s used before core/diff.c (an O(n*m) longest-common-subsequence
-- table), kept only as the reference bench/diff_bench.lua measures against.
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

return M
