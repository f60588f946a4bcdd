-- rigelk8s logs: the logs of every pod of the application, each line prefixed with its
-- pod (and container), like stern. -f follows: pods that appear during a rollout are
-- picked up, pods that go away are let go, until Ctrl-C. --component NAME picks one
-- component (ros-master for the ROS master), --all every Deployment of the application.
-- Exit 0 when logs were shown; 1 when nothing had logs, a log could not be read or a
-- stream was cut (without -f); 2 usage; 3 unreachable; 130 Ctrl-C (the normal end of -f).
local wf = require "rigelk8s.workflow"
local cli = require "rigelk8s.cli"
local errors = require "rigelk8s.errors"
local sys = require "rigelk8s.sys"

-- The global flags that make sense here; -f is --follow, as for kubectl and stern, so
-- the Rigelfile is --file only.
local spec = {}
for _, s in ipairs(cli.pick{file = true, job = true, config = true, kubeconfig = true, context = true,
                            namespace = true, request_timeout = true, verbose = true, no_color = true}) do
  if s[1] == "file" then
    spec[#spec + 1] = {s[1], nil, s[3], value = s.value, default = s.default, help = s.help .. " (-f is --follow here)"}
  else
    spec[#spec + 1] = s
  end
end
for _, s in ipairs{
  {"follow", "-f", "--follow", help = "keep streaming; follow pods that appear, let go of pods that go (Ctrl-C ends)"},
  {"app", nil, "--app", value = "NAME", help = "application NAME from its inventory alone (no Rigelfile; needs -n)"},
  {"component", "-c", "--component", value = "NAME", help = "one component's pods (ros-master: the ROS master)"},
  {"all", nil, "--all", help = "every Deployment of the application, the ROS master included"},
  {"previous", "-p", "--previous", help = "the previous (crashed) container instance's log"},
  {"since", nil, "--since", value = "DURATION", help = "only lines of the last DURATION (e.g. 5m, 1h)"},
  {"tail", nil, "--tail", value = "N", help = "the last N lines of each container (then new ones with -f)"},
  {"all_containers", nil, "--all-containers", help = "every container of each pod (init containers too), not only the first"},
  {"timestamps", nil, "--timestamps", help = "prefix each line with its time (from the API server)"},
} do spec[#spec + 1] = s end

local info = {command = "logs", spec = spec,
              usage = "rigelk8s logs [-f] [--component NAME | --all] [--previous] [--since 5m] [--tail N] [--all-containers] [--file Rigelfile | --app NAME -n NS] [flags]",
              description = "Stream the logs of the application's pods, each line prefixed with its pod."}

-- The Deployments of the application, as log groups {name, component, selector, deployment}.
local function groups(ctx, client)
  local out, names = {}, {}
  for _, e in ipairs(ctx.entries) do
    local o = e.object
    if o.kind == "Deployment" and (e.phase == "application" or e.phase == "master") then
      local live, err = client:try_get(o)
      if not live and err and err.code ~= 404 then error(err, 0) end
      local labels = live and live.spec.template.metadata and live.spec.template.metadata.labels or {}
      local component = labels["rigel.io/component"] or (e.phase == "master" and "ros-master") or "application"
      local sel = {}
      for k, v in pairs(live and live.spec.selector.matchLabels or {}) do sel[#sel + 1] = k .. "=" .. v end
      table.sort(sel)
      out[#out + 1] = {name = o.metadata.name, component = component, master = e.phase == "master" or nil,
                       selector = table.concat(sel, ","), live = live}
      names[#names + 1] = component == "application" and o.metadata.name or component
    end
  end
  return out, names
end

return wf.main(function(ctx)
  local o = ctx.opts
  if #ctx.args > 0 then
    local a = ctx.args[1]
    errors.usage("unexpected argument '%s'%s", a, sys.readfile(a)
      and string.format(" (-f means --follow for logs: give the Rigelfile as --file %s)", a) or "; see --help")
  end
  if o.component and o.all then errors.usage("--component and --all: give one of them") end
  local since, tail
  if o.since then
    since = cli.duration(o.since, "--since")
    if since <= 0 then errors.usage("--since: expected a duration above zero (e.g. 30s, 5m), got '%s'", o.since) end
    since = math.ceil(since)
  end
  if o.tail then
    tail = tonumber(o.tail)
    if not tail or tail < 0 or tail ~= math.floor(tail) then
      errors.usage("--tail: expected a whole number of lines >= 0, got '%s'", o.tail)
    end
  end
  local inventory = require "rigelk8s.inventory"
  if o.app then
    inventory.with_app(ctx, o.app)
  else
    wf.config(ctx)
    wf.render(ctx)
  end
  local client = wf.connect(ctx)
  local app = ctx.cfg.deployment_name
  local ns = ctx.cfg.namespace or client.namespace
  local all, names = groups(ctx, client)
  local chosen = {}
  for _, g in ipairs(all) do
    if o.all or (o.component and (g.component == o.component or g.name == o.component))
       or (not o.component and not g.master) then
      chosen[#chosen + 1] = g
    end
  end
  if o.component and #chosen == 0 then
    errors.usage("--component %s: application %s has no such component (its components: %s)", o.component, app,
                 table.concat(names, ", "))
  end
  local missing, present = {}, 0
  for _, g in ipairs(chosen) do
    if g.live then present = present + 1 else missing[#missing + 1] = g.name end
  end
  if present == 0 then
    errors.raise{message = string.format("application '%s' is not deployed in namespace %s (Deployment %s not found): " ..
                 "deploy it with `rigelk8s deploy`, or see the deployed applications with `rigelk8s list -A`",
                 app, ns, table.concat(missing, ", ")), reason = "NotFound", exit_code = errors.EXIT.failed}
  end
  for _, m in ipairs(missing) do io.stderr:write("rigelk8s: Deployment ", m, " not found in namespace ", ns, "; skipped\n") end
  local live_groups = {}
  for _, g in ipairs(chosen) do if g.live then live_groups[#live_groups + 1] = g end end
  local progress = require "rigelk8s.progress"
  local logs = require "rigelk8s.logs"
  local s = logs.new(client, {namespace = ns, groups = live_groups, follow = o.follow, previous = o.previous,
                              since = since, tail = tail, all_containers = o.all_containers,
                              timestamps = o.timestamps,
                              color = sys.isatty(1) and progress.color_enabled{no_color = o.no_color}})
  s:start()
  local ok, err = pcall(s.run, s)
  s:close()
  if not ok then error(err, 0) end
  local sum = s.summary
  if s.interrupted then
    if o.follow then return errors.EXIT.interrupted end
    errors.raise{message = "interrupted", reason = "Interrupted", exit_code = errors.EXIT.interrupted}
  end
  if not sum.had_logs then
    io.stderr:write(string.format("rigelk8s: no logs of %s in namespace %s%s\n", app, ns,
                                  #sum.problems > 0 and (": " .. sum.problems[#sum.problems]) or ""))
    return 1
  end
  if sum.cut > 0 then return 1 end
  for _, p in ipairs(sum.problems) do
    if not p:find("not started yet", 1, true) then return 1 end
  end
  return 0
end, arg, info)
