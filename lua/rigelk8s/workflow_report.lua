-- rigelk8s.workflow_report: the end of a run, defined into rigelk8s.workflow: the
-- failure report of a failed wait (wf.failure_report, wf.report_dir), the outcome hooks
-- (wf.result_hooks), the final report (wf.report, wf.applied_text, wf.object_lines) and
-- wf.finish, which prints it and gives the exit code.
local errors = require "rigelk8s.errors"
local sys = require "rigelk8s.sys"

local M = require "rigelk8s.workflow_context"

-- Where failure reports go: --report-dir, else RIGELK8S_REPORT_DIR, else nil (the working
-- directory).
function M.report_dir(ctx)
  local env = os.getenv("RIGELK8S_REPORT_DIR")
  return ctx.opts.report_dir or (env ~= "" and env or nil)
end

-- Saves the failure report of a failed (or timed-out) wait result: for each workload
-- that is not ready, its rendered and live spec and events, and for each failing pod its
-- containers' states, the last 200 lines of the current and the previous container's log
-- and its events, with secret values masked (rigelk8s.failreport). Written as a 0600 file
-- rigelk8s-failure-APP-TIME.json in --report-dir (or RIGELK8S_REPORT_DIR; default: the
-- working directory). wf.wait calls it on the first failure of a run; a script may call
-- it for any result. opts:
-- dir (instead of --report-dir), app (the name in the file name; default: the
-- Rigelfile's deployment_name), objects (the rendered objects to compare and to take
-- secret values from, beyond ctx.objects). Returns {path, error, doc, shown} and keeps it
-- as result.failure_report (and ctx.failure_report, the first one): path is nil and
-- error says why when the file could not be written (the workflow goes on: a rollback
-- still happens). Never raises for the cluster's or the disk's failures.
function M.failure_report(ctx, result, opts)
  opts = opts or {}
  if type(result) ~= "table" or type(result.state) ~= "string" then
    errors.usage("wf.failure_report: expected a wait result (with state and rows), got %s", type(result))
  end
  local failreport = require "rigelk8s.failreport"
  local cfg = ctx.cfg or {}
  local app = opts.app or cfg.deployment_name
  if not app then
    for _, r in ipairs(result.rows or {}) do
      if r.state ~= "ready" then app = r.object; break end
    end
  end
  app = app or ctx.command or "run"
  local objects = M.concat(opts.objects or {}, ctx.objects or {})
  local rep = {}
  local ok, doc = pcall(function()
    return failreport.collect(M.connect(ctx), result, {objects = objects, app = app,
                                                      namespace = cfg.namespace or ctx.opts.namespace,
                                                      command = ctx.command})
  end)
  if not ok then
    -- The cluster went away in between: what the wait saw is still worth keeping.
    local msg = type(doc) == "table" and doc.message or tostring(doc)
    doc = {kind = "RigelK8sFailureReport", version = 1, app = app, command = ctx.command,
           created = os.date("!%Y-%m-%dT%H:%M:%SZ"), state = result.state,
           diagnosis = result.diagnosis or require("rigelk8s").null,
           collect_error = "could not read the pods, logs and events: " .. tostring(msg),
           masking = failreport.MASKING}
  end
  failreport.mask(doc, failreport.known_secrets(objects))
  rep.doc = doc
  rep.path, rep.error = failreport.write(doc, opts.dir or M.report_dir(ctx), app)
  rep.shown = failreport.shown(doc)
  result.failure_report = rep
  ctx.failure_report = ctx.failure_report or rep
  if rep.path then
    ctx.out:say("failure report saved, before anything else happens: %s", rep.path)
  else
    -- Said even with -o json (stderr): the run goes on, but the evidence is not on disk.
    io.stderr:write("rigelk8s: ", rep.error, "\n")
  end
  return rep
end

