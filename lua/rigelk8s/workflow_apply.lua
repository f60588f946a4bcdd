-- rigelk8s.workflow_apply: rendering and applying, defined into rigelk8s.workflow:
-- wf.render, wf.add, wf.find, wf.phase_objects, wf.connect, wf.ref, wf.shown_ref,
-- wf.apply (server-side apply, phase by phase), wf.diff, wf.no_change_note, wf.concat.
local cli = require "rigelk8s.cli"
local errors = require "rigelk8s.errors"

local M = require "rigelk8s.workflow_context"

local READS_ONLY = {delete = true, status = true, rollback = true}

-- Renders the manifests: ctx.entries is the list of {phase, object, wait, after} in
-- dependency order (namespace, storage, master, application, observability);
-- returns the plain list of objects. wf.render(ctx, variant) instead returns a variant
-- of the application Deployment ({name, image, replicas, labels, selector_labels}; see
-- rigelk8s.scripting), leaving ctx and the Rigelfile's config untouched.
function M.render(ctx, variant)
  if variant ~= nil then return M.render_variant(ctx, variant) end
  local ros = require "rigelk8s.ros"
  ctx.entries = ros.manifests(M.config(ctx))
  -- registry_credentials: the real docker config entry, read only by commands that may
  -- apply it (delete/status/rollback must work without the credentials at hand).
  if not READS_ONLY[ctx.command] then require("rigelk8s.registry").fill(ctx.cfg, ctx.entries) end
  ctx.objects = {}
  for i, e in ipairs(ctx.entries) do ctx.objects[i] = e.object end
  return ctx.objects
end

-- The apply phases, in apply order.
local PHASES = {"namespace", "config", "storage", "master", "application", "other", "observability"}
local PHASE_RANK = {}
for i, p in ipairs(PHASES) do PHASE_RANK[p] = i end
M.PHASES = PHASES

