-- luacheck (Debian lua-check) for the Lua library, the stock workflows and the busted
-- specs; make test runs it (tests/CMakeLists.txt: lint_luacheck). Lua 5.4 everywhere:
-- rigelk8s embeds liblua5.4.
std = "lua54"

-- Line length is left to review: the library keeps each user-facing message on one
-- line so that it can be found with grep, and no Lua formatter is used.
max_line_length = false

-- A method that does not use self keeps its method form (callers use `:`).
self = false

files["lua/rigelk8s/cli.lua"] = {
  -- The command line hands a script its own `arg`, as the lua interpreter does.
  globals = {"arg"},
}

files["lua/rigelk8s/sequence_jobs.lua"] = {
  -- A job's output is captured by swapping io.stdout/io.write and restoring them.
  globals = {"io"},
}

-- Every check.<type>(v, ty, path, vx) has the same signature, ty used or not.
files["lua/rigelk8s/schema_validate.lua"] = {ignore = {"212/ty"}}
files["lua/rigelk8s/schema_orchestration.lua"] = {ignore = {"212/ty"}}

files["lua/rigelk8s/template.lua"] = {
  -- An empty branch with a comment says "nothing to do here, keep walking".
  ignore = {"542"},
}

files["lua/rigelk8s/fleet/inprocess.lua"] = {
  -- Each target's coroutine writes through its own io.stdout/io.stderr/io.write, swapped
  -- in at every resume and restored after it.
  globals = {"io"},
}

files["tests/lua"] = {
  std = "+busted",
}

files["tests/lua/workflow_spec.lua"] = {
  -- Captures what a workflow prints by swapping io.stdout, as sequence_jobs.lua does.
  globals = {"io"},
}
