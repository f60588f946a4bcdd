local k8s = require "rigelk8s.k8s"
k8s.connect("http://127.0.0.1:1")
