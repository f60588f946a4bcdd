-- hello.lua: load every document of a Kubernetes manifest and print it back as JSON.
--   rigelk8s run examples/hello.lua [MANIFEST.yaml]
local yaml = require "rigelk8s.yaml"
local json = require "rigelk8s.json"

local here = arg[0]:match("^(.*)/[^/]*$") or "."
local path = arg[1] or (here .. "/hello-manifest.yaml")
local docs = yaml.load_file(path, {all = true})
for i, doc in ipairs(docs) do
  print(string.format("# document %d: %s %s", i, doc.kind, doc.metadata and doc.metadata.name or "?"))
  print(json.encode(doc))
end
