-- Golden program: load every document of arg[1] and dump them back.
local yaml = require "rigelk8s.yaml"
local docs = yaml.load_file(arg[1], {all = true})
io.write(yaml.dump_all(docs))
