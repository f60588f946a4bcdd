local k8s = require "rigelk8s.k8s"
local c <close> = k8s.connect{kubeconfig = arg[1]}
for ev in c:watch{apiVersion = "v1", kind = "ConfigMap", timeout = 60} do print(ev.type) end
print("watch ended")
