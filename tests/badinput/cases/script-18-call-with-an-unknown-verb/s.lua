local k8s = require "rigelk8s.k8s"
local c = k8s.connect{kubeconfig = arg[1]}
print(c:call{verb = "frobnicate", apiVersion = "v1", kind = "ConfigMap", name = "x"})
print(c:try_get{apiVersion = "v1", kind = "NoSuchKind", name = "x"})