-- Runs on_ready or on_failure for the run's final result, once per run: later calls
-- (wf.finish after a script's own call) do nothing.
function M.result_hooks(ctx, result)
  if ctx.outcome_hooks_run then return end
  ctx.outcome_hooks_run = true
  M.run_hooks(ctx, result.state == "ready" and "on_ready" or "on_failure", result)
end

local EXIT_FOR = {ready = 0, failed = errors.EXIT.failed, timeout = errors.EXIT.timeout,
                  interrupted = errors.EXIT.interrupted}

local function plural(n, word) return string.format("%d %s%s", n, word, n == 1 and "" or "s") end

-- "2 created, 1 configured, 3 unchanged" (what the applies of this run did).
function M.applied_text(ctx)
  local a = ctx.applied
  if not a then return nil end
  local parts = {}
  for _, k in ipairs{"created", "configured", "unchanged", "deleted"} do
    if a[k] and #a[k] > 0 then parts[#parts + 1] = #a[k] .. " " .. k end
  end
  if #a.skipped > 0 then parts[#parts + 1] = #a.skipped .. " skipped" end
  return #parts > 0 and table.concat(parts, ", ") or nil
end

-- One line per object: name, state, the short progress text and the revision.
local function object_lines(rows)
  local lines, width = {}, 0
  for _, r in ipairs(rows) do width = math.max(width, #r.name) end
  for _, r in ipairs(rows) do
    local extra = r.revision and string.format("  (revision %d)", r.revision) or ""
    lines[#lines + 1] = string.format("  %-" .. width .. "s  %-11s %s%s", r.name, r.state,
                                      r.short or r.message or "", extra)
  end
  return table.concat(lines, "\n")
end
M.object_lines = object_lines

local function indent(text, pad)
  return pad .. tostring(text):gsub("\n", "\n" .. pad)
end

-- The final report of a result, without printing it: {code (the exit code), state,
-- doc (the -o json document), text (the text report), note}. extra: note (a sentence
-- for people), and any fields for the JSON document.
function M.report(ctx, result, extra)
  extra = extra or {}
  local code = EXIT_FOR[result.state] or errors.EXIT.failed
  local rigelk8s = require "rigelk8s"
  local doc = {command = ctx.command, state = result.state, exit_code = code,
               elapsed_seconds = sys.now() - ctx.started,
               namespace = ctx.cfg and ctx.cfg.namespace or rigelk8s.null,
               diagnosis = result.diagnosis or rigelk8s.null,
               dry_run = ctx.opts.dry_run and true or false,
               objects = rigelk8s.array{}, applied = rigelk8s.null,
               rigelk8s_version = rigelk8s.version,
               warnings = rigelk8s.array(ctx.cfg and ctx.cfg.warnings or {})}
  for _, r in ipairs(result.rows or {}) do
    doc.objects[#doc.objects + 1] = {name = r.object, kind = r.kind, namespace = r.namespace,
                                     state = r.state, message = r.message or "",
                                     reasons = rigelk8s.array(r.reasons or {}),
                                     revision = r.revision}
  end
  if ctx.applied then
    local a = ctx.applied
    local skipped = rigelk8s.array{}
    for _, s in ipairs(a.skipped) do skipped[#skipped + 1] = {name = s.ref, reason = s.reason} end
    doc.applied = {created = rigelk8s.array(a.created), configured = rigelk8s.array(a.configured),
                   unchanged = rigelk8s.array(a.unchanged), skipped = skipped,
                   deleted = a.deleted and rigelk8s.array(a.deleted) or nil}
  end
  if result.ros_graph then doc.ros_graph = result.ros_graph end
  -- The failure report of this result (or of the run's first failure, which a later
  -- result such as a rollback's does not replace).
  local fr = result.state ~= "ready" and (result.failure_report or ctx.failure_report) or nil
  doc.failure_report = fr and fr.path or rigelk8s.null
  if fr and fr.error then doc.failure_report_error = fr.error end
  for k, v in pairs(extra) do doc[k] = v end
  local command = ctx.command or "rollout"
  local took = string.format("%.1fs", sys.now() - ctx.started)
  local applied = M.applied_text(ctx)
  local rows = result.rows or {}
  local text
  if result.state == "ready" then
    local what = result.summary
    if not what then
      what = result.dry_run and "dry run, nothing was changed"
             or (#rows > 0 and ("ready: " .. plural(#rows, "object")) or "done")
    end
    text = string.format("%s succeeded in %s: %s%s", command, took, what, applied and ("; applied: " .. applied) or "")
  elseif result.state == "interrupted" then
    text = string.format("%s interrupted after %s; the cluster is left as it is now:", command, took)
  elseif result.state == "timeout" then
    text = string.format("%s timed out after %s (--timeout %s); not ready:\n%s", command, took,
                         ctx.opts.timeout, result.diagnosis or "")
  else
    text = string.format("%s failed after %s:\n%s", command, took, indent(result.diagnosis or result.state, "  "))
  end
  if fr then
    local evidence = require("rigelk8s.failreport").text(fr.shown, fr.path, fr.error)
    if evidence ~= "" then text = text .. "\n" .. indent(evidence, "  ") end
  end
  if #rows > 0 then text = text .. "\n" .. object_lines(rows) end
  return {code = code, state = result.state, doc = doc, text = text, note = extra.note}
end

-- Runs on_ready / on_failure (once per run), prints the report (text on stderr, or one
-- JSON document on stdout with -o json) and returns the exit code and the report
-- (wf.report's table).
function M.finish(ctx, result, extra)
  -- Pruning comes once the new objects are Ready, before the verdict and its hooks.
  extra = require("rigelk8s.inventory").settle(ctx, result, extra or {})
  M.result_hooks(ctx, result)
  local report = M.report(ctx, result, extra)
  if ctx.json then
    io.stdout:write(require("rigelk8s.json").encode(report.doc), "\n")
  else
    ctx.out:say("%s", report.text)
    if report.note then ctx.out:say("%s", report.note) end
  end
  return report.code, report
end

return M
