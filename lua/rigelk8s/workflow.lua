-- Reusable workflow steps. The stock scripts (scripts/*.lua) are short compositions of
-- these; a user script (`rigelk8s run my-rollout.lua -f Rigelfile ...`) reuses them the
-- same way (examples/custom-workflow.lua is a complete one):
--
--   local wf = require "rigelk8s.workflow"
--   return wf.main(function(ctx)            -- ctx: flags, output, Rigelfile, client
--     local cfg = wf.config(ctx)            -- the validated orchestration config
--     wf.render(ctx)                        -- ctx.entries {phase, object, wait, after}, ctx.objects
--     wf.add(ctx, configmap, "config")      -- one more object, in a phase of the apply order
--     wf.find(ctx, "Deployment", cfg.deployment_name).spec.replicas = 2   -- edit a rendered one
--     wf.apply(ctx, ctx.objects)            -- server-side apply, phase by phase, no waiting
--     local result = wf.wait(ctx, wf.wait_targets(ctx))   -- all together, live progress
--     return wf.finish(ctx, result, {note = "..."})       -- report (text or JSON), exit code
--   end, arg, {command = "my-rollout", flags = {{"site", nil, "--site", value = "NAME"}}})
--
-- Every step and its options are in docs/lua-api.md (checked against this module by
-- tests/lua/api_doc_spec.lua). In short: context, config, render (also variants:
-- render(ctx, {name, image, replicas, labels, selector_labels, namespace})), add, find,
-- phase_objects, connect, apply, diff, wait(ctx, objects, {timeout, fail_fast = "any" |
-- "each" | false, hooks}), wait_job, wait_targets, remaining, configmap_from_dir,
-- record, set_row, report, finish, main, failure_report; whole workflows deploy(ctx) and
-- delete(ctx, delete_storage). A failed wait saves a failure report (pod logs, events,
-- specs) before anything else happens (wf.failure_report, rigelk8s.failreport). Apply
-- phases, in order: namespace, config, storage, master, application, other, observability.
-- wait() result: {state = "ready"|"failed"|"timeout"|"interrupted", targets, rows,
-- diagnosis, elapsed, failure_report}; finish() maps it to exit 0/1/4/130. Errors are
-- errors.lua values: exit 2 usage/config, 3 cluster unreachable or credentials refused.
--
-- Hooks live on the run's context: before_apply(ctx, objects) and after_apply(ctx,
-- summary) around each apply, after_wait(ctx, result) after each wait, and on_ready(ctx,
-- result) or on_failure(ctx, result) once per run, from finish, with the final result
-- (a failed apply counts). They come from wf.on(ctx, name, fn) (or wf.on(name, fn) in a
-- hook file or at the top of a script), from the Lua files named by the Rigelfile job's
-- `hooks:` (relative to the Rigelfile), or from `--hooks FILE`. A hook file returns a
-- table of hook functions (or calls wf.on itself; it gets wf as `...`). A hook that
-- raises stops the workflow (exit 1) with the hook's name, file and line in the message;
-- what was already applied is reported.
local cli = require "rigelk8s.cli"
local errors = require "rigelk8s.errors"
local progress = require "rigelk8s.progress"
local sys = require "rigelk8s.sys"

local M = {}
M.EXIT = errors.EXIT

-- Hooks live on the run's context (ctx.hooks), so two runs in one process (the jobs of a
-- sequence) never see each other's. wf.on(ctx, name, fn) registers on a context;
-- wf.on(name, fn) registers on the context whose hook file is being loaded, or, at the
-- top of a script before wf.main, on every context the script makes from then on.
local HOOKS = {before_apply = true, after_apply = true, after_wait = true, on_ready = true, on_failure = true,
               on_ros_graph = true}
local HOOK_NAMES = {"after_apply", "after_wait", "before_apply", "on_failure", "on_ready", "on_ros_graph"}
local script_hooks = {}   -- wf.on(name, fn) outside any context: copied into new contexts
local loading             -- the context whose hook files are being loaded

local function check_hook(name, fn)
  if type(name) ~= "string" then
    errors.usage("hook names are strings such as 'before_apply'; got the %s %s", type(name), tostring(name))
  end
  if not HOOKS[name] then
    local hint = require("rigelk8s.util").closest(name, HOOK_NAMES)
    errors.usage("unknown hook '%s'%s (hooks: %s)", tostring(name),
                 hint and ("; did you mean '" .. hint .. "'?") or "", table.concat(HOOK_NAMES, ", "))
  end
  if type(fn) ~= "function" then errors.usage("hook %s: expected a function, got %s", name, type(fn)) end
end

-- The hooks of a context ({name = {fn, ...}}), made on first use from the script's.
local function hooks_of(ctx)
  if not ctx.hooks then
    ctx.hooks = {}
    for _, h in ipairs(script_hooks) do
      ctx.hooks[h.name] = ctx.hooks[h.name] or {}
      table.insert(ctx.hooks[h.name], h.fn)
    end
  end
  return ctx.hooks
end
M.hooks_of = hooks_of

function M.on(ctx, name, fn)
  if type(ctx) ~= "table" then
    ctx, name, fn = loading, ctx, name
  end
  check_hook(name, fn)
  if ctx then
    local hooks = hooks_of(ctx)
    hooks[name] = hooks[name] or {}
    table.insert(hooks[name], fn)
  else
    script_hooks[#script_hooks + 1] = {name = name, fn = fn}
  end
end

-- Forgets the hooks registered with wf.on(name, fn) outside a context (tests). A
-- context's own hooks go with the context.
function M.reset_hooks()
  script_hooks = {}
end

-- Loads a hook file onto ctx: the file returns a table of hook functions, or calls
-- wf.on(name, fn) itself (it gets wf as `...`).
function M.load_hooks(path, ctx)
  local chunk, err = loadfile(path, "t")
  if not chunk then errors.usage("hooks file %s", err) end
  local saved = loading
  loading = ctx
  local ok, ret = pcall(chunk, M)
  loading = saved
  if not ok then
    errors.raise{message = "hooks file " .. path .. ": " .. tostring(type(ret) == "table" and ret.message or ret),
                 exit_code = errors.EXIT.usage}
  end
  if type(ret) == "table" then
    local names = {}
    for name in pairs(ret) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
      local pok, perr = pcall(M.on, ctx or {}, name, ret[name])
      if not pok then
        errors.usage("hooks file %s: %s", path, type(perr) == "table" and perr.message or tostring(perr))
      end
      if not ctx then script_hooks[#script_hooks + 1] = {name = name, fn = ret[name]} end
    end
  elseif ret ~= nil then
    errors.usage("hooks file %s must return a table of hook functions, returned a %s", path, type(ret))
  end
end

-- Runs every hook of ctx registered under name. A hook's error becomes a workflow failure.
function M.run_hooks(ctx, name, ...)
  for _, fn in ipairs(hooks_of(ctx)[name] or {}) do
    local ok, err = pcall(fn, ctx, ...)
    if not ok then
      -- Ctrl-C inside a hook is an interruption, not a failing hook.
      if sys.interrupted() then error(err, 0) end
      if type(err) == "table" then
        err = type(err.message) == "string" and err.message or "(an error value with no message)"
      end
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
  -- The inventory (lua/rigelk8s/inventory.lua): what left the Rigelfile is pruned.
  {"no_prune", nil, "--no-prune", help = "do not delete objects that left the Rigelfile"},
  {"prune_storage", nil, "--prune-storage", help = "also prune volume claims that left the Rigelfile (their data is lost)"},
  {"adopt", nil, "--adopt", help = "take over an application that another Rigelfile deployed"},
}
for _, f in ipairs(require("rigelk8s.fleet").flags) do M.flags[#M.flags + 1] = f end

-- --report-dir: on every command that waits for a rollout (and on a script's own), the
-- directory of the failure report (README, "When a rollout fails"; wf.failure_report).
M.report_flag = {"report_dir", nil, "--report-dir", value = "DIR",
                 help = "where a failed rollout's report (logs, events, specs) is saved (default: RIGELK8S_REPORT_DIR, else the working directory)"}
local NO_ROLLOUT = {status = true, delete = true, diff = true, list = true, ["fleet status"] = true}

-- Commands that run on every target of a fleet (`--contexts` or the Rigelfile's fleet:).
local FLEET_COMMANDS = {deploy = true, update = true, status = true, delete = true, diff = true,
                        rollback = true, distributed = true}

-- Builds the run context: flags, output, Rigelfile config (lazily), client (lazily).
function M.context(argv, info)
  info = info or {}
  -- info.spec: a command's whole flag list, when it cannot take the global one as it is
  -- (logs: -f is --follow there).
  local spec = info.spec or cli.merge(cli.global, M.flags, NO_ROLLOUT[info.command] and {} or {M.report_flag},
                                      info.flags or {})
  local opts, rest = cli.parse(argv, spec, {usage = info.usage or ("rigelk8s " .. (info.command or "run") .. " [flags]"),
                                            description = info.description})
  opts.output, opts.timeout = opts.output or "text", opts.timeout or "5m"
  if opts.output ~= "text" and opts.output ~= "json" then
    errors.usage("-o/--output: expected text or json, got '%s'", tostring(opts.output))
  end
  local ctx = {
    command = info.command, opts = opts, args = rest, json = opts.output == "json",
    timeout = cli.duration(opts.timeout, "--timeout"), started = sys.now(),
  }
  for _, a in ipairs(argv or {}) do
    if a == "--timeout" or a:match("^%-%-timeout=") then ctx.timeout_given = true end
  end
  -- With -o json, stdout carries one document and stderr stays quiet (errors excepted),
  -- unless --progress asks for the progress lines (the Rigel shim logs them).
  ctx.out = progress.new{quiet = ctx.json and not opts.progress, no_color = opts.no_color, start = ctx.started}
  hooks_of(ctx)
  for _, f in ipairs(opts.hooks or {}) do M.load_hooks(f, ctx) end
  return ctx
end

-- The orchestration config: from --config (JSON, the Rigel plugin shim) or the Rigelfile.
function M.config(ctx)
  if ctx.cfg then return ctx.cfg end
  local rigelfile = require "rigelk8s.rigelfile"
  ctx.cfg = rigelfile.load{file = ctx.opts.file, job = ctx.opts.job, config = ctx.opts.config,
                           namespace = ctx.opts.namespace,
                           default_file = ctx.opts.file == "Rigelfile"}
  -- With -o json the warnings are in the report (finish) and stderr stays quiet.
  if not ctx.json then
    for _, w in ipairs(ctx.cfg.warnings or {}) do io.stderr:write("rigelk8s: ", w, "\n") end
  end
  -- readiness.timeout_seconds is the deadline of the readiness wait (the Python plugin's
  -- meaning), unless --timeout is given.
  local r = ctx.cfg.readiness
  if r and r.timeout_seconds and not ctx.timeout_given then ctx.timeout = r.timeout_seconds end
  if ctx.cfg.hooks and not ctx.hooks_loaded then
    ctx.hooks_loaded = true
    local dir = (ctx.cfg.source and ctx.cfg.source.file or ""):match("^(.*)/[^/]*$")
    for _, f in ipairs(type(ctx.cfg.hooks) == "table" and ctx.cfg.hooks or {ctx.cfg.hooks}) do
      M.load_hooks((dir and not f:match("^/")) and (dir .. "/" .. f) or f, ctx)
    end
  end
  return ctx.cfg
end

-- Overrides the application image (update --image): the application and every
-- component that used the application image.
function M.set_image(ctx, image)
  -- The same check as application_image in a Rigelfile: a bad --image must stop the
  -- update before anything is applied.
  local why = type(image) ~= "string" and "is not text" or require("rigelk8s.schema").image_problem(image)
  if why then errors.usage("--image: %q %s", tostring(image), why) end
  local cfg = M.config(ctx)
  local old = cfg.application_image
  cfg.application_image = image
  for _, c in ipairs(cfg.components or {}) do
    if c.image == nil or c.image == old then c.image = image end
  end
end

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

-- A note for the report when an apply changed nothing at all.
function M.no_change_note(ctx)
  local a = ctx.applied
  if a and #a.created == 0 and #a.configured == 0 and #a.unchanged > 0 then
    return {note = "no changes: the cluster already matched the Rigelfile, so nothing rolled out",
            no_changes = true}
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
      -- An argv, never a shell string: the kubeconfig path and context can come from a
      -- Rigelfile's fleet: list, and must stay data.
      local argv = {helm, "upgrade", "--install", r.name, r.chart, "--namespace", r.namespace or "default",
                    "--create-namespace"}
      if ctx.opts.kubeconfig then argv[#argv + 1] = "--kubeconfig"; argv[#argv + 1] = ctx.opts.kubeconfig end
      if ctx.opts.context then argv[#argv + 1] = "--kube-context"; argv[#argv + 1] = ctx.opts.context end
      -- The chart values (which may hold grafana.admin_password) go in a 0600 file in a
      -- 0700 directory, never on the command line, and are removed afterwards.
      local values_dir, values_file
      if r.values and next(r.values) then
        values_dir = string.format("%s/rigelk8s-helm-%d-%s", os.getenv("TMPDIR") or "/tmp", sys.getpid(), r.name)
        local made, merr = sys.mkdir_private(values_dir)
        values_file = values_dir .. "/values.json"
        local wrote, werr = false, nil
        if made then wrote, werr = sys.write_private(values_file, require("rigelk8s.json").encode(r.values)) end
        if not wrote then
          errors.raise{message = "helm release " .. r.name .. ": cannot write its values file: " ..
                       tostring(merr or werr), exit_code = errors.EXIT.failed}
        end
        argv[#argv + 1] = "--values"; argv[#argv + 1] = values_file
      end
      local cmd = table.concat(argv, " ")
      ctx.out:say("running: %s", cmd)
      local pid, err = sys.spawn(argv, {stdout_to_stderr = true})
      local code = err
      while pid do
        local done
        done, code = sys.wait({pid}, 1)
        if done or code then break end
      end
      if values_file then os.remove(values_file); os.remove(values_dir) end
      if code ~= 0 then
        errors.raise{message = string.format("helm release %s failed (%s): %s", r.name,
                                             type(code) == "number" and ("exit " .. code) or tostring(code), cmd),
                     exit_code = errors.EXIT.failed}
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

-- Seconds left of the run's --timeout (the whole command shares one budget, so a gated
-- deploy or a distributed rollout in waves cannot take several times --timeout).
function M.remaining(ctx)
  return math.max(ctx.started + ctx.timeout - sys.now(), 0)
end

-- The --unschedulable-grace of the run in seconds (deploy, update), or nil: the default.
M.UNSCHEDULABLE_GRACE_FLAG = {"unschedulable_grace", nil, "--unschedulable-grace", value = "DURATION",
                              help = "how long a pod may stay Unschedulable while no rule says it never fits (default 30s)"}
function M.unschedulable_grace(ctx)
  local g = ctx.opts.unschedulable_grace
  return g and cli.duration(g, "--unschedulable-grace") or nil
end

-- Waits for objects together with live progress; returns the rollout result
-- ({state = "ready"|"failed"|"timeout"|"interrupted", targets, rows, diagnosis, elapsed};
-- see rigelk8s.rollout). opts: timeout (default: what is left of --timeout), fail_fast
-- ("any": stop at the first failure; "each": once every target is ready or failed;
-- false: until the deadline or every target is terminal), hooks (true: run the
-- after_wait hooks with the result; false to skip them). on_ready / on_failure are not
-- run here: wf.finish runs them once, with the run's final result. With --dry-run
-- nothing was changed, so there is nothing to wait for.
function M.wait(ctx, objects, opts)
  opts = opts or {}
  local rollout = require "rigelk8s.rollout"
  local mode = rollout.wait_mode(opts.fail_fast, "wf.wait")
  local targets = M.waitable(objects)
  local result
  if ctx.opts.dry_run or #targets == 0 then
    result = {state = "ready", rows = {}, targets = {}, elapsed = 0, dry_run = ctx.opts.dry_run or nil}
  else
    -- --logs (deploy, update): the new pods' logs stream while the rollout is waited for.
    local logs = ctx.opts.logs and require("rigelk8s.logs").for_rollout(M.connect(ctx), ctx, targets,
      {color = sys.isatty(1) and progress.color_enabled{no_color = ctx.opts.no_color}})
    result = rollout.wait(M.connect(ctx), targets, {
      timeout = opts.timeout or M.remaining(ctx),
      fail_fast = mode == "none" and false or mode,
      namespaces = M.spans_namespaces(ctx, targets),
      unschedulable_grace = M.unschedulable_grace(ctx),
      tick = logs and 0.25 or (ctx.out.tty and 1 or nil),
      on_progress = function(rows) if logs then logs:pump(0) end; ctx.out:update(rows) end,
    })
    if logs then logs:drain(2, 0.5); logs:close() end
    ctx.out:finish()
  end
  if opts.ros_graph and result.state == "ready" and not result.dry_run then M.ros_graph_gate(ctx, result) end
  -- The evidence goes to disk now, before anything is rolled back or deleted (and before
  -- the after_wait hooks, which may change the cluster): once per run, the first failure.
  if (result.state == "failed" or result.state == "timeout") and opts.failure_report ~= false
     and not ctx.failure_report and not sys.interrupted() then
    M.failure_report(ctx, result, {objects = objects})
  end
  ctx.result = result  -- wf.set_row corrects the rows of the last wait
  if opts.hooks ~= false then M.run_hooks(ctx, "after_wait", result) end
  return result
end

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

-- The graph the Rigelfile declares (orchestration.ros_graph and every component's,
-- merged: nodes and services united, topic counts the larger), or nil.
function M.wanted_graph(cfg)
  local parts = {}
  if cfg.ros_graph then parts[1] = cfg.ros_graph end
  for _, list in ipairs{cfg.components or {}, cfg.distributed and cfg.distributed.components or {}} do
    for _, c in ipairs(list) do
      if c.ros_graph then parts[#parts + 1] = c.ros_graph end
    end
  end
  if #parts == 0 then return nil end
  local want = {nodes = {}, topics = {}, services = {}, timeout = 0, service = parts[1].service,
                port = parts[1].port, on_unavailable = parts[1].on_unavailable}
  local seen = {nodes = {}, services = {}}
  for _, g in ipairs(parts) do
    for _, key in ipairs{"nodes", "services"} do
      for _, n in ipairs(g[key] or {}) do
        if not seen[key][n] then seen[key][n] = true; want[key][#want[key] + 1] = n end
      end
    end
    for name, t in pairs(g.topics or {}) do
      local w = want.topics[name] or {publishers = 0, subscribers = 0}
      w.publishers = math.max(w.publishers, t.publishers or 0)
      w.subscribers = math.max(w.subscribers, t.subscribers or 0)
      want.topics[name] = w
    end
    want.timeout = math.max(want.timeout, g.timeout or 0)
  end
  return want
end

-- The ROS graph gate: after the pods are Ready, wait until the declared graph holds
-- (rigelk8s.rosgraph). A graph that does not hold turns a ready result into a failed one
-- whose diagnosis names what is missing, so --atomic rolls back as for any failed rollout.
-- A refused proxy (403) falls back to a check Job (ros_graph.on_unavailable: job, the
-- default); `fail` fails at once, `skip` warns and goes on.
function M.ros_graph_gate(ctx, result)
  local cfg = ctx.cfg or {}
  local want = M.wanted_graph(cfg)
  if not want then return end
  local rigelk8s = require "rigelk8s"
  if os.getenv("RIGELK8S_ROS_GRAPH") == "skip" then
    ctx.out:say("warning: the ROS graph was not checked (RIGELK8S_ROS_GRAPH=skip)")
    result.ros_graph = {state = "skipped", reason = "RIGELK8S_ROS_GRAPH=skip"}
    return
  end
  local rosgraph = require "rigelk8s.rosgraph"
  local graphjob = require "rigelk8s.rosgraph_job"
  local timeout = want.timeout
  local r, proxy_error
  if cfg.ros_version == "ros2" then -- no master to ask: a check Job joins the graph
    r = graphjob.wait(M.connect(ctx), cfg, want, {timeout = timeout})
  else
    r = rosgraph.wait(M.connect(ctx), want, {namespace = cfg.namespace, timeout = timeout})
    if r.state == "forbidden" and want.on_unavailable == "job" then
      -- The proxy is refused, but Jobs may be allowed: ask the master from inside the cluster.
      proxy_error = r.error.message
      ctx.out:say("warning: %s; checking the ROS graph with a Job instead (ros_graph.on_unavailable: job)",
                  proxy_error)
      r = graphjob.wait(M.connect(ctx), cfg, want, {timeout = timeout})
    end
  end
  result.ros_graph = {state = r.state, elapsed_seconds = r.elapsed, checks = r.checks, job = r.job,
                      problems = rigelk8s.array(r.problems or {}), message = r.message,
                      proxy_error = proxy_error,
                      graph = r.graph and rosgraph.document(r.graph) or rigelk8s.null}
  M.run_hooks(ctx, "on_ros_graph", r.graph, r)
  if r.state == "ready" then
    local g = r.graph
    local nt, ns = 0, 0
    for _ in pairs(g.topics) do nt = nt + 1 end
    for _ in pairs(g.services) do ns = ns + 1 end
    ctx.out:say("ROS graph holds after %.1fs: %d nodes, %d topics, %d services (%s)", r.elapsed,
                #g.nodes, nt, ns, r.job and ("check Job " .. r.job) or ("master " .. g.master))
    return
  end
  if r.state == "interrupted" then
    result.state = "interrupted"
    return
  end
  if (r.state == "forbidden" or r.state == "unavailable") and not r.graph and want.on_unavailable == "skip" then
    result.ros_graph.state = "skipped"
    ctx.out:say("warning: the ROS graph was not checked (ros_graph.on_unavailable: skip): %s", r.message)
    return
  end
  result.state = "failed"
  result.diagnosis = proxy_error and (r.message .. "\n(the check ran as a Job because " .. proxy_error .. ")")
                     or r.message
end

-- Waits for one Job until it is Complete or Failed (its Failed condition: backoffLimit,
-- activeDeadlineSeconds); failed pods in between are retries. opts as for wf.wait.
function M.wait_job(ctx, job, opts)
  if type(job) ~= "table" or job.kind ~= "Job" then
    errors.usage("wf.wait_job: expected a Job object, got %s",
                 type(job) == "table" and tostring(job.kind) or type(job))
  end
  return M.wait(ctx, {job}, opts)
end

-- Whether this run's rows show namespaces: the run's objects (or these) span several.
-- A script sets ctx.namespaces = true (or false) to decide.
function M.spans_namespaces(ctx, objects)
  local rollout = require "rigelk8s.rollout"
  if ctx.namespaces ~= nil then return ctx.namespaces end
  -- Once a run has shown two namespaces, it keeps showing them.
  if rollout.spans_namespaces(M.concat(ctx.objects or {}, objects or {})) then ctx.namespaces = true end
  return ctx.namespaces or false
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

-- True when argv asks for JSON output (used before the flags could be parsed).
local function wants_json(argv)
  for i, a in ipairs(argv or {}) do
    if a == "--output=json" or a == "-o=json" or ((a == "-o" or a == "--output") and argv[i + 1] == "json") then
      return true
    end
  end
  return false
end

local function json_error(command, e)
  local json = require "rigelk8s.json"
  local rigelk8s = require "rigelk8s"
  local doc = {command = command, state = "error", exit_code = e.exit_code,
               message = e.message, reason = e.reason or "Error", rigelk8s_version = rigelk8s.version}
  local a = type(e.applied) == "table" and e.applied
  if a then
    -- A failed apply says exactly what reached the cluster and what did not.
    local rejected = rigelk8s.array{}
    for _, f in ipairs(a.failed) do
      rejected[#rejected + 1] = {name = f.ref, message = tostring(f.error)}
    end
    doc.applied = {created = rigelk8s.array(a.created), configured = rigelk8s.array(a.configured),
                   unchanged = rigelk8s.array(a.unchanged), rejected = rejected,
                   not_applied = rigelk8s.array(a.not_applied)}
  end
  io.stdout:write(json.encode(doc), "\n")
end

-- The deploy workflow for the loaded config (scripts/deploy.lua, sequences): render,
-- apply in dependency order without waiting in between (or, with wait_for_master, the
-- application only once the master is Ready), then wait for everything together.
-- Returns the wait result and the extra report fields for finish() ({note, no_changes}).
function M.deploy(ctx)
  local cfg = M.config(ctx)
  M.render(ctx)
  M.connect(ctx)
  for _, w in ipairs(require("rigelk8s.nodes").placement_warnings(ctx.client, ctx.objects)) do
    ctx.out:say("%s", w)
    if cfg.warnings then cfg.warnings[#cfg.warnings + 1] = w end
  end
  -- The monitoring stack (when helm is there) brings the ServiceMonitor CRD, so it goes
  -- before the objects that need it.
  M.observability_stack(ctx)
  if cfg.wait_for_master and cfg.deploy_ros_master and not ctx.opts.dry_run then
    M.apply(ctx, M.phase_objects(ctx, {"namespace", "storage", "master"}))
    local master = M.wait(ctx, M.phase_objects(ctx, {"master"}))
    if master.state ~= "ready" then
      return master, {note = "wait_for_master: the application was not applied, because the ROS master is not Ready"}
    end
    M.apply(ctx, M.phase_objects(ctx, {"application", "observability"}))
  else
    M.apply(ctx, ctx.objects)
  end
  local result = M.wait(ctx, M.wait_targets(ctx), {ros_graph = true})
  return result, require("rigelk8s.inventory").settle(ctx, result, M.no_change_note(ctx))
end

-- The delete workflow: reverse dependency order, each object waited for until gone.
-- Storage (PVCs, PVs) and the namespace are kept unless delete_storage. Returns the
-- result for finish() and the extra report fields.
function M.delete(ctx, delete_storage)
  local inventory = require "rigelk8s.inventory"
  if not ctx.from_inventory then
    M.config(ctx)
    M.render(ctx)
  end
  local client = M.connect(ctx)
  -- Inventory members that the Rigelfile no longer renders go too.
  inventory.add_unrendered(ctx)
  local order = {"observability", "other", "application", "master", "config"}
  if delete_storage then order[#order + 1] = "storage"; order[#order + 1] = "namespace" end
  local deleted, missing, kept = {}, {}, {}
  for _, phase in ipairs(order) do
    local objs = M.phase_objects(ctx, {phase})
    for i = #objs, 1, -1 do
      local o = objs[i]
      local res, err = client:try_delete(o, {propagation_policy = "Foreground", wait = ctx.timeout,
                                             ignore_not_found = true, dry_run = ctx.opts.dry_run})
      if res == nil and err and err.reason == "NoKindMatch" then
        -- An inventory member whose kind (a CRD) the cluster has dropped since.
        missing[#missing + 1] = ref(o)
        ctx.out:say("%s not deleted: the cluster no longer serves %s %s", ref(o), o.apiVersion, o.kind)
      elseif res == nil and err then
        error(err, 0)
      else
        if res == false then missing[#missing + 1] = ref(o) else deleted[#deleted + 1] = ref(o) end
        ctx.out:say("%s %s%s", ref(o), res == false and "not found" or "deleted",
                    ctx.opts.dry_run and " (dry run)" or "")
      end
    end
  end
  local kept_objects = {}
  if not delete_storage then
    kept_objects = M.phase_objects(ctx, {"storage", "namespace"})
    for _, o in ipairs(kept_objects) do kept[#kept + 1] = ref(o) end
    if #kept > 0 then
      ctx.out:say("kept (use --delete-storage to delete them too): %s", table.concat(kept, ", "))
    end
  end
  inventory.after_delete(ctx, kept_objects)
  local rigelk8s = require "rigelk8s"
  return {state = "ready", rows = {},
          summary = string.format("%d deleted, %d already gone", #deleted, #missing)},
         {deleted = rigelk8s.array(deleted), not_found = rigelk8s.array(missing), kept = rigelk8s.array(kept)}
end

-- Runs fn(ctx) turning structured errors into the report and exit code; the stock
-- scripts end with `return wf.main(function(ctx) ... end, arg, info)`.
function M.main(fn, argv, info)
  local cok, ctx = pcall(M.context, argv, info)
  if not cok then
    local e = errors.wrap(ctx, errors.EXIT.usage)
    if wants_json(argv) then json_error(info and info.command, e) end
    error(e, 0)
  end
  local ok, ret = pcall(function()
    local fleet = require "rigelk8s.fleet"
    -- --app reads one application's inventory: no Rigelfile, so no fleet either.
    if FLEET_COMMANDS[ctx.command] and not fleet.is_child() and not ctx.opts.app then
      local targets = fleet.targets(ctx, not ctx.opts.contexts and M.config(ctx) or nil)
      if targets then return fleet.run(ctx, targets, argv) end
    end
    if fleet.is_child() then fleet.preflight(ctx, M) end
    return fn(ctx)
  end)
  if ok then return ret end
  local e = errors.wrap(ret)
  if sys.interrupted() then e.exit_code = errors.EXIT.interrupted end
  if e.reason == "ApplyFailed" then
    -- A failed apply is a failure too: on_failure hooks hear about it (their own errors
    -- must not hide the original one).
    pcall(M.result_hooks, ctx, {state = "failed", diagnosis = e.message, rows = {}, targets = {}})
  end
  if ctx.json then json_error(ctx.command, e) end
  error(e, 0)
end

-- wf.render_variant, wf.configmap_from_dir, wf.record, wf.set_row (lua/rigelk8s/scripting.lua).
require("rigelk8s.scripting").extend(M)

return M
