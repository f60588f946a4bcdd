local yaml = require "rigelk8s.yaml"
local f = io.open("bomb.yaml"):read("a")
print(yaml.load(f))
