local k8s = require "rigelk8s.k8s"
local c <close> = k8s.connect{kubeconfig = arg[1]}
print(c:get{apiVersion = "example.com/v1", kind = "Robot", name = "x"})
