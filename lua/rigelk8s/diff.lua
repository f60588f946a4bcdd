-- Unified diffs of text and of Kubernetes objects (as YAML), for `rigelk8s diff`.
--   diff.unified(a_text, b_text, {from = "live", to = "merged", context = 3}) -> text or ""
--   diff.clean(obj) -> a copy without managedFields, status and resourceVersion
--   diff.mask_secrets(live, merged) -> copies with Secret data replaced by "***"
local M = {}

-- The diff itself is Myers' algorithm in linear space, in C (core/diff.c): O(N + M)
-- memory and O((N + M) D) time, so a 4,000-line manifest with 80 changes takes
-- milliseconds (README, "Performance"). An empty text has no lines; a last line without
-- a newline is marked "\ No newline at end of file".
local core = require "rigelk8s.diff_core"

function M.unified(a_text, b_text, opts)
  opts = opts or {}
  return core.unified(a_text, b_text, {from = opts.from or "a", to = opts.to or "b",
                                       context = opts.context or 3})
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
