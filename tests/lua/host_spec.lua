-- The Lua host and the command line: rigelk8s run behaves like the lua interpreter,
-- errors name file:line, exit codes are right, and the library can come from disk.
local sys = require "rigelk8s.sys"

local bin = os.getenv("RIGELK8S_BIN") or "build/rigelk8s"
local tmp = os.tmpname()
os.remove(tmp)
assert(sys.mkdir_private(tmp))

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function write(name, text)
  local path = tmp .. "/" .. name
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

-- Runs a shell command line; returns stdout, stderr, exit code.
local function sh(cmd)
  local err = tmp .. "/stderr"
  local p = assert(io.popen("{ " .. cmd .. "; } 2>" .. q(err), "r"))
  local out = p:read("a")
  local _, _, code = p:close()
  local f = io.open(err)
  local e = f:read("a")
  f:close()
  return out, e, code
end

describe("rigelk8s run", function()
  it("passes arguments in arg and as ...", function()
    local script = write("args.lua", 'print(arg[0], arg[1], arg[2], #arg, select("#", ...), ...)')
    local out, _, code = sh(q(bin) .. " run " .. q(script) .. " a 'b c'")
    assert.equal(0, code)
    assert.equal(script .. "\ta\tb c\t2\t2\ta\tb c\n", out)
  end)

  it("reads the script from stdin with '-'", function()
    local out, _, code = sh("echo 'print(1 + 1); os.exit(7)' | " .. q(bin) .. " run -")
    assert.equal("2\n", out)
    assert.equal(7, code)
  end)

  it("names FILE:LINE of an uncaught error, shows a traceback and exits 1", function()
    local script = write("boom.lua", "local function f()\n  error('boom')\nend\nf()\n")
    local _, err, code = sh(q(bin) .. " run " .. q(script))
    assert.equal(1, code)
    assert.truthy(err:find("rigelk8s: " .. script .. ":2: boom\n", 1, true), err)
    assert.truthy(err:find("stack traceback:", 1, true), err)
    assert.truthy(err:find(script .. ":4: in main chunk", 1, true), err)
  end)

  it("names the file and line of a syntax error", function()
    local script = write("syntax.lua", "local x = \nprint(")
    local _, err, code = sh(q(bin) .. " run " .. q(script))
    assert.equal(1, code)
    assert.truthy(err:find(script .. ":2:", 1, true), err)
  end)

  it("refuses precompiled bytecode, which Lua does not verify", function()
    local path = tmp .. "/chunk.luac"
    local f = assert(io.open(path, "wb"))
    f:write(string.dump(load("print('ran')")))
    f:close()
    local out, err, code = sh(q(bin) .. " run " .. q(path))
    assert.equal(1, code)
    assert.equal("", out)
    assert.truthy(err:find(path .. ": attempt to load a binary chunk", 1, true), err)
  end)

  it("honours os.exit and a returned exit code", function()
    local _, _, code = sh(q(bin) .. " run " .. q(write("exit.lua", "os.exit(5)")))
    assert.equal(5, code)
    _, _, code = sh(q(bin) .. " run " .. q(write("ret.lua", "return 3")))
    assert.equal(3, code)
  end)

  it("prints a structured error without a traceback and exits with its code", function()
    local script = write("structured.lua",
      'require("rigelk8s.errors").raise{message = "bad Rigelfile: fix it", exit_code = 2}')
    local _, err, code = sh(q(bin) .. " run " .. q(script))
    assert.equal(2, code)
    assert.equal("rigelk8s: bad Rigelfile: fix it\n", err)
  end)

  it("finds modules beside the script", function()
    write("mymod.lua", "return {answer = 42}")
    local out = sh("cd / && " .. q(bin) .. " run " .. q(write("usemod.lua", 'print(require("mymod").answer)')))
    assert.equal("42\n", out)
  end)

  it("loads the Lua library from RIGELK8S_LUA_DIR instead of the embedded copy", function()
    assert(sys.mkdir_private(tmp .. "/lib"))
    assert(sys.mkdir_private(tmp .. "/lib/rigelk8s"))
    write("lib/rigelk8s/errors.lua", "return {from_disk = true}")
    local script = write("which.lua", 'print(require("rigelk8s.errors").from_disk)')
    assert.equal("nil\n", (sh(q(bin) .. " run " .. q(script))))
    assert.equal("true\n", (sh("RIGELK8S_LUA_DIR=" .. q(tmp .. "/lib") .. " " .. q(bin) .. " run " .. q(script))))
  end)

  it("exits 130 on Ctrl-C in a busy script", function()
    local script = write("loop.lua", "io.stdout:write('started\\n'); io.stdout:flush(); while true do end")
    -- Ctrl-C once the script runs: a background job starts with SIGINT ignored until the
    -- host installs its handler, which a slow start (sanitizers, a loaded machine) makes
    -- later than any fixed sleep.
    local out = q(tmp .. "/loop.out")
    local _, err, code = sh(q(bin) .. " run " .. q(script) .. " >" .. out .. " & pid=$!; i=0; " ..
      "while ! grep -q started " .. out .. " && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; " ..
      "kill -INT $pid; wait $pid")
    assert.equal(130, code)
    assert.truthy(err:find("interrupted", 1, true), err)
  end)
end)

describe("the command line", function()
  it("prints the version and help", function()
    local out, _, code = sh(q(bin) .. " --version")
    assert.equal(0, code)
    assert.truthy(out:match("^rigelk8s %d+%.%d+%.%d+"), out)
    out, _, code = sh(q(bin) .. " --help")
    assert.equal(0, code)
    assert.truthy(out:find("usage: rigelk8s COMMAND", 1, true))
  end)

  it("rejects an unknown command and a run without a script with exit 2", function()
    local _, err, code = sh(q(bin) .. " deploi")
    assert.equal(2, code)
    assert.truthy(err:find("unknown command 'deploi'", 1, true), err)
    _, err, code = sh(q(bin) .. " run")
    assert.equal(2, code)
    assert.truthy(err:find("run needs a script", 1, true), err)
  end)
end)
