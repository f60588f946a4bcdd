local yaml = require "rigelk8s.yaml"
local t = {a = 1}
t.self = t
print(yaml.dump(t))
