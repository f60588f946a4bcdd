-- rigelk8s render: print the Kubernetes objects for the Rigelfile's orchestration job as
-- multi-document YAML (or a JSON list with -o json). Contacts no cluster.
local cli = require "rigelk8s.cli"

local spec = cli.merge(cli.pick{file = true, job = true, config = true, namespace = true}, {
  {"format", "-o", "--output", value = "yaml|json", default = "yaml", help = "output format"},
})
local opts = cli.parse(arg, spec, {
  usage = "rigelk8s render [-f Rigelfile] [--job NAME] [-n NS] [-o yaml|json]",
  description = "Prints the objects that deploy would apply, in apply order. No cluster is contacted.",
})
if opts.format ~= "yaml" and opts.format ~= "json" then
  require("rigelk8s.errors").usage("--output %s: use yaml or json", opts.format)
end

local file_given = false
for _, a in ipairs(arg) do
  if a == "-f" or a == "--file" or a:match("^%-%-file=") then file_given = true end
end

local rigelfile = require "rigelk8s.rigelfile"
local cfg = rigelfile.load{file = opts.file, job = opts.job, config = opts.config,
                           namespace = opts.namespace, default_file = not file_given}
for _, w in ipairs(cfg.warnings or {}) do io.stderr:write("rigelk8s: ", w, "\n") end
local objects = require("rigelk8s.ros").objects(cfg)
if opts.format == "json" then
  local core = require "rigelk8s"
  io.stdout:write(require("rigelk8s.json").encode(core.array(objects)), "\n")
else
  io.stdout:write(require("rigelk8s.yaml").dump_all(objects))
end
return 0
