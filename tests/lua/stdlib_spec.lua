-- The scripting standard library: sys.listdir, sys.readfile, sys.spawn {env, cwd},
-- sys.wait(pids, timeout), rigelk8s.hash.sha256, and c:logs against the emulator.
local sys = require "rigelk8s.sys"
local hash = require "rigelk8s.hash"
local k8s = require "rigelk8s.k8s"
local emulator = require "emulator"

local function tmpdir()
  local p = io.popen("mktemp -d /tmp/rk-stdlib-XXXXXX")
  local d = p:read("l")
  p:close()
  return d
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

describe("sys files", function()
  local dir
  setup(function() dir = tmpdir() end)
  teardown(function() os.execute("rm -rf '" .. dir .. "'") end)

  it("lists a directory sorted, without . and ..", function()
    write(dir .. "/b.conf", "b")
    write(dir .. "/a.conf", "a")
    assert(os.execute("mkdir '" .. dir .. "/sub'"))
    assert.are.same({"a.conf", "b.conf", "sub"}, sys.listdir(dir))
    local none, err = sys.listdir(dir .. "/missing")
    assert.is_nil(none)
    assert.truthy(err:find("missing: No such file or directory", 1, true))
  end)

  it("reads a whole file, binary included", function()
    local data = "line 1\n\0binary\255" .. string.rep("x", 70000)
    write(dir .. "/f.bin", data)
    assert.are.equal(data, sys.readfile(dir .. "/f.bin"))
    local none, err = sys.readfile(dir .. "/nope")
    assert.is_nil(none)
    assert.truthy(err:find("nope: No such file", 1, true))
  end)
end)

describe("hash.sha256", function()
  it("gives the FIPS 180-2 test vectors", function()
    assert.are.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hash.sha256("abc"))
    assert.are.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", hash.sha256(""))
  end)

  it("agrees with sha256sum on binary data", function()
    local dir = tmpdir()
    local data = "\0\1\2" .. string.rep("rigel", 10000)
    write(dir .. "/d", data)
    local p = io.popen("sha256sum '" .. dir .. "/d'")
    local want = p:read("a"):match("^(%x+)")
    p:close()
    os.execute("rm -rf '" .. dir .. "'")
    assert.are.equal(want, hash.sha256(data))
  end)
end)

describe("sys.spawn and sys.wait", function()
  it("runs an argv (no shell) in cwd with env, and waits for it", function()
    local dir = tmpdir()
    local pid = assert(sys.spawn({"sh", "-c", 'pwd > out; printf "%s" "$RK_X" >> out; exit 3'},
                                 {cwd = dir, env = {RK_X = "a b;$(c)"}}))
    local got, code = sys.wait({pid}, 10)
    assert.are.equal(pid, got)
    assert.are.equal(3, code)
    assert.are.equal(dir .. "\na b;$(c)", sys.readfile(dir .. "/out"))
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("returns the first of several to end, and nothing on a timeout", function()
    local slow = assert(sys.spawn{"sleep", "5"})
    local fast = assert(sys.spawn{"sleep", "0.2"})
    local t0 = sys.now()
    local got, code = sys.wait({slow, fast}, 10)
    assert.are.equal(fast, got)
    assert.are.equal(0, code)
    assert.truthy(sys.now() - t0 < 3)
    t0 = sys.now()
    local none = sys.wait({slow}, 0.3)
    local waited = sys.now() - t0
    assert.is_nil(none)
    assert.truthy(waited >= 0.29 and waited < 2, "waited " .. waited)
    sys.kill(slow, 9)
    local got2, code2 = sys.wait({slow}, 5)
    assert.are.equal(slow, got2)
    assert.are.equal(128 + 9, code2)
    local n, err = sys.wait({slow}, 1)
    assert.is_nil(n)
    assert.truthy(err:find("not", 1, true) or err:find("child", 1, true))
  end)
end)

describe("c:logs against the emulator", function()
  local emu, c
  setup(function()
    emu = emulator.start{ready_delay = 0.1}
    c = k8s.connect{kubeconfig = emu.kubeconfig}
    c:apply{apiVersion = "v1", kind = "Namespace", metadata = {name = "logs"}}
  end)
  teardown(function()
    if c then c:close() end
    if emu then emu:stop() end
  end)

  local function pod(name, containers)
    return {apiVersion = "v1", kind = "Pod", metadata = {name = name, namespace = "logs"},
            spec = {containers = containers}}
  end

  local function running(name)
    for _ = 1, 100 do
      local p = c:get{apiVersion = "v1", kind = "Pod", name = name, namespace = "logs"}
      if p.status and p.status.phase == "Running" then return p end
      sys.sleep(0.05)
    end
    error("pod " .. name .. " never ran")
  end

  it("reads a pod's log as text, with tail, container and previous", function()
    c:apply(pod("one", {{name = "main", image = "app:1"}}))
    local p = running("one")
    local text = c:logs(p)
    assert.are.equal("[emulator] main started (image app:1)\nready\n", text)
    assert.are.equal("ready\n", c:logs("one", {namespace = "logs", tail = 1}))
    c:apply(pod("two", {{name = "a", image = "app:1"}, {name = "b", image = "app:2"}}))
    running("two")
    assert.truthy(c:logs(p and "two", {namespace = "logs", container = "b"}):find("image app:2", 1, true))
    local none, err = c:try_logs("two", {namespace = "logs"})
    assert.is_nil(none)
    assert.truthy(err.message:find("a container name must be specified", 1, true))
    local none2, err2 = c:try_logs("one", {namespace = "logs", previous = true})
    assert.is_nil(none2)
    assert.are.equal(400, err2.code)
  end)

  it("answers c:get{subresource = \"log\"} with the log text, as c:logs does", function()
    assert.are.equal("ready\n", c:get{apiVersion = "v1", kind = "Pod", name = "one", namespace = "logs",
                                       subresource = "log", tail = 1})
  end)

  it("streams a followed log line by line to a callback, until the callback stops it", function()
    local got = {}
    local fin = c:logs("one", {namespace = "logs", follow = true}, function(line, ev)
      got[#got + 1] = line
      assert.are.equal(0, ev.dropped)
      return #got < 2
    end)
    assert.are.same({"[emulator] main started (image app:1)", "ready"}, got)
    assert.is_true(fin.stopped)
  end)

  it("refuses follow without a callback and bad arguments before asking the server", function()
    local _, e1 = c:try_logs("one", {namespace = "logs", follow = true})
    assert.truthy(e1.message:find("follow = true needs a callback", 1, true))
    local _, e2 = c:try_logs("../x", {namespace = "logs"})
    assert.truthy(e2.message:find("expected a pod name", 1, true))
    local _, e3 = c:try_logs("one", {namespace = "logs", tail = -1})
    assert.truthy(e3.message:find("tail must be a whole number", 1, true))
  end)
end)
