-- rigelk8s rollback: put an application Deployment back to an earlier revision (the
-- previous one by default), like `kubectl rollout undo`, and wait for it.
local wf = require "rigelk8s.workflow"
local rollout = require "rigelk8s.rollout"

local info = {command = "rollback", usage = "rigelk8s rollback [--to-revision N] [--deployment NAME] [flags]",
              description = "Roll the application back to an earlier revision and wait until it is Ready.",
              flags = {{"to_revision", nil, "--to-revision", value = "N", default = "0",
                        help = "revision to return to (0: the previous one)"},
                       {"deployment", nil, "--deployment", value = "NAME",
                        help = "which Deployment (default: every application Deployment)"},
                       {"history", nil, "--history", help = "list the revisions and change nothing"}}}

return wf.main(function(ctx)
  wf.config(ctx)
  wf.render(ctx)
  local client = wf.connect(ctx)
  local to = tonumber(ctx.opts.to_revision)
  if not to or to < 0 or to % 1 ~= 0 then
    require("rigelk8s.errors").usage("--to-revision: expected a revision number, got '%s'", ctx.opts.to_revision)
  end
  local targets = {}
  for _, d in ipairs(wf.phase_objects(ctx, {"application"})) do
    if d.kind == "Deployment" and (not ctx.opts.deployment or ctx.opts.deployment == d.metadata.name) then
      targets[#targets + 1] = d
    end
  end
  if #targets == 0 then
    require("rigelk8s.errors").usage("no application Deployment named '%s' in this Rigelfile", tostring(ctx.opts.deployment))
  end
  if ctx.opts.history and ctx.json then
    local rigelk8s = require "rigelk8s"
    local doc = {command = "rollback", exit_code = 0, history = rigelk8s.array{}}
    for _, d in ipairs(targets) do
      local hist = rollout.history(client, {name = d.metadata.name, namespace = d.metadata.namespace})
      local revs = rigelk8s.array{}
      for _, h in ipairs(hist) do
        revs[#revs + 1] = {revision = h.revision, images = rigelk8s.array(h.images or {}),
                           change_cause = h.change_cause or rigelk8s.null, current = h.current and true or false}
      end
      doc.history[#doc.history + 1] = {deployment = d.metadata.name, revisions = revs}
    end
    io.stdout:write(require("rigelk8s.json").encode(doc), "\n")
    return 0
  end
  if ctx.opts.history then
    for _, d in ipairs(targets) do
      local hist = rollout.history(client, {name = d.metadata.name, namespace = d.metadata.namespace})
      print(string.format("deployment %s:", d.metadata.name))
      print("REVISION  IMAGES  CHANGE-CAUSE")
      for _, h in ipairs(hist) do
        print(string.format("%-9s %s  %s%s", h.revision, table.concat(h.images or {}, ","),
                            h.change_cause or "<none>", h.current and "  (current)" or ""))
      end
    end
    return 0
  end
  local notes = {}
  for _, d in ipairs(targets) do
    local rev, changed = rollout.undo(client, {name = d.metadata.name, namespace = d.metadata.namespace}, to,
                                           {force = ctx.opts.force_conflicts})
    notes[#notes + 1] = string.format("deployment %s: %s revision %d", d.metadata.name,
                                      changed and "rolled back to" or "already runs the template of", rev)
    ctx.out:say("%s", notes[#notes])
  end
  local result = wf.wait(ctx, targets)
  return wf.finish(ctx, result, {note = table.concat(notes, "; "), rolled_back = true})
end, arg, info)
