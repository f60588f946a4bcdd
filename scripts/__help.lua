-- rigelk8s --help (internal): the top-level help, from the command table in
-- lua/rigelk8s/cli.lua. `--usage-error` prints it on stderr and exits 2 (no command given).
local cli = require "rigelk8s.cli"
if arg[1] == "--usage-error" then
  io.stderr:write(cli.usage())
  return 2
end
io.stdout:write(cli.usage())
return 0
