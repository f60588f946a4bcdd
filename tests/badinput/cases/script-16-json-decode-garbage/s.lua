local json = require "rigelk8s.json"
print(json.decode("{\"a\": [1, 2,, 3]}"))
