-- rigelk8s.failreport without a cluster: masking, the file (name, mode, never
-- overwritten, an unwritable directory), the log lines the text report shows. The
-- collection from a cluster is tested end to end on the emulator
-- (tests/e2e/test_failure_report_emulator.py).
local failreport = require "rigelk8s.failreport"
local json = require "rigelk8s.json"
local sys = require "rigelk8s.sys"

local function b64(s)
  local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  return ((s:gsub(".", function(x)
    local r, b = "", x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return alphabet:sub(c + 1, c + 1)
  end) .. ({"", "==", "="})[#s % 3 + 1])
end

local function tmpdir()
  local p = io.popen("mktemp -d /tmp/rk-failreport-XXXXXX")
  local d = p:read("l")
  p:close()
  return d
end

local function deployment(env)
  return {apiVersion = "apps/v1", kind = "Deployment", metadata = {name = "app", namespace = "ns"},
          spec = {template = {spec = {containers = {{name = "ros-app", image = "app:1", env = env}}}}}}
end

describe("failreport.b64decode", function()
  it("decodes what base64 encodes, with and without padding", function()
    for _, s in ipairs{"", "a", "ab", "abc", "robot:pa55-word", "{\"auths\":{}}\n"} do
      assert.equal(s, failreport.b64decode(b64(s)))
    end
  end)
  it("refuses text that is not base64", function()
    assert.is_nil(failreport.b64decode("not base64!"))
    assert.is_nil(failreport.b64decode("abcde"))
  end)
end)

describe("failreport.secret_name", function()
  it("matches names that look secret, in any case", function()
    for _, n in ipairs{"DB_PASSWORD", "passwd", "API_KEY", "github_token", "AWS_SECRET_ACCESS_KEY",
                       "SSH_PRIVATE", "Credentials", "BASIC_AUTH", "SESSION_ID", "PGPWD"} do
      assert.is_true(failreport.secret_name(n), n)
    end
  end)
  it("leaves ordinary names alone", function()
    for _, n in ipairs{"ROS_MASTER_URI", "ROS_IP", "ROS_DOMAIN_ID", "LOG_LEVEL", "HOME"} do
      assert.is_false(failreport.secret_name(n), n)
    end
  end)
end)

describe("failreport.known_secrets and mask", function()
  local docker = json.encode{auths = {["registry.example.com"] = {
    auth = b64("robot:registry-pa55"), username = "robot", password = "registry-pa55"}}}
  local secret = {apiVersion = "v1", kind = "Secret", metadata = {name = "creds", namespace = "ns"},
                  data = {token = b64("tok-123456")}, stringData = {[".dockerconfigjson"] = docker}}
  local app = deployment{{name = "DB_PASSWORD", value = "hunter2-secret"}, {name = "USE_AUTH", value = "true"},
                         {name = "API_KEY", valueFrom = {secretKeyRef = {name = "creds", key = "token"}}},
                         {name = "LOG_LEVEL", value = "debug"}}

  it("knows every value of the rendered Secrets and of secret-looking env literals", function()
    local known = {}
    for _, v in ipairs(failreport.known_secrets{secret, app}) do known[v] = true end
    assert.is_true(known["tok-123456"])             -- data, decoded
    assert.is_true(known[b64("tok-123456")])        -- and as stored
    assert.is_true(known["registry-pa55"])          -- the docker config's password
    assert.is_true(known[b64("robot:registry-pa55")])
    assert.is_true(known["hunter2-secret"])
    assert.is_nil(known["true"])                    -- a flag, not a secret
    assert.is_nil(known["debug"])                   -- not a secret-looking name
  end)

  it("masks Secrets, env values, URLs, last-applied and every known value in text", function()
    local live = deployment{{name = "DB_PASSWORD", value = "hunter2-secret"},
                            {name = "API_KEY", valueFrom = {secretKeyRef = {name = "creds", key = "token"}}},
                            {name = "LOG_LEVEL", value = "debug"}}
    live.metadata.annotations = {["kubectl.kubernetes.io/last-applied-configuration"] = "{\"hunter\": 1}",
                                 keep = "me"}
    local doc = {masking = failreport.MASKING, related = {{rendered = secret}},
                 workloads = {{live = live, pods = {{containers = {{log = {lines = {
                   "login with hunter2-secret and tok-123456",
                   "pull with registry-pa55",
                   "db at postgres://robot:pw-in-url@db:5432/x",
                   "nothing secret here",
                 }}}}}}}}}
    failreport.mask(doc, failreport.known_secrets{secret, app})
    local text = json.encode(doc)
    for _, v in ipairs{"hunter2-secret", "tok-123456", "registry-pa55", "pw-in-url", b64("tok-123456")} do
      assert.is_nil(text:find(v, 1, true), v .. " is in the report")
    end
    assert.same({token = "***"}, doc.related[1].rendered.data)
    assert.same({[".dockerconfigjson"] = "***"}, doc.related[1].rendered.stringData)
    local env = doc.workloads[1].live.spec.template.spec.containers[1].env
    assert.equal("***", env[1].value)
    assert.same({secretKeyRef = {name = "creds", key = "token"}}, env[2].valueFrom)   -- a reference, kept
    assert.equal("debug", env[3].value)
    assert.equal("***", live.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"])
    assert.equal("me", live.metadata.annotations.keep)
    assert.same({"login with *** and ***", "pull with ***", "db at postgres://robot:***@db:5432/x",
                 "nothing secret here"}, doc.workloads[1].pods[1].containers[1].log.lines)
    assert.equal(failreport.MASKING, doc.masking)   -- the rule's own example stays readable
  end)

  it("replaces a longer value whole when it contains a shorter one", function()
    assert.equal("x *** y", failreport.scrub("x abcdefgh y", {"abcdefgh", "abcd"}))
  end)
end)

describe("failreport.write", function()
  local doc = {kind = "RigelK8sFailureReport", state = "failed"}

  it("writes rigelk8s-failure-APP-TIME.json with mode 0600, never over an existing one", function()
    local dir = tmpdir()
    local p1 = assert(failreport.write(doc, dir, "My_App"))
    local p2 = assert(failreport.write(doc, dir, "My_App"))
    assert.matches("/rigelk8s%-failure%-my%-app%-%d%d%d%d%d%d%d%dT%d%d%d%d%d%dZ%.json$", p1)
    assert.not_equal(p1, p2)
    assert.equal("failed", json.decode(assert(sys.readfile(p1))).state)
    for _, p in ipairs{p1, p2} do
      local f = io.popen("stat -c %a " .. p)
      assert.equal("600", f:read("l"))
      f:close()
      os.remove(p)
    end
    os.remove(dir)
  end)

  it("gives an absolute path for the working directory", function()
    local dir = tmpdir()
    local p = assert(failreport.write(doc, dir .. "/", "a"))
    assert.equal("/", p:sub(1, 1))
    assert.is_nil(p:find("//", 1, true))
    os.remove(p)
    os.remove(dir)
  end)

  it("says which directory cannot be written, and how to fix it", function()
    local path, err = failreport.write(doc, "/nonexistent-rk-dir", "a")
    assert.is_nil(path)
    assert.matches("cannot write the failure report in /nonexistent%-rk%-dir %(No such file or directory%); " ..
                   "give %-%-report%-dir a directory you can write to", err)
  end)
end)

describe("failreport.shown", function()
  local function container(fields)
    local c = {name = "ros-app", init = false, ready = false, restart_count = 0,
               state = {running = {}}, last_state = json.null,
               log = {available = true, lines = {"current 1", "current 2"}},
               previous_log = {available = false, reason = "previous terminated container not found"}}
    for k, v in pairs(fields) do c[k] = v end
    return c
  end

  it("shows a crash loop's previous container, which says why it stopped", function()
    local lines = {}
    for i = 1, 15 do lines[i] = "line " .. i end
    local doc = {workloads = {{pods = {{name = "p1", containers = {container{
      state = {waiting = {reason = "CrashLoopBackOff"}}, restart_count = 3,
      last_state = {terminated = {exitCode = 2}},
      previous_log = {available = true, lines = lines}}}}}}}}
    local s = failreport.shown(doc)
    assert.equal("previous", s.which)
    assert.equal(2, s.exit_code)
    assert.equal(10, #s.lines)
    assert.equal("line 6", s.lines[1])
    assert.equal("line 15", s.lines[10])
    local text = failreport.text(s, "/tmp/r.json")
    assert.matches("last 10 log lines %(previous container of pod p1, container ros%-app, exit code 2%):", text)
    assert.matches("\n  | line 15\n", text)
    assert.matches("failure report %(logs of every failing container, events, specs%): /tmp/r%.json$", text)
  end)

  it("shows the current container when there is no previous one", function()
    local doc = {workloads = {{pods = {{name = "p1", containers = {container{}}}}}}}
    local s = failreport.shown(doc)
    assert.equal("current", s.which)
    assert.same({"current 1", "current 2"}, s.lines)
  end)

  it("skips init containers that finished and says why there is no log", function()
    local doc = {workloads = {{pods = {{name = "p1", containers = {
      container{name = "init", init = true, state = {terminated = {exitCode = 0}}},
      container{name = "app", state = {waiting = {reason = "ImagePullBackOff"}},
                log = {available = false, reason = "container is waiting to start"}},
    }}}}}}
    local s = failreport.shown(doc)
    assert.equal("app", s.container)
    assert.matches("no log %(current container of pod p1, container app%): container is waiting to start",
                   failreport.text(s, nil, nil))
  end)

  it("says when no report could be written", function()
    assert.equal("no failure report: cannot write", failreport.text(nil, nil, "cannot write"))
  end)
end)
