-- rigelk8s results: copy the Rigelfile's `results.source_path` out of the newest ready
-- pod of the application (its `results.container`, default ros-app) into a local
-- directory, as the Python plugin did after a run. The copy is `kubectl cp` (run with an
-- argv, never through a shell): kubectl must be on PATH, or rigelk8s says so.
--
--   rigelk8s results [-f Rigelfile] [-o DIR] [--json]
--
-- DIR defaults to results.destination, else ./results; the copy lands in
-- DIR/<basename of source_path>. Exit codes: 0 copied; 1 no ready pod, kubectl missing
-- or kubectl cp failed; 2 a bad Rigelfile or flag (e.g. no results.source_path); 3 the
-- cluster is unreachable; 4 kubectl cp ran past --timeout.
local cli = require "rigelk8s.cli"
local errors = require "rigelk8s.errors"
local sys = require "rigelk8s.sys"

local spec = cli.merge(cli.pick{file = true, job = true, config = true, namespace = true, kubeconfig = true,
                            context = true, timeout = true, request_timeout = true, verbose = true}, {
  {"dir", "-o", "--output-dir", value = "DIR", help = "where to copy the results (default results.destination, else ./results)"},
  {"json", nil, "--json", help = "print one JSON report on stdout"},
})
local opts = cli.parse(arg, spec, {
  usage = "rigelk8s results [-f Rigelfile] [-o DIR] [--json]",
  description = "Copies results.source_path out of the newest ready pod of the deployed application (kubectl cp).",
})

local file_given = false
for _, a in ipairs(arg) do
  if a == "-f" or a == "--file" or a:match("^%-%-file=") then file_given = true end
end

local cfg = require("rigelk8s.rigelfile").load{file = opts.file, job = opts.job, config = opts.config,
                                               namespace = opts.namespace, default_file = not file_given}
local results = cfg.results or {}
local field = cfg.source.path .. ".results"
if not results.source_path then
  errors.usage("%s: %s.source_path is not set; add results: {source_path: /path/in/the/container} " ..
               "to say what to copy", cfg.source.file, field)
end

local kubectl = sys.which("kubectl")
if not kubectl then
  errors.raise{message = "rigelk8s results copies files with `kubectl cp`, and kubectl is not on PATH; " ..
               "install it (Debian: apt-get install kubernetes-client, or see " ..
               "https://kubernetes.io/docs/tasks/tools/) and run rigelk8s results again",
               exit_code = errors.EXIT.failed, reason = "KubectlMissing"}
end

local k8s = require "rigelk8s.k8s"
local client = k8s.connect{kubeconfig = opts.kubeconfig, context = opts.context, namespace = cfg.namespace,
                           verbose = opts.verbose,
                           timeout = opts.request_timeout and cli.duration(opts.request_timeout, "--request-timeout")}

-- The application's pods (components' too), not the master's.
local pods = client:list{apiVersion = "v1", kind = "Pod", namespace = cfg.namespace,
                         label_selector = "rigel.io/app=" .. cfg.deployment_name}
local MASTER = {["ros-master"] = true, ["discovery-server"] = true}
local function ready(p)
  if p.metadata.deletionTimestamp then return false end
  for _, c in ipairs(p.status and p.status.conditions or {}) do
    if c.type == "Ready" then return c.status == "True" end
  end
  return false
end
local function has_container(p, name)
  for _, c in ipairs(p.spec and p.spec.containers or {}) do
    if c.name == name then return true end
  end
  return false
end
local candidates = {}
for _, p in ipairs(pods) do
  local component = p.metadata.labels and p.metadata.labels["rigel.io/component"]
  if not MASTER[component] and ready(p) and has_container(p, results.container) then
    candidates[#candidates + 1] = p
  end
end
if #candidates == 0 then
  errors.raise{message = string.format(
    "no ready pod of %s with a container %s in namespace %s (%d pods found); deploy first " ..
    "(rigelk8s deploy), check rigelk8s status, or set %s.container", cfg.deployment_name,
    results.container, cfg.namespace, #pods, field), exit_code = errors.EXIT.failed, reason = "NoReadyPod"}
end
-- The newest: latest creationTimestamp (RFC 3339 compares as text), then name.
table.sort(candidates, function(a, b)
  local ta, tb = a.metadata.creationTimestamp or "", b.metadata.creationTimestamp or ""
  if ta ~= tb then return ta > tb end
  return a.metadata.name > b.metadata.name
end)
local pod = candidates[1].metadata.name

local dir = opts.dir or results.destination or "results"
if not io.open(dir, "r") then
  local ok, err = sys.mkdir_private(dir)
  if not ok then errors.usage("-o %s: cannot create the directory: %s", dir, tostring(err)) end
end
local base = results.source_path:gsub("/+$", ""):match("([^/]+)$") or "results"
local dest = dir .. "/" .. base

local argv = {kubectl, "cp", string.format("%s/%s:%s", cfg.namespace, pod, results.source_path), dest,
              "-c", results.container}
if opts.kubeconfig then argv[#argv + 1] = "--kubeconfig=" .. opts.kubeconfig end
if opts.context then argv[#argv + 1] = "--context=" .. opts.context end
if not opts.json then
  io.stderr:write(string.format("copying %s:%s (container %s) to %s\n", pod, results.source_path,
                                results.container, dest))
end
local pid, err = sys.spawn(argv, opts.json and {stdout = "/dev/null"} or nil)
if not pid then
  errors.raise{message = "cannot run kubectl: " .. tostring(err), exit_code = errors.EXIT.failed}
end
local deadline = sys.now() + cli.duration(opts.timeout, "--timeout")
local code
while true do
  local done, rc = sys.wait(pid)
  if done then code = rc break end
  if sys.interrupted() or sys.now() > deadline then
    sys.kill(pid)
    while not sys.wait(pid) do sys.sleep(0.05) end
    if sys.interrupted() then errors.raise{message = "interrupted", exit_code = errors.EXIT.interrupted} end
    errors.raise{message = string.format("kubectl cp did not finish within --timeout %s; copying %s:%s stopped",
                                         opts.timeout, pod, results.source_path), exit_code = errors.EXIT.timeout}
  end
  sys.sleep(0.05)
end
if code ~= 0 then
  errors.raise{message = string.format("kubectl cp %s/%s:%s failed (exit code %d, its message is above); " ..
                                       "check that %s exists in container %s", cfg.namespace, pod,
                                       results.source_path, code, results.source_path, results.container),
               exit_code = errors.EXIT.failed, reason = "CopyFailed"}
end
if opts.json then
  io.stdout:write(require("rigelk8s.json").encode{command = "results", state = "copied", exit_code = 0,
                                                  rigelk8s_version = require("rigelk8s").version,
                                                  namespace = cfg.namespace, pod = pod,
                                                  container = results.container,
                                                  source_path = results.source_path, destination = dest}, "\n")
else
  io.stderr:write(string.format("results copied: %s\n", dest))
end
return 0
