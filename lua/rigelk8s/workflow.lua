-- Reusable workflow steps. The stock scripts (scripts/*.lua) are short compositions of
-- these; a user script reuses them the same way:
--
--   local wf = require "rigelk8s.workflow"
--   local ctx = wf.context(arg, {command = "my-deploy"})   -- flags, Rigelfile, output
--   wf.on("after_apply", function(ctx, results) ... end)
--   local objects = wf.render(ctx)
--   wf.apply(ctx, objects)
--   local result = wf.wait(ctx, objects)
--   return wf.finish(ctx, result)
--
-- Hooks: before_apply(ctx, objects), after_apply(ctx, results), on_ready(ctx, result),
-- on_failure(ctx, result). They come from wf.on, from a Lua file named by the Rigelfile
-- job's `hooks:` field, or from `--hooks FILE`. A hook file returns a table of hook
-- functions (or calls wf.on itself). A hook that raises stops the workflow with the
-- hook's name, file and line in the message; what was already applied is reported.
local cli = require "rigelk8s.cli"
local errors = require "rigelk8s.errors"
local progress = require "rigelk8s.progress"
local sys = require "rigelk8s.sys"

local M = {}
M.EXIT = errors.EXIT

local HOOKS = {before_apply = true, after_apply = true, on_ready = true, on_failure = true}
local hooks = {before_apply = {}, after_apply = {}, on_ready = {}, on_failure = {}}

function M.on(name, fn)
  if not HOOKS[name] then
    local names = {}
    for k in pairs(HOOKS) do names[#names + 1] = k end
    table.sort(names)
    local hint = cli.closest(name, names)
    errors.usage("unknown hook '%s'%s (hooks: %s)", tostring(name),
                 hint and ("; did you mean '" .. hint .. "'?") or "", table.concat(names, ", "))
  end
  if type(fn) ~= "function" then errors.usage("hook %s: expected a function, got %s", name, type(fn)) end
  table.insert(hooks[name], fn)
end

function M.load_hooks(path)
  local chunk, err = loadfile(path)
  if not chunk then errors.usage("hooks file %s", err) end
  local ok, ret = pcall(chunk, M)
  if not ok then
    errors.raise{message = "hooks file " .. path .. ": " .. tostring(ret), exit_code = errors.EXIT.usage}
  end
  if type(ret) == "table" then
    for name, fn in pairs(ret) do M.on(name, fn) end
  elseif ret ~= nil then
    errors.usage("hooks file %s must return a table of hook functions, returned a %s", path, type(ret))
  end
end

-- Runs every hook registered under name. A hook's error becomes a workflow failure.
function M.run_hooks(ctx, name, ...)
  for _, fn in ipairs(hooks[name]) do
    local ok, err = pcall(fn, ctx, ...)
    if not ok then
      local info = debug.getinfo(fn, "S")
      errors.raise{message = string.format("hook %s (%s:%d) failed: %s", name,
                   info.short_src, info.linedefined, tostring(err)),
                   exit_code = errors.EXIT.failed, reason = "HookFailed"}
    end
  end
end

-- Flags every cluster workflow accepts, beyond cli.global.
M.flags = {
  {"hooks", nil, "--hooks", value = "FILE", multi = true, help = "Lua file of hooks (repeatable)"},
  {"force_conflicts", nil, "--force-conflicts", help = "take over fields another field manager owns"},
}
for _, f in ipairs(require("rigelk8s.fleet").flags) do M.flags[#M.flags + 1] = f end

-- Commands that run on every target of a fleet (`--contexts` or the Rigelfile's fleet:).
local FLEET_COMMANDS = {deploy = true, update = true, status = true, delete = true, diff = true,
                        rollback = true, distributed = true}

-- Builds the run context: flags, output, Rigelfile config (lazily), client (lazily).
function M.context(argv, info)
  info = info or {}
  local spec = cli.merge(cli.global, M.flags, info.flags or {})
  local opts, rest = cli.parse(argv, spec, {usage = info.usage or ("rigelk8s " .. (info.command or "run") .. " [flags]"),
                                            description = info.description})
  if opts.output ~= "text" and opts.output ~= "json" then
    errors.usage("-o/--output: expected text or json, got '%s'", tostring(opts.output))
  end
  local ctx = {
    command = info.command, opts = opts, args = rest, json = opts.output == "json",
    timeout = cli.duration(opts.timeout, "--timeout"), started = sys.now(),
  }
  ctx.out = progress.new{quiet = false, no_color = opts.no_color}
  for _, f in ipairs(opts.hooks or {}) do M.load_hooks(f) end
  return ctx
end

-- The orchestration config: from --config (JSON, the Rigel plugin shim) or the Rigelfile.
function M.config(ctx)
  if ctx.cfg then return ctx.cfg end
  local rigelfile = require "rigelk8s.rigelfile"
  ctx.cfg = rigelfile.load{file = ctx.opts.file, job = ctx.opts.job, config = ctx.opts.config,
                           namespace = ctx.opts.namespace,
                           default_file = ctx.opts.file == "Rigelfile"}
  if ctx.cfg.hooks and not ctx.hooks_loaded then
    ctx.hooks_loaded = true
    local dir = (ctx.cfg.source and ctx.cfg.source.file or ""):match("^(.*)/[^/]*$")
    for _, f in ipairs(type(ctx.cfg.hooks) == "table" and ctx.cfg.hooks or {ctx.cfg.hooks}) do
      M.load_hooks((dir and not f:match("^/")) and (dir .. "/" .. f) or f)
    end
  end
  return ctx.cfg
end

-- Overrides the application image (update --image): the application and every
-- component that used the application image.
function M.set_image(ctx, image)
  local cfg = M.config(ctx)
  local old = cfg.application_image
  cfg.application_image = image
  for _, c in ipairs(cfg.components or {}) do
    if c.image == nil or c.image == old then c.image = image end
  end
end

-- Renders the manifests: ctx.entries is the list of {phase, object, wait, after} in
-- dependency order (namespace, storage, master, application, observability);
-- returns the plain list of objects.
function M.render(ctx)
  local ros = require "rigelk8s.ros"
  ctx.entries = ros.manifests(M.config(ctx))
  ctx.objects = {}
  for i, e in ipairs(ctx.entries) do ctx.objects[i] = e.object end
  return ctx.objects
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
                           verbose = ctx.opts.verbose}
  -- One cheap request up front, so that an unreachable cluster or rejected credentials
  -- fail here (exit 3, naming the server and context) before anything is applied.
  ctx.server_version = ctx.client:server_version()
  return ctx.client
end

local function ref(o)
  return string.format("%s/%s", o.kind, o.metadata.name)
end
M.ref = ref

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
    elseif r.error and r.error.exit_code == errors.EXIT.unreachable then
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
  for k, v in pairs(b) do
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
  local rank = {namespace = 1, storage = 2, master = 3, application = 4, other = 5, observability = 6}
  table.sort(groups, function(a, b) return (rank[a.phase] or 5) < (rank[b.phase] or 5) end)
  return groups, phase_of
end

-- Why an observability object is left out: its kind needs a CRD the cluster lacks.
local function skip_reason(o, err)
  local group = o.apiVersion:match("^(.*)/") or o.apiVersion
  return string.format("the cluster does not serve %s %s (%s); install its CRDs " ..
                       "(for ServiceMonitor: the Prometheus Operator, e.g. helm chart " ..
                       "prometheus-community/kube-prometheus-stack) and deploy again",
                       o.apiVersion, o.kind, group == "monitoring.coreos.com"
                       and "no Prometheus Operator" or tostring(err and err.message or "no CRD"))
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
  M.run_hooks(ctx, "before_apply", objects)
  local summary = ctx.applied or new_summary()
  ctx.applied = summary
  local dry = ctx.opts.dry_run
  local before, missing_kind = snapshot(client, objects)
  local groups, phase_of = phase_groups(ctx, objects)
  local new_namespaces = {}
  for gi, g in ipairs(groups) do
    local todo = {}
    for _, o in ipairs(g.objects) do
      if missing_kind[o] and phase_of[o] == "observability" then
        summary.skipped[#summary.skipped + 1] = {ref = ref(o), reason = skip_reason(o, missing_kind[o])}
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
      local name = ref(o)
      local prev = before[o]
      local ns = o.metadata.namespace
      if not r.ok and r.error and r.error.exit_code == errors.EXIT.unreachable then
        error(r.error, 0)
      elseif not r.ok and dry and ns and new_namespaces[ns] and r.error and r.error.code == 404 then
        -- A dry run cannot create the namespace, so the server cannot check objects in it.
        summary.created[#summary.created + 1] = name
        if not ctx.json then ctx.out:say("%s created (dry run; not validated: namespace %s does not exist yet)", name, ns) end
      elseif not r.ok then
        summary.failed[#summary.failed + 1] = {ref = name, error = r.error}
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
      local lines = {string.format("%d object%s rejected by the API server:", #summary.failed,
                                   #summary.failed == 1 and " was" or "s were")}
      for _, f in ipairs(summary.failed) do
        lines[#lines + 1] = string.format("  %s: %s", f.ref, tostring(f.error))
      end
      local done = M.concat(summary.created, summary.configured, summary.unchanged)
      lines[#lines + 1] = "applied: " .. (#done == 0 and "nothing" or table.concat(done, ", "))
      if #summary.not_applied > 0 then
        lines[#lines + 1] = "not applied (a later phase): " .. table.concat(summary.not_applied, ", ")
      end
      errors.raise{message = table.concat(lines, "\n"), exit_code = errors.EXIT.failed,
                   reason = "ApplyFailed", applied = summary}
    end
  end
  M.run_hooks(ctx, "after_apply", summary)
  return summary
end

-- A note for the report when an apply changed nothing at all.
function M.no_change_note(ctx)
  local a = ctx.applied
  if a and #a.created == 0 and #a.configured == 0 and #a.unchanged > 0 then
    return {note = "no changes: the cluster already matched the Rigelfile, so nothing rolled out"}
  end
end

-- What deploy and update wait for: the rendered objects marked `wait` plus the storage
-- claims, the master first so its problems are reported first.
function M.wait_targets(ctx)
  local out = {}
  for _, phase in ipairs{"master", "storage", "application"} do
    for _, e in ipairs(ctx.entries or {}) do
      if e.phase == phase and (e.wait or e.object.kind == "PersistentVolumeClaim") then
        out[#out + 1] = e.object
      end
    end
  end
  return out
end

-- Installs the Prometheus/Loki/Grafana stacks the config asks for with
-- `helm upgrade --install` when helm is on PATH; otherwise says what was skipped.
function M.observability_stack(ctx)
  local ros = require "rigelk8s.ros"
  local releases = ros.helm_releases(M.config(ctx))
  if #releases == 0 then return end
  local helm = sys.which("helm")
  for _, r in ipairs(releases) do
    if not helm then
      ctx.out:say("skipped helm release %s (%s): helm is not on PATH; install helm, or install %s yourself",
                  r.name, r.reason or r.chart, r.chart)
    elseif ctx.opts.dry_run then
      ctx.out:say("would run: helm upgrade --install %s %s -n %s", r.name, r.chart, r.namespace or "default")
    else
      local cmd = string.format("%s upgrade --install %s %s --namespace %s --create-namespace",
                                helm, r.name, r.chart, r.namespace or "default")
      if ctx.opts.kubeconfig then cmd = cmd .. " --kubeconfig " .. ctx.opts.kubeconfig end
      if ctx.opts.context then cmd = cmd .. " --kube-context " .. ctx.opts.context end
      ctx.out:say("running: %s", cmd)
      local ok = os.execute(cmd .. " >&2")
      if not ok then
        errors.raise{message = "helm release " .. r.name .. " failed: " .. cmd, exit_code = errors.EXIT.failed}
      end
    end
  end
end

function M.concat(...)
  local out = {}
  for _, l in ipairs{...} do for _, x in ipairs(l) do out[#out + 1] = x end end
  return out
end

-- Objects worth waiting for (workloads, claims, services, jobs), in the given order.
local WAITABLE = {Deployment = true, StatefulSet = true, DaemonSet = true, Job = true,
                  PersistentVolumeClaim = true, Pod = true}
function M.waitable(objects)
  local out = {}
  for _, o in ipairs(objects) do
    if WAITABLE[o.kind] then out[#out + 1] = o end
  end
  return out
end

-- Waits for objects together with live progress; returns the rollout result.
function M.wait(ctx, objects, opts)
  opts = opts or {}
  local rollout = require "rigelk8s.rollout"
  local targets = M.waitable(objects)
  if #targets == 0 then return {state = "ready", rows = {}, elapsed = 0} end
  local result = rollout.wait(M.connect(ctx), targets, {
    timeout = opts.timeout or ctx.timeout,
    fail_fast = opts.fail_fast ~= false,
    on_progress = function(rows) if not ctx.json then ctx.out:update(rows) end end,
  })
  ctx.out:finish()
  if result.state == "ready" then
    M.run_hooks(ctx, "on_ready", result)
  else
    M.run_hooks(ctx, "on_failure", result)
  end
  return result
end

local EXIT_FOR = {ready = 0, failed = errors.EXIT.failed, timeout = errors.EXIT.timeout,
                  interrupted = errors.EXIT.interrupted}

-- Prints the final report (text or one JSON document) and returns the exit code.
function M.finish(ctx, result, extra)
  local code = EXIT_FOR[result.state] or errors.EXIT.failed
  if ctx.json then
    local json = require "rigelk8s.json"
    local rigelk8s = require "rigelk8s"
    local doc = {command = ctx.command, state = result.state, exit_code = code,
                 elapsed_seconds = sys.now() - ctx.started,
                 namespace = ctx.cfg and ctx.cfg.namespace or rigelk8s.null,
                 diagnosis = result.diagnosis or rigelk8s.null,
                 objects = rigelk8s.array{}, applied = rigelk8s.null}
    for _, r in ipairs(result.rows or {}) do
      doc.objects[#doc.objects + 1] = {name = r.object, kind = r.kind, state = r.state,
                                       message = r.message or ""}
    end
    if ctx.applied then
      local a = ctx.applied
      doc.applied = {created = rigelk8s.array(a.created), configured = rigelk8s.array(a.configured),
                     unchanged = rigelk8s.array(a.unchanged)}
    end
    for k, v in pairs(extra or {}) do doc[k] = v end
    io.stdout:write(json.encode(doc), "\n")
  else
    local took = string.format("%.1fs", sys.now() - ctx.started)
    if result.state == "ready" then
      ctx.out:say("%s: %s (%s)", ctx.command or "rollout", result.summary or "everything is ready", took)
    elseif result.state == "interrupted" then
      ctx.out:say("interrupted after %s; the cluster is left as it is now:\n%s", took, result.diagnosis or "")
    elseif result.state == "timeout" then
      ctx.out:say("timed out after %s waiting for:\n%s", took, result.diagnosis or "")
    else
      ctx.out:say("%s failed after %s:\n  %s", ctx.command or "rollout", took,
                  (result.diagnosis or ""):gsub("\n", "\n  "))
    end
    if extra and extra.note then ctx.out:say("%s", extra.note) end
  end
  return code
end

-- Runs fn(ctx) turning structured errors into the report and exit code; the stock
-- scripts end with `return wf.main(function(ctx) ... end, arg, info)`.
function M.main(fn, argv, info)
  local ctx = M.context(argv, info)
  local ok, ret = pcall(function()
    local fleet = require "rigelk8s.fleet"
    if FLEET_COMMANDS[ctx.command] and not fleet.is_child() then
      local targets = fleet.targets(ctx, not ctx.opts.contexts and M.config(ctx) or nil)
      if targets then return fleet.run(ctx, targets, argv) end
    end
    return fn(ctx)
  end)
  if ok then return ret end
  local e = errors.wrap(ret)
  if sys.interrupted() then e.exit_code = errors.EXIT.interrupted end
  if ctx.json then
    local json = require "rigelk8s.json"
    io.stdout:write(json.encode{command = ctx.command, state = "error", exit_code = e.exit_code,
                                message = e.message, reason = e.reason or "Error"}, "\n")
  end
  error(e, 0)
end

return M