-- Adds an object of the script's own to the rendered ones. phase places it in the apply
-- order: "namespace", "config" (ConfigMaps and Secrets the workloads read), "storage",
-- "master", "application", "other" (the default) or "observability".
function M.add(ctx, object, phase)
  if not ctx.entries then M.render(ctx) end
  if type(object) ~= "table" or not object.kind or type(object.metadata) ~= "table" then
    errors.usage("wf.add: expected a Kubernetes object with kind and metadata")
  end
  phase = phase or "other"
  if not PHASE_RANK[phase] then
    local hint = require("rigelk8s.util").closest(tostring(phase), PHASES)
    errors.usage("wf.add: unknown apply phase '%s'%s (phases, in apply order: %s)", tostring(phase),
                 hint and ("; did you mean '" .. hint .. "'?") or "", table.concat(PHASES, ", "))
  end
  object.metadata.namespace = object.metadata.namespace or (ctx.cfg and ctx.cfg.namespace)
  ctx.entries[#ctx.entries + 1] = {phase = phase, object = object, added = true}
  ctx.objects[#ctx.objects + 1] = object
  return object
end

-- The rendered object of that kind and name (nil when there is none).
function M.find(ctx, kind, name)
  for _, o in ipairs(ctx.objects or {}) do
    if o.kind == kind and o.metadata.name == name then return o end
  end
end

-- The entries of the given phases, as a list of objects.
function M.phase_objects(ctx, phases)
  local want, out = {}, {}
  for _, p in ipairs(phases) do want[p] = true end
  for _, e in ipairs(ctx.entries or {}) do
    if want[e.phase] then out[#out + 1] = e.object end
  end
  return out
end

function M.connect(ctx)
  if ctx.client then return ctx.client end
  local k8s = require "rigelk8s.k8s"
  ctx.client = k8s.connect{kubeconfig = ctx.opts.kubeconfig, context = ctx.opts.context,
                           namespace = ctx.cfg and ctx.cfg.namespace or ctx.opts.namespace,
                           verbose = ctx.opts.verbose,
                           timeout = ctx.opts.request_timeout
                                     and cli.duration(ctx.opts.request_timeout, "--request-timeout")}
  -- One cheap request up front, so that an unreachable cluster or rejected credentials
  -- fail here (exit 3, naming the server and context) before anything is applied.
  ctx.server_version = ctx.client:server_version()
  return ctx.client
end

local function ref(o)
  return string.format("%s/%s", o.kind, o.metadata.name)
end
M.ref = ref

-- "Kind/name", or "namespace/Kind/name" when the run spans several namespaces (apply
-- lines, report rows and progress keys then tell the namespaces apart).
function M.shown_ref(ctx, o, objects)
  local ns = o.metadata.namespace
  if ns and o.kind ~= "Namespace" and M.spans_namespaces(ctx, objects) then
    return string.format("%s/%s/%s", ns, o.kind, o.metadata.name)
  end
  return ref(o)
end

-- The live copy of each object (nil when absent), fetched concurrently, so that apply can
-- tell created, configured and unchanged objects apart. Also returns the objects whose
-- kind the cluster does not serve (NoKindMatch: a CRD is missing). A cluster that cannot
-- be reached (or refuses the credentials) stops the workflow here, with exit code 3.
local function snapshot(client, objects)
  local specs = {}
  for i, o in ipairs(objects) do
    specs[i] = {verb = "get", apiVersion = o.apiVersion, kind = o.kind,
                name = o.metadata.name, namespace = o.metadata.namespace}
  end
  local before, missing_kind = {}, {}
  if #specs == 0 then return before, missing_kind end
  local results, err = client:call_many(specs, 16)
  if not results then error(err, 0) end
  for i, r in ipairs(results) do
    if r.ok then
      before[objects[i]] = r.object
    elseif r.error and (r.error.exit_code == errors.EXIT.unreachable or r.error.reason == "InvalidResponse") then
      -- A server that cannot be reached, or that answers reads with garbage, gets no writes.
      error(r.error, 0)
    elseif r.error and r.error.reason == "NoKindMatch" then
      missing_kind[objects[i]] = r.error
    end
  end
  return before, missing_kind
end

-- Whether two versions of an object differ in anything but bookkeeping (resourceVersion,
-- managedFields, timestamps, status): a dry run cannot compare resourceVersions.
local IGNORED_METADATA = {resourceVersion = true, managedFields = true, generation = true,
                          creationTimestamp = true, uid = true}
local function same(a, b, depth)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do
    if not (depth == 1 and k == "status") and not (depth == 2 and IGNORED_METADATA[k])
       and not same(v, b[k], depth + 1) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil and not (depth == 1 and k == "status") and not (depth == 2 and IGNORED_METADATA[k]) then
      return false
    end
  end
  return true
end
local function changed(prev, now, dry)
  if not dry then return prev.metadata.resourceVersion ~= now.metadata.resourceVersion end
  return not same({metadata = prev.metadata, spec = prev.spec, data = prev.data},
                  {metadata = now.metadata, spec = now.spec, data = now.data}, 1)
end

local function new_summary()
  return {created = {}, configured = {}, unchanged = {}, failed = {}, not_applied = {}, skipped = {}}
end

-- Groups objects by their rendered phase, keeping the phase order (objects that did not
-- come from the renderer form a group of their own, in their given order).
local function phase_groups(ctx, objects)
  local phase_of = {}
  for _, e in ipairs(ctx.entries or {}) do phase_of[e.object] = e.phase end
  local groups, index = {}, {}
  for _, o in ipairs(objects) do
    local p = phase_of[o] or (o.kind == "Namespace" and "namespace") or "other"
    if not index[p] then
      groups[#groups + 1] = {phase = p, objects = {}}
      index[p] = groups[#groups]
    end
    table.insert(index[p].objects, o)
  end
  local rank = {namespace = 1, config = 2, storage = 3, master = 4, application = 5, other = 6,
                observability = 7}
  table.sort(groups, function(a, b) return (rank[a.phase] or 6) < (rank[b.phase] or 6) end)
  return groups, phase_of
end

-- Why an observability object is left out: its kind needs a CRD the cluster lacks.
local function skip_reason(o)
  local fix = o.kind == "ServiceMonitor"
      and "install the Prometheus Operator (e.g. helm chart prometheus-community/kube-prometheus-stack)"
      or "install the CustomResourceDefinition"
  return string.format("the cluster has no %s %s; %s and deploy again", o.apiVersion, o.kind, fix)
end

-- Applies objects with server-side apply: phase by phase in dependency order, the
-- objects of one phase concurrently, no waiting in between. Reports per object:
-- created, configured, unchanged or failed. When any object fails, the rest of its
-- phase is still applied, later phases are not, and the error names exactly which
-- objects were applied and which were not (exit 1). ctx.applied accumulates over calls.
-- Observability objects whose kind the cluster lacks (ServiceMonitor without the
-- Prometheus Operator's CRD) are skipped with a message, not failed: monitoring is an
-- add-on and must not block the robot's deployment. With --dry-run nothing is stored;
-- objects in a namespace that the run would create are reported as created.
function M.apply(ctx, objects, opts)
  opts = opts or {}
  local client = M.connect(ctx)
  -- --logs: the pods that run before this rollout, whose logs it does not stream.
  if ctx.opts.logs and not ctx.pods_before_apply then
    ctx.pods_before_apply = require("rigelk8s.logs").pods_before(client, ctx)
  end
  M.run_hooks(ctx, "before_apply", objects)
  local summary = ctx.applied or new_summary()
  ctx.applied = summary
  local dry = ctx.opts.dry_run
  local inventory = require "rigelk8s.inventory"
  inventory.label(ctx, objects)
  local before, missing_kind = snapshot(client, objects)
  -- After the snapshot: a cluster that cannot be read fails there, in its own words.
  if ctx.cfg then inventory.begin(ctx) end
  local explain = require "rigelk8s.explain"
  if not dry then explain.check_namespaces(ctx, objects, before) end
  local groups, phase_of = phase_groups(ctx, objects)
  local new_namespaces = {}
  for gi, g in ipairs(groups) do
    local todo = {}
    for _, o in ipairs(g.objects) do
      if missing_kind[o] and phase_of[o] == "observability" then
        summary.skipped[#summary.skipped + 1] = {ref = ref(o), reason = skip_reason(o)}
        if not ctx.json then ctx.out:say("%s skipped: %s", ref(o), summary.skipped[#summary.skipped].reason) end
      else
        todo[#todo + 1] = o
      end
    end
    local results = client:apply_all(todo, {concurrency = opts.concurrency or 16,
                                            force = ctx.opts.force_conflicts or opts.force,
                                            dry_run = dry})
    for i, o in ipairs(todo) do
      local r = results[i]
      local name = M.shown_ref(ctx, o, objects)
      local prev = before[o]
      local ns = o.metadata.namespace
      if not r.ok and r.error and r.error.exit_code == errors.EXIT.unreachable then
        error(r.error, 0)
      elseif not r.ok and dry and ns and new_namespaces[ns] and r.error and r.error.code == 404 then
        -- A dry run cannot create the namespace, so the server cannot check objects in it.
        summary.created[#summary.created + 1] = name
        if not ctx.json then ctx.out:say("%s created (dry run; not validated: namespace %s does not exist yet)", name, ns) end
      elseif not r.ok then
        summary.failed[#summary.failed + 1] = {ref = name, error = r.error, object = o}
      else
        local what
        if not prev then
          what = "created"
          if o.kind == "Namespace" then new_namespaces[o.metadata.name] = true end
        elseif changed(prev, r.object, dry) then
          what = "configured"
        else
          what = "unchanged"
        end
        table.insert(summary[what], name)
        if not ctx.json then
          ctx.out:say("%s %s%s", name, what, dry and " (dry run)" or "")
        end
      end
    end
    if #summary.failed > 0 then
      for gj = gi + 1, #groups do
        for _, o in ipairs(groups[gj].objects) do summary.not_applied[#summary.not_applied + 1] = ref(o) end
      end
      -- One cause for every refusal (a namespace being deleted) is said once.
      local ns = explain.terminating_namespace(summary.failed[1].error)
      if ns then
        errors.raise{message = explain.terminating_text(ctx, ns), exit_code = errors.EXIT.failed,
                     reason = "NamespaceTerminating", applied = summary}
      end
      local lines = {string.format("%d object%s rejected by the API server:", #summary.failed,
                                   #summary.failed == 1 and " was" or "s were")}
      for _, f in ipairs(summary.failed) do
        lines[#lines + 1] = string.format("  %s: %s", f.ref, explain.apply_error(ctx, client, f.object, f.error))
      end
      local done = M.concat(summary.created, summary.configured, summary.unchanged)
      lines[#lines + 1] = "applied: " .. (#done == 0 and "nothing" or table.concat(done, ", "))
      local missed = {}
      for _, f in ipairs(summary.failed) do missed[#missed + 1] = f.ref .. " (rejected)" end
      for _, n in ipairs(summary.not_applied) do missed[#missed + 1] = n .. " (a later phase)" end
      lines[#lines + 1] = "not applied: " .. table.concat(missed, ", ")
      inventory.record(ctx, objects, summary)
      errors.raise{message = table.concat(lines, "\n"), exit_code = errors.EXIT.failed,
                   reason = "ApplyFailed", applied = summary}
    end
  end
  inventory.record(ctx, objects, summary)
  M.run_hooks(ctx, "after_apply", summary)
  return summary
end

-- What applying objects would change: each goes through a server-side dry-run apply and
-- the result is compared with the live object as a unified diff of YAML (managedFields
-- dropped, Secret data masked). Returns the diff text ("" when none) and the list of
-- changed objects ("Kind/name"). Objects in a namespace that does not exist yet are
-- shown as they were rendered.
function M.diff(ctx, objects)
  local diff = require "rigelk8s.diff"
  local yaml = require "rigelk8s.yaml"
  local client = M.connect(ctx)
  require("rigelk8s.inventory").label(ctx, objects)
  local names, out = {}, {}
  for _, o in ipairs(objects) do
    local live, err = client:try_get(o)
    if not live and err and err.code ~= 404 then error(err, 0) end
    local merged, aerr = client:try_apply(o, {dry_run = true, force = ctx.opts.force_conflicts})
    if not merged then
      if aerr and aerr.code == 404 and o.kind ~= "Namespace" and aerr.reason ~= "NoKindMatch" then
        merged = o
      else
        error(aerr, 0)
      end
    end
    local a, b = diff.mask_secrets(diff.clean(live), diff.clean(merged))
    local name = ref(o)
    local text = diff.unified(a and yaml.dump(a) or "", yaml.dump(b),
                              {from = "live/" .. name, to = "merged/" .. name})
    if text ~= "" then
      names[#names + 1] = name
      out[#out + 1] = text
    end
  end
  return table.concat(out), names
end

-- A note for the report when an apply changed nothing at all. result: the wait's; when
-- it is not Ready, the note says that the failure is not this run's doing (it was there
-- before), instead of a "no changes" that reads like success.
function M.no_change_note(ctx, result)
  local a = ctx.applied
  if a and #a.created == 0 and #a.configured == 0 and #a.unchanged > 0 then
    if result and result.state ~= "ready" then
      return {note = "nothing was changed: the cluster already matched the Rigelfile, and what is not " ..
                     "Ready was not Ready before this run either",
              no_changes = true}
    end
    return {note = "no changes: the cluster already matched the Rigelfile, so nothing rolled out",
            no_changes = true}
  end
end

function M.concat(...)
  local out = {}
  for _, l in ipairs{...} do for _, x in ipairs(l) do out[#out + 1] = x end end
  return out
end

return M
