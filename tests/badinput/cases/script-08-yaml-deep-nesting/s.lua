local yaml = require "rigelk8s.yaml"
print(yaml.load(string.rep("[", 100000) .. string.rep("]", 100000)))
