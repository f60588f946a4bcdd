-- rigelk8s.diff.unified (the C Myers diff through rigelk8s.diff_core): options, and on
-- random texts an edit script that rebuilds the new text and is as short as the longest
-- common subsequence allows (computed here by the textbook table on small inputs).
local diff = require "rigelk8s.diff"

local function lines_of(s)
  local t = {}
  for l in s:gmatch("([^\n]*)\n") do t[#t + 1] = l end
  return t
end

-- Applies a unified diff to the old lines; returns the new lines and the number of -/+.
local function apply(old, d)
  local out, i, changes = {}, 1, 0
  for line in d:gmatch("([^\n]*)\n") do
    local a = line:match("^@@ %-(%d+),%d+ %+%d+,%d+ @@$")
    if a then
      -- an empty range names the line before it
      local start = tonumber(a) + (line:match("^@@ %-%d+,0 ") and 1 or 0)
      while i < start do out[#out + 1] = old[i]; i = i + 1 end
    elseif line:sub(1, 3) ~= "---" and line:sub(1, 3) ~= "+++" then
      local kind, text = line:sub(1, 1), line:sub(2)
      if kind == " " then assert(old[i] == text, "context does not match"); out[#out + 1] = text; i = i + 1
      elseif kind == "-" then assert(old[i] == text, "deleted line does not match"); i = i + 1; changes = changes + 1
      elseif kind == "+" then out[#out + 1] = text; changes = changes + 1 end
    end
  end
  while i <= #old do out[#out + 1] = old[i]; i = i + 1 end
  return out, changes
end

local function lcs_length(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = 0 end
  for i = 1, #a do
    local cur = {[0] = 0}
    for j = 1, #b do
      cur[j] = a[i] == b[j] and prev[j - 1] + 1 or math.max(prev[j], cur[j - 1])
    end
    prev = cur
  end
  return prev[#b]
end

describe("diff.unified", function()
  it("names the two sides and honours the context", function()
    local d = diff.unified("1\n2\n3\n4\n5\n", "1\n2\nX\n4\n5\n", {from = "live/x", to = "merged/x", context = 1})
    assert.equal("--- live/x\n+++ merged/x\n@@ -2,3 +2,3 @@\n 2\n-3\n+X\n 4\n", d)
    assert.equal("--- a\n+++ b\n@@ -1,5 +1,5 @@\n 1\n 2\n-3\n+X\n 4\n 5\n",
                 diff.unified("1\n2\n3\n4\n5\n", "1\n2\nX\n4\n5\n"))
    assert.equal("", diff.unified("same\n", "same\n"))
  end)

  it("shows a new object as all '+' lines (an empty text has no lines)", function()
    assert.equal("--- a\n+++ b\n@@ -0,0 +1,2 @@\n+kind: ConfigMap\n+data: {}\n",
                 diff.unified("", "kind: ConfigMap\ndata: {}\n"))
  end)

  it("gives minimal edit scripts that rebuild the new text (random texts)", function()
    math.randomseed(20261207)
    local alphabet = {"a: 1", "b: 2", "c: 3", "- x", "- y", "", "  z: [1]"}
    for _ = 1, 300 do
      local a, b = {}, {}
      for i = 1, math.random(0, 30) do a[i] = alphabet[math.random(#alphabet)] end
      for i = 1, #a do if math.random() < 0.7 then b[#b + 1] = a[i] end
                       if math.random() < 0.2 then b[#b + 1] = alphabet[math.random(#alphabet)] end end
      local at = #a > 0 and table.concat(a, "\n") .. "\n" or ""
      local bt = #b > 0 and table.concat(b, "\n") .. "\n" or ""
      local d = diff.unified(at, bt, {context = math.random(0, 3)})
      local rebuilt, changes = apply(lines_of(at), d)
      assert.same(lines_of(bt), rebuilt)
      assert.equal(#a + #b - 2 * lcs_length(a, b), changes)
    end
  end)
end)
