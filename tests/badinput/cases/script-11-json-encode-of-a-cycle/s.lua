local json = require "rigelk8s.json"
local t = {}
t[1] = t
print(json.encode(t))
