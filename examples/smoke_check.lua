-- A rigelk8s.lua job for Rigelfile sequences: checks that the application the previous
-- orchestration job deployed has Ready pods, and names them and their nodes.
--
--   check:
--     plugin: "rigelk8s.lua"
--     with:
--       script: ../smoke_check.lua   # relative to the Rigelfile
--       min_ready_pods: 1            # per Deployment (default 1)
--
-- A rigelk8s.lua script is called with (config, job): config is the job's `with`
-- (without script/args), job = {name, sequence, rigelfile, data}. job.data is the
-- sequence's shared data: data.rigelk8s is the report of the last orchestration job, and
-- what a script stores there is {{ data.NAME }} for the jobs after it. `arg` holds the
-- sequence's cluster flags (--kubeconfig, --context, ...). Raise an error (or return a
-- non-zero exit code) to fail the job.
local cli = require "rigelk8s.cli"
local errors = require "rigelk8s.errors"
local k8s = require "rigelk8s.k8s"

local config, job = ...
local deployed = job.data.rigelk8s
if not deployed then
  errors.usage("%s: run this job after an orchestration job: it checks what that job deployed (data.rigelk8s)",
               job.name)
end
local opts = cli.parse(arg, cli.global)
local client = k8s.connect{kubeconfig = opts.kubeconfig, context = opts.context}
local want = tonumber(config.min_ready_pods) or 1

local checked = {}
for _, o in ipairs(deployed.objects) do
  if o.kind == "Deployment" then
    local pods = client:list{apiVersion = "v1", kind = "Pod", namespace = o.namespace,
                             label_selector = "app=" .. o.name}
    local ready, where = 0, {}
    for _, p in ipairs(pods) do
      for _, c in ipairs(p.status and p.status.conditions or {}) do
        if c.type == "Ready" and c.status == "True" then
          ready = ready + 1
          where[#where + 1] = p.metadata.name .. " on " .. (p.spec.nodeName or "?")
        end
      end
    end
    io.stderr:write(string.format("%s/%s: %d Ready pod%s%s\n", o.namespace, o.name, ready,
                                  ready == 1 and "" or "s", #where > 0 and (": " .. table.concat(where, ", ")) or ""))
    if ready < want then
      errors.raise{message = string.format("%s/%s has %d Ready pods, expected at least %d", o.namespace, o.name,
                                           ready, want), exit_code = errors.EXIT.failed}
    end
    checked[#checked + 1] = o.name
  end
end
job.data.smoke_check = {deployments = checked}
return 0
