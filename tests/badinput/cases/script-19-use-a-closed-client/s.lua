local k8s = require "rigelk8s.k8s"
local c = k8s.connect{kubeconfig = arg[1]}
c:close()
c:close()
print(c:get{apiVersion = "v1", kind = "ConfigMap", name = "x"})
