-- rigelk8s completion bash|zsh|fish: print a shell completion script (commands, flags,
-- kubeconfig contexts, Rigelfile jobs and sequences), as kubectl and helm do.
local cli = require "rigelk8s.cli"
local errors = require "rigelk8s.errors"
local _, rest = cli.parse(arg, {}, {
  usage = "rigelk8s completion bash|zsh|fish",
  description = "Print a shell completion script. Load it now with\n" ..
                "  source <(rigelk8s completion bash)\n" ..
                "or install it (make install does): bash-completion/completions/rigelk8s,\n" ..
                "zsh site-functions/_rigelk8s, fish vendor_completions.d/rigelk8s.fish.",
})
local shell = rest[1]
if not shell or rest[2] then
  errors.usage("completion: name one shell: rigelk8s completion bash|zsh|fish")
end
local script = require("rigelk8s.docs").completion(shell)
if not script then
  errors.usage("completion: unknown shell '%s'; use bash, zsh or fish", shell)
end
io.stdout:write(script)
return 0
