local k8s = require "rigelk8s.k8s"
local c = k8s.connect{kubeconfig = arg[1]}
local r, failed = c:apply_all({42, {}, {kind = "ConfigMap"}, {apiVersion = "v1", kind = "ConfigMap", metadata = {name = "Bad Name!"}}, {apiVersion = "v1", kind = "ConfigMap", metadata = {name = "x", namespace = "no-such-ns"}, data = {k = {1, 2}}}}, {dry_run = false})
for i, x in ipairs(r) do print(i, x.ok, x.error and x.error.message) end
print("failed", failed)
os.exit(failed == 5 and 0 or 1)
