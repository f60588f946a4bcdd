local json = require "rigelk8s.json"
print(json.decode(string.rep("[", 100000) .. string.rep("]", 100000)))
