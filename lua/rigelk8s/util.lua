-- rigelk8s.util: the small value helpers the stock modules share, one copy each.
--
--   local util = require "rigelk8s.util"
--   util.null, util.is_null(v)      JSON/YAML null (rigelk8s.null); is_null is also true for nil
--   util.list(t)                    t (or {}) marked as a list, so that {} encodes as []
--   util.is_list(v[, how])          whether v is a list (below)
--   util.is_map(v[, how])           a table that is neither null nor a list (same `how`)
--   util.distance(a, b)             Levenshtein distance
--   util.closest(word, candidates[, how])  the spelling hint for a typo, or nil
--   util.sorted_keys(t)             the keys of t, sorted by their text
--   util.contains(list, v)          whether v is an item of list
--
-- is_list is rigelk8s.is_array (a table marked as a list, or one whose keys are exactly
-- 1..n) unless `how` names a looser reading, used where a table built in Lua must still
-- count as a list:
--   "holes"  any non-empty table whose keys are all integers ({[1] = a, [3] = b}): the
--            config validator reports such a table as a list with a bad item, not as a map
--            with odd keys;
--   "first"  any table with an item at [1], whatever else it holds ({1, 2, n = 2}): the
--            template engine indexes and joins such a table as a list, and a sequence
--            reads rendered values (matrix values, a Lua job's args) the same way.
local core = require "rigelk8s"

local M = {}

M.null = core.null

function M.is_null(v) return v == nil or v == core.null end

function M.list(t) return core.array(t or {}) end

local HOW = {
  holes = function(t)
    if next(t) == nil then return false end
    for k in pairs(t) do
      if math.type(k) ~= "integer" then return false end
    end
    return true
  end,
  first = function(t) return t[1] ~= nil end,
}

function M.is_list(v, how)
  if type(v) ~= "table" then return false end
  if core.is_array(v) then return true end
  if how == nil then return false end
  local f = HOW[how]
  if not f then error("util.is_list: unknown reading '" .. tostring(how) .. "' (holes or first)", 2) end
  return f(v)
end

function M.is_map(v, how) return type(v) == "table" and not M.is_list(v, how) end

function M.distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = {[0] = i}
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

-- How many edits a hint may be away from the word.
local LIMIT = {
  -- Flags, commands, hook and job names: up to a third of the word, at least 2.
  default = function(n) return math.max(2, n // 3) end,
  -- Config keys and values, template names: no hint for words of 1-2 letters (any
  -- candidate would do), 1 edit up to 4 letters, 2 up to 8, 3 beyond.
  tight = function(n) return n <= 2 and 0 or n <= 4 and 1 or n <= 8 and 2 or 3 end,
}

-- closest(word, candidates[, how]): the nearest candidate within the limit of `how`
-- ("tight", or the default), the first listed on a tie; nil when none is near enough.
function M.closest(word, candidates, how)
  local limit = LIMIT[how or "default"]
  if not limit then error("util.closest: unknown limit '" .. tostring(how) .. "' (tight)", 2) end
  local max = limit(#word)
  local best, best_d
  for _, c in ipairs(candidates) do
    local d = M.distance(word, c)
    if d <= max and (not best_d or d < best_d) then best, best_d = c, d end
  end
  return best
end

function M.sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

function M.contains(list, v)
  for _, x in ipairs(list) do if x == v then return true end end
  return false
end

-- A stand-in for a file (io.stdout, io.stderr) that keeps what is written. Returns the
-- file and a function that gives the text so far.
function M.capture_file()
  local buf = {}
  local f = {}
  function f.write(self, ...)
    for i = 1, select("#", ...) do buf[#buf + 1] = tostring((select(i, ...))) end
    return self
  end
  function f.flush(self) return self end
  function f.setvbuf() return true end
  function f.close() return true end
  function f.lines() return function() return nil end end
  function f.seek() return 0 end
  return f, function() return table.concat(buf) end
end

return M
