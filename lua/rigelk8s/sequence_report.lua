-- rigelk8s.sequence_report: what a sequence report says: job counts and the text summary.
local null = require("rigelk8s.util").null

local M = {}

local function each_job(stages, fn, label)
  for _, s in ipairs(stages or {}) do
    for _, j in ipairs(s.jobs or {}) do fn(s, j, label) end
    for _, b in ipairs(s.branches or {}) do each_job(b.stages, fn, b.label) end
  end
end

-- Counts of job states over the whole report (branches included).
function M.counts(report)
  local c = {succeeded = 0, failed = 0, skipped = 0, not_run = 0, interrupted = 0}
  each_job(report.stages, function(_, j) c[j.state] = (c[j.state] or 0) + 1 end)
  return c
end

-- The text summary: one line per job, then the verdict.
function M.summary(report)
  local lines = {}
  local SYMBOL = {succeeded = "✓", failed = "✗", skipped = "-", not_run = " ", interrupted = "!"}
  local function walk(stages, indent, label, outer)
    for _, s in ipairs(stages or {}) do
      local index = (outer and (outer .. ".") or "") .. s.index
      for _, j in ipairs(s.jobs or {}) do
        local what = j.name .. (j.role == "dependency" and " (dependency)" or "")
        lines[#lines + 1] = string.format("%s%s stage %-4s %-40s %-11s %s", indent, SYMBOL[j.state] or "?", index,
          (label and ("[" .. label .. "] ") or "") .. what, j.state,
          j.elapsed_seconds ~= null and j.elapsed_seconds and string.format("%.1fs", j.elapsed_seconds) or "")
      end
      if s.kind == "parallel" and s.state == "not_run" then
        lines[#lines + 1] = string.format("%s  stage %-4s %-40s %s", indent, index, "(parallel)", s.state)
      end
      for _, b in ipairs(s.branches or {}) do
        if #(b.stages or {}) == 0 and b.message then
          lines[#lines + 1] = string.format("%s✗ stage %-4s [%s] %s", indent, index, b.label, b.message)
        end
        walk(b.stages, indent, b.label, index)
      end
    end
  end
  walk(report.stages, "  ")
  local c = M.counts(report)
  local parts = {string.format("%d succeeded", c.succeeded)}
  if c.failed > 0 then parts[#parts + 1] = string.format("%d failed", c.failed) end
  if c.skipped > 0 then parts[#parts + 1] = string.format("%d skipped", c.skipped) end
  if c.not_run > 0 then parts[#parts + 1] = string.format("%d not run", c.not_run) end
  if c.interrupted > 0 then parts[#parts + 1] = string.format("%d interrupted", c.interrupted) end
  local verdict = string.format("sequence %s %s in %.1fs: %s", report.sequence, report.state,
                                report.elapsed_seconds, table.concat(parts, ", "))
  if report.failed_job then
    verdict = verdict .. string.format("\nfailed: %s: %s", report.failed_job,
                                       tostring(report.message or ""):gsub("\n", "\n  "))
  end
  return "summary:\n" .. table.concat(lines, "\n") .. "\n" .. verdict
end

return M
