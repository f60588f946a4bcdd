-- rigelk8s --version -v (internal): the version, the git commit and the versions of the
-- libraries actually linked (libcurl is the plugin's, so this also shows it loads).
local core = require "rigelk8s"
print(string.format("rigelk8s %s (commit %s)", core.version, core.commit))
print("Lua: " .. core.lua_release)
print("libyaml: " .. require("rigelk8s.yaml").libyaml_version)
local ok, kube = pcall(require, "rigelk8s.kube")
if ok then
  print("libcurl: " .. kube.curl_version)
else
  print("libcurl: not loaded: " .. tostring(kube))
  return 1
end
return 0
