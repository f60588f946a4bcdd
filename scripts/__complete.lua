-- rigelk8s __complete contexts|jobs|sequences [--kubeconfig PATH] [-f FILE] (internal):
-- names for the shell completions, one a line. Silent on any error: a completion must
-- never print into the user's command line.
local what = arg[1]
local opts = {}
local i = 2
while i <= #arg do
  local a = arg[i]
  local k, v = a:match("^(%-%-[%w-]+)=(.*)$")
  if k then a = k else v = arg[i + 1]; i = i + 1 end
  if a == "--kubeconfig" then opts.kubeconfig = v
  elseif a == "-f" or a == "--file" then opts.file = v end
  i = i + 1
end

local yaml = require "rigelk8s.yaml"

local function read_yaml(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  local ok, doc = pcall(yaml.load, text)
  return ok and type(doc) == "table" and doc or nil
end

local names, seen = {}, {}
local function add(name)
  if type(name) == "string" and name ~= "" and not seen[name] then
    seen[name] = true
    names[#names + 1] = name
  end
end

if what == "contexts" then
  -- kubectl's rules: --kubeconfig alone, else every file of KUBECONFIG, else ~/.kube/config.
  local files = {}
  if opts.kubeconfig then
    files[1] = opts.kubeconfig
  elseif os.getenv("KUBECONFIG") and os.getenv("KUBECONFIG") ~= "" then
    for p in os.getenv("KUBECONFIG"):gmatch("[^:]+") do files[#files + 1] = p end
  elseif os.getenv("HOME") then
    files[1] = os.getenv("HOME") .. "/.kube/config"
  end
  for _, path in ipairs(files) do
    local doc = read_yaml(path)
    if doc and type(doc.contexts) == "table" then
      for _, c in ipairs(doc.contexts) do
        if type(c) == "table" then add(c.name) end
      end
    end
  end
elseif what == "jobs" or what == "sequences" then
  local rigelfile = require "rigelk8s.rigelfile"
  local ok, doc = pcall(rigelfile.read, opts.file or "Rigelfile")
  if ok then
    local list = what == "jobs" and rigelfile.orchestration_jobs(doc)
                 or require("rigelk8s.sequence").sequence_names(doc)
    for _, n in ipairs(list) do add(n) end
  end
else
  return 0
end
table.sort(names)
for _, n in ipairs(names) do print(n) end
return 0
