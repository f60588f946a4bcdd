-- rigelk8s.workflow_deploy: the whole workflows, defined into rigelk8s.workflow:
-- wf.deploy, wf.delete and the helm releases of the observability stacks
-- (wf.observability_stack).
local errors = require "rigelk8s.errors"
local sys = require "rigelk8s.sys"

local M = require "rigelk8s.workflow_context"

local function ref(o) return M.ref(o) end

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
  return result, require("rigelk8s.inventory").settle(ctx, result, M.no_change_note(ctx, result))
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

return M
