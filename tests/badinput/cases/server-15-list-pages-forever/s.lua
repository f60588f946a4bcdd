local k8s = require "rigelk8s.k8s"
local c <close> = k8s.connect{kubeconfig = arg[1]}
print(#c:list{apiVersion = "v1", kind = "ConfigMap"})
