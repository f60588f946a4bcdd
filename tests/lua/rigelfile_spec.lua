-- Rigelfile loading: templates, job selection, validation messages, defaults, image rules.
local rigelfile = require "rigelk8s.rigelfile"
local template = require "rigelk8s.template"
local errors = require "rigelk8s.errors"

local tmpfiles = {}
local function write_rigelfile(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  tmpfiles[#tmpfiles + 1] = path
  return path
end
teardown(function() for _, p in ipairs(tmpfiles) do os.remove(p) end end)

local function no_env() return nil end
local function env_of(t) return function(k) return t[k] end end

-- A Rigelfile around an orchestration block (indented under with: orchestration:).
local function job(orch, extra)
  return (extra or "") .. [[
jobs:
  deploy_k8s:
    plugin: "src.plugin.OrchestrationPlugin"
    with:
      orchestration:
]] .. orch
end

local function load(text, opts)
  opts = opts or {}
  opts.file = write_rigelfile(text)
  opts.env = opts.env or no_env
  return rigelfile.load(opts)
end

-- Loads and returns the structured error (fails the test if loading succeeds).
local function load_error(text, opts)
  local ok, e = pcall(load, text, opts)
  assert.is_false(ok, "expected the Rigelfile to be rejected")
  assert.is_true(errors.is(e), "expected a structured error, got " .. tostring(e))
  return e
end

local function render(value, ctx_opts)
  ctx_opts = ctx_opts or {}
  ctx_opts.env = ctx_opts.env or no_env
  local out, problems = template.render(value, ctx_opts)
  return out, problems
end

describe("templates", function()
  it("keeps the type of a value that is exactly one template", function()
    local out = render({ports = "{{ vars.ports }}", n = "{{ vars.n }}", on = "{{ vars.on }}",
                        m = "{{vars.m}}"},
                       {vars = {ports = {11311, 9090}, n = 3, on = true, m = {a = "b"}}})
    assert.same({11311, 9090}, out.ports)
    assert.equal(3, out.n)
    assert.equal(true, out.on)
    assert.same({a = "b"}, out.m)
  end)

  it("interpolates partial templates as text", function()
    local out = render({s = "{{ vars.reg }}/app:{{ vars.tag }}", p = "port-{{ vars.n }}"},
                       {vars = {reg = "r.io", tag = "v1", n = 3}})
    assert.equal("r.io/app:v1", out.s)
    assert.equal("port-3", out.p)
  end)

  it("indexes lists as Jinja2 does: from 0, negative from the end", function()
    local vars = {ports = {11311, 9090, 8080}, hosts = {{name = "a"}, {name = "b"}}}
    local out, problems = render({first = "{{ vars.ports[0] }}", second = "{{ vars.ports[1] }}",
                                  third = "{{ vars.ports[2] }}", last = "{{ vars.ports[-1] }}",
                                  before_last = "{{ vars.ports[-2] }}", s = "p{{ vars.ports[1] }}",
                                  host = "{{ vars.hosts[1].name }}", first_host = "{{ vars.hosts[-2]['name'] }}",
                                  dotted = "{{ vars.ports.2 }}", dotted_host = "{{ vars.hosts.0.name }}"},
                                 {vars = vars})
    assert.same({}, problems)
    assert.same({first = 11311, second = 9090, third = 8080, last = 8080, before_last = 9090,
                 s = "p9090", host = "b", first_host = "a", dotted = 8080, dotted_host = "a"}, out)
  end)

  it("reports an index out of range, naming the list and its size", function()
    for _, tpl in ipairs{"{{ vars.ports[3] }}", "{{ vars.ports[-4] }}", "x-{{ vars.ports[7] }}"} do
      local _, problems = render({v = tpl}, {vars = {ports = {1, 2, 3}}, path = "jobs.j.with"})
      assert.equal(1, #problems, tpl)
      assert.equal("jobs.j.with.v", problems[1].path)
      assert.matches("is out of range", problems[1].message, 1, true)
      assert.matches("vars.ports has 3 items (indexes 0..2, or -1..-3 from the end", problems[1].message, 1, true)
    end
    local _, problems = render({v = "{{ vars.none[0] }}"}, {vars = {none = {}}, path = "p"})
    assert.matches("vars.none is an empty list", problems[1].message, 1, true)
  end)

  it("refuses to interpolate a list into text", function()
    local _, problems = render({s = "x {{ vars.l }}"}, {vars = {l = {1, 2}}, path = "p"})
    assert.equal(1, #problems)
    assert.equal("p.s", problems[1].path)
    assert.matches("is a list and cannot be used as text", problems[1].message, 1, true)
  end)

  it("falls back to the environment variable for vars.x", function()
    local out = render({tag = "{{ vars.TAG }}"}, {vars = {}, env = env_of{TAG = "v9"}})
    assert.equal("v9", out.tag)
  end)

  it("prefers vars over the environment", function()
    local out = render({tag = "{{ vars.TAG }}"}, {vars = {TAG = "file"}, env = env_of{TAG = "env"}})
    assert.equal("file", out.tag)
  end)

  it("does not fall back to the environment for data.x", function()
    local _, problems = render({x = "{{ data.HOME }}"}, {env = env_of{HOME = "/root"}, path = "p"})
    assert.equal(1, #problems)
    assert.matches("undefined variable 'data.HOME'", problems[1].message, 1, true)
  end)

  it("renders mapping keys", function()
    local out = render({["{{ vars.k }}"] = "v", ["label-{{ vars.n }}"] = 1}, {vars = {k = "key", n = 2}})
    assert.same({key = "v", ["label-2"] = 1}, out)
  end)

  it("keeps injected YAML and templates in values as plain data", function()
    local evil = "x\nkind: Secret\n- {{ vars.other }}"
    local out = render({a = "{{ vars.evil }}", b = "{{ vars.env_tpl }}", c = "pre {{ vars.evil }}"},
                       {vars = {other = "NO"}, env = env_of{evil = evil, env_tpl = "{{ vars.other }}"}})
    assert.equal(evil, out.a)
    assert.equal("{{ vars.other }}", out.b) -- a rendered value is never rendered again
    assert.equal("pre " .. evil, out.c)
  end)

  it("renders vars that use other vars, and reports cycles", function()
    local out = render({x = "{{ vars.image }}"}, {vars = {reg = "r.io", image = "{{ vars.reg }}/app"}})
    assert.equal("r.io/app", out.x)
    local _, problems = render({x = "{{ vars.a }}"}, {vars = {a = "{{ vars.b }}", b = "{{ vars.a }}"}})
    assert.matches("refers to itself", problems[1].message, 1, true)
  end)

  it("applies default() only to undefined or null values", function()
    local out = render({a = "{{ vars.missing | default('d') }}", b = "{{ vars.x | default('d') }}",
                        c = "{{ vars.e | default('d', true) }}", d = "{{ vars.n | default(5) }}"},
                       {vars = {x = "set", e = ""}})
    assert.same({a = "d", b = "set", c = "d", d = 5}, out)
  end)

  it("supports lower, upper, trim, replace and int", function()
    local out = render({
      a = "{{ vars.s | lower }}", b = "{{ vars.s | upper }}", c = "{{ vars.p | trim }}",
      d = "{{ vars.s | replace('-', '_') }}", e = "{{ vars.port | int }}",
    }, {vars = {s = "My-App", p = "  x  ", port = "8080"}})
    assert.same({a = "my-app", b = "MY-APP", c = "x", d = "My_App", e = 8080}, out)
  end)

  it("reports an unknown filter with a suggestion", function()
    local _, problems = render({a = "{{ vars.s | lowr }}"}, {vars = {s = "x"}, path = "w"})
    assert.matches("unknown filter 'lowr'; did you mean 'lower'?", problems[1].message, 1, true)
  end)

  it("reports an undefined variable with a suggestion and the fixes", function()
    local _, problems = render({a = "{{ vars.imgae }}"}, {vars = {image = "x"}, path = "w"})
    assert.equal("w.a", problems[1].path)
    assert.equal("undefined variable 'vars.imgae' in '{{ vars.imgae }}' (did you mean 'vars.image'?); " ..
                 "define it under vars:, set the environment variable imgae, or add '| default(...)'",
                 problems[1].message)
  end)

  it("reports every broken value, not just the first", function()
    local _, problems = render({a = "{{ vars.x }}", b = {"{{ vars.y }}"}}, {path = "w"})
    assert.equal(2, #problems)
  end)
end)

describe("regex_replace", function()
  -- Expected values are what Python's re.sub returns.
  local cases = {
    {".*:", "", "my-registry/my-ros-app:v1.0.0", "v1.0.0"},
    {":.*$", "", "ros:noetic-ros-core", "ros"},
    {"^(\\w+)/(.*)$", "\\2@\\1", "reg/app:1", "app:1@reg"},
    {"[^a-z0-9-]", "-", "My_App.Name", "-y--pp--ame"},
    {"x*", "-", "abxd", "-a-b--d-"},
    {"(a|b)+?c", "X", "ababcabc", "XX"},
    {"\\d{2,3}", "N", "1 22 333 4444", "1 N N N4"},
    {"\\bfoo\\b", "bar", "foo food foo", "bar food bar"},
    {"(?:ab)+", "Z", "ababab abx", "Z Zx"},
    {"(a)|(b)", "[\\1\\2]", "ab", "[a][b]"},
    {"a{x}", "X", "a{x}", "X"},
    {"v(\\d+)\\.(\\d+)", "\\g<1>-\\2", "app-v1.22", "app-1-22"},
    {"\\s+", " ", "a \t b", "a b"},
  }
  for _, c in ipairs(cases) do
    it(string.format("re.sub(%q, %q, %q)", c[1], c[2], c[3]), function()
      assert.equal(c[4], template.regex.sub(c[1], c[2], c[3]))
    end)
  end

  it("works as a filter on vars and environment values", function()
    local out = render({tag = "{{ vars.IMAGE | regex_replace('.*:', '') }}"},
                       {env = env_of{IMAGE = "reg/app:2.1"}})
    assert.equal("2.1", out.tag)
  end)

  -- PCRE2 speaks what the old hand-made engine refused: lookaround, named groups, inline
  -- flags, back-references.
  local now_supported = {
    {"(?<=:).*", "", "app:1.0", "app:"},
    {"\\w+(?=:)", "X", "app:1.0", "X:1.0"},
    {"(?P<reg>[^/]+)/(?P<app>.*)", "\\g<app>@\\g<reg>", "reg/app:1", "app:1@reg"},
    {"(?i)APP", "x", "My-App", "My-x"},
    {"(a)\\1", "X", "aab", "Xb"},
  }
  for _, c in ipairs(now_supported) do
    it(string.format("supports re.sub(%q, %q, %q)", c[1], c[2], c[3]), function()
      assert.equal(c[4], template.regex.sub(c[1], c[2], c[3]))
    end)
  end

  it("matches Unicode characters, not bytes (UTF-8 text, as Python's str)", function()
    local sub = template.regex.sub
    assert.equal("xxxxx", sub(".", "x", "héllo"))           -- 'é' is one character
    assert.equal("-", sub("\\w+", "-", "wörld"))            -- \w is Unicode-aware
    assert.equal("e-e", sub("(?i)é", "e", "É-é"))           -- caseless beyond ASCII
    assert.equal("日本-", sub("語$", "-", "日本語"))
    assert.equal("-a-é-", sub("x*", "-", "aé"))             -- empty matches step by character
    local s, e, g = template.regex.search("(?P<tag>[^:]+)$", "ros:ノエティック")
    assert.equal(5, s)
    assert.equal(#"ros:ノエティック", e)
    assert.equal("ノエティック", g.tag)
  end)

  it("refuses a text that is not UTF-8 with the byte, as a template error", function()
    local _, problems = render({a = "{{ vars.s | regex_replace('a', 'b') }}"}, {vars = {s = "xa\xffa"}})
    assert.equal(1, #problems)
    assert.matches("filter 'regex_replace': regex 'a': the text is not UTF-8: byte 3:", problems[1].message, 1, true)
  end)

  -- Broken patterns: the message names the pattern and PCRE2's offset in it.
  local broken = {
    {"(ab", 3, "missing closing parenthesis"},
    {"ab)", 2, "unmatched closing parenthesis"},
    {"*a", 0, "quantifier does not follow a repeatable item"},
    {"[abc", 4, "missing terminating ] for character class"},
    {"a\\1", 2, "reference to non-existent subpattern"},
    {"a{3,2}", 5, "numbers out of order in {} quantifier"},
  }
  for _, c in ipairs(broken) do
    it("rejects the broken pattern " .. c[1] .. " with its position", function()
      local _, problems = render({a = "{{ vars.s | regex_replace('" .. c[1]:gsub("\\", "\\\\") .. "', '') }}"},
                                 {vars = {s = "x"}})
      assert.equal(1, #problems)
      assert.matches(string.format("filter 'regex_replace': regex '%s' at position %d: %s",
                                   c[1], c[2], c[3]), problems[1].message, 1, true)
    end)
  end

  it("reports a broken pattern in a Rigelfile at its file, line and column", function()
    local e = load_error(job([[
        deployment_name: "{{ vars.image | regex_replace('^(.*:', '') }}"
]], "vars:\n  image: reg/app:1\n"))
    local file = e.message:match("^(.-):%d+:%d+:")
    assert.is_not_nil(file, e.message)
    assert.matches(":8:26: jobs.deploy_k8s.with.orchestration.deployment_name: filter 'regex_replace': " ..
                   "regex '^(.*:' at position 5: missing closing parenthesis", e.message, 1, true)
  end)

  it("rejects a bad replacement with its position", function()
    local ok, e = pcall(template.regex.sub, "(a)", "x\\2", "a")
    assert.is_false(ok)
    assert.equal(template.regex.Error, getmetatable(e))
    assert.equal("replacement", e.kind)
    assert.equal("regex '(a)': group 2 does not exist in the pattern in the replacement 'x\\2' at position 1",
                 e.message)
    ok, e = pcall(template.regex.sub, "a", "\\q", "a")
    assert.is_false(ok)
    assert.matches("bad escape '\\q'", e.message, 1, true)
  end)

  it("stops catastrophic backtracking at PCRE2's match limit with an error", function()
    -- '(a+)+b' on a run of a's that never ends in b tries 2^n ways to split the run.
    local subject = string.rep("a", 40) .. "-b"
    local t0 = os.clock()
    local ok, e = pcall(template.regex.sub, "(a+)+b", "x", subject)
    local took = os.clock() - t0
    assert.is_false(ok)
    assert.equal("limit", e.kind)
    assert.matches("regex '(a+)+b' on a 42-byte text: gave up after " .. template.regex.MATCH_LIMIT ..
                   " backtracking steps (the match limit)", e.message, 1, true)
    -- Not a timing assertion: exponential search without the limit would not end at all
    -- (2^40 steps); print what the limit cost here.
    print(string.format("\n  regex match limit hit after %.1f ms", took * 1000))
    local _, problems = render({a = "{{ vars.s | regex_replace('(a|a)*c', '') }}"},
                               {vars = {s = string.rep("a", 40) .. "b c"}})
    assert.equal(1, #problems)
    assert.matches("filter 'regex_replace': regex '(a|a)*c' on a 43-byte text: gave up", problems[1].message, 1, true)
  end)

  it("stops deep backtracking on a long text at the depth limit", function()
    -- Python's re would match here; PCRE2 keeps a backtracking point per repeat of the
    -- group and stops at the depth limit (README, "regex_replace").
    local ok, e = pcall(template.regex.sub, "(a|b)*c", "", string.rep("ab", 100000) .. "c")
    assert.is_false(ok)
    assert.equal("limit", e.kind)
    assert.matches("backtracking went deeper than the limit", e.message, 1, true)
    -- A character class does the same without a backtracking point per repeat.
    assert.equal("x", (template.regex.sub("[ab]*c", "x", string.rep("ab", 100000) .. "c")))
  end)

  it("compiles a pattern once (cached) and exposes the compiled regex", function()
    local re = template.regex.compile("(\\w+):(\\w+)")
    assert.equal(re, template.regex.compile("(\\w+):(\\w+)"))
    assert.equal(2, re.groups)
    assert.equal("(\\w+):(\\w+)", re.pattern)
    assert.equal("b:a", (re:sub("\\2:\\1", "a:b")))
    assert.is_nil(re:match("x a:b"))
    assert.equal(3, (re:search("x a:b")))
  end)
end)

describe("rigelfile.load", function()
  it("fills in the defaults existing Rigelfiles rely on", function()
    local cfg = load(job("        readiness:\n          command: /probe.sh\n"))
    -- The seed README's configuration table: deploy_ros_master defaults to false.
    assert.is_false(cfg.deploy_ros_master)
    assert.is_nil(cfg.ros_master_uri)
    assert.equal("default", cfg.namespace)
    assert.equal("rigel-k8s-application", cfg.deployment_name)
    assert.same({command = "/probe.sh", initial_delay_seconds = 5, period_seconds = 10,
                 probe_timeout_seconds = 1, failure_threshold = 3, init_container = true}, cfg.readiness)
    assert.same({strategy = "Rolling", max_surge = 1, max_unavailable = 0}, cfg.rolling_update)
    assert.equal(600, cfg.progress_deadline_seconds)
    assert.equal(1, cfg.replicas)
    assert.equal("ros1", cfg.ros_version)
    assert.equal("noetic", cfg.distro)
    assert.is_false(cfg.observability.enabled)
    assert.is_false(cfg.observability.prometheus.enabled)
    assert.is_false(cfg.observability.grafana.enabled)
    assert.same({}, cfg.components)
    assert.same({file = cfg.source.file, job = "deploy_k8s", path = "jobs.deploy_k8s.with.orchestration"},
                cfg.source)
  end)

  it("coerces text the way pydantic does (values from the environment are text)", function()
    local cfg = load(job([[
        deploy_ros_master: "{{ vars.MASTER }}"
        replicas: "{{ vars.REPLICAS }}"
        rolling_update:
          max_surge: "25%"
]]), {env = env_of{MASTER = "yes", REPLICAS = "3"}})
    assert.is_true(cfg.deploy_ros_master)
    assert.equal(3, cfg.replicas)
    assert.equal("25%", cfg.rolling_update.max_surge)
  end)

  it("accepts the fields directly under with:", function()
    local cfg = load([[
jobs:
  k8s:
    plugin: rigelk8s
    with:
      namespace: robots
]])
    assert.equal("robots", cfg.namespace)
    assert.equal("jobs.k8s.with", cfg.source.path)
  end)

  it("rejects keys next to orchestration:", function()
    local e = load_error(job("        namespace: a\n") .. "      namespace: b\n")
    assert.matches("jobs.deploy_k8s.with.namespace: unknown key 'namespace' next to orchestration:; " ..
                   "move it under orchestration:", e.message, 1, true)
  end)

  it("picks the single orchestration job, or the one named by --job", function()
    local text = [[
jobs:
  build: {plugin: rigel.plugins.core.BuildXPlugin, with: {image: x}}
  a: {plugin: src.plugin.OrchestrationPlugin, with: {orchestration: {namespace: ns-a}}}
  b: {plugin: rigelk8s, with: {orchestration: {namespace: ns-b}}}
]]
    assert.equal("ns-b", load(text, {job = "b"}).namespace)
    local e = load_error(text)
    assert.equal(2, e.exit_code)
    assert.matches(": 2 orchestration jobs (a, b); choose one with --job NAME", e.message, 1, true)
    e = load_error(text, {job = "c"})
    assert.matches("--job c: no such job (orchestration jobs: a, b)", e.message, 1, true)
    e = load_error(text, {job = "build"})
    assert.matches("not an orchestration plugin", e.message, 1, true)
  end)

  it("reports a missing file with the fix", function()
    local ok, e = pcall(rigelfile.load, {file = "/nonexistent/Rigelfile"})
    assert.is_false(ok)
    assert.equal(2, e.exit_code)
    assert.equal("/nonexistent/Rigelfile: no such file; check the path given to -f", e.message)
  end)

  it("reports every problem at once, in file order, with line and column", function()
    local e = load_error(job([[
        deploy_ros_mastr: true
        namespace: My_NS
        persistent_storage:
          volumes:
            - name: data
              size: 5GB
              mount_path: data
        rolling_update:
          strategy: Rollin
          max_surge: x
]]))
    assert.equal(2, e.exit_code)
    local lines = {}
    for l in e.message:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal(7, #lines) -- the header and six problems
    assert.matches(": 6 problems:$", lines[1])
    local p = "jobs.deploy_k8s.with.orchestration."
    local expect = {
      {6, p .. "deploy_ros_mastr: unknown key 'deploy_ros_mastr'; did you mean 'deploy_ros_master'?"},
      {7, p .. "namespace: \"My_NS\" is not a valid Kubernetes name: it contains 'M'; use only " ..
          "lower-case letters, digits and '-' (e.g. \"my-ns\")"},
      {11, p .. "persistent_storage.volumes[0].size: \"5GB\" is not a Kubernetes quantity: it has " ..
           "unit 'GB', which Kubernetes does not know; write 5G"},
      {12, p .. "persistent_storage.volumes[0].mount_path: \"data\" is not an absolute path; " ..
           "start it with '/' (e.g. \"/data\")"},
      {14, p .. "rolling_update.strategy: \"Rollin\" is not one of: Rolling, Recreate; did you mean 'Rolling'?"},
      {15, p .. "rolling_update.max_surge: expected a whole number (e.g. 1) or a percentage " ..
           "(e.g. \"25%\"), got \"x\""},
    }
    for i, x in ipairs(expect) do
      local line, rest = lines[i + 1]:match("^[^:]+:(%d+):%d+: (.*)$")
      assert.equal(x[2], rest)
      assert.equal(x[1], tonumber(line))
    end
  end)

  it("rejects max_surge and max_unavailable both zero", function()
    local e = load_error(job("        rolling_update: {max_surge: 0, max_unavailable: 0}\n"))
    assert.matches("could never make progress; set max_surge: 1", e.message, 1, true)
  end)

  it("rejects components that wait for each other in a cycle or for unknown ones", function()
    local e = load_error(job([[
        components:
          - {name: a, after: [b]}
          - {name: b, after: [a]}
          - {name: c, after: [d]}
]]))
    assert.matches("components wait for each other in a cycle: a -> b -> a", e.message, 1, true)
    assert.matches("components[2].after[0]: no component named 'd'", e.message, 1, true)
  end)

  it("orders components so that each comes after what it waits for", function()
    local cfg = load(job([[
        components:
          - {name: planner, after: [driver]}
          - {name: driver}
          - {name: ui}
]]))
    local names = {}
    for i, c in ipairs(cfg.components) do names[i] = c.name end
    assert.same({"driver", "planner", "ui"}, names)
  end)
end)

describe("image resolution", function()
  local buildx = "  build:\n    plugin: rigel.plugins.core.BuildXPlugin\n    with:\n      image: \"{{ vars.reg }}/built:1\"\n"
  local function rf(orch, vars, extra_jobs)
    local text = "vars:\n" .. (vars or "  reg: r.io\n") .. "jobs:\n" .. (extra_jobs or "") ..
      "  deploy_k8s:\n    plugin: rigelk8s\n    with:\n      orchestration:\n" .. (orch or "        {}\n")
    return load((text:gsub("orchestration:\n        {}\n", "orchestration: {}\n")))
  end

  it("uses application_image first", function()
    local cfg = rf("        application_image: mine:1\n", "  reg: r.io\n  base_image: base:1\n", buildx)
    assert.equal("mine:1", cfg.application_image)
    assert.equal("application_image", cfg.image_source)
  end)

  it("then vars.base_image", function()
    local cfg = rf(nil, "  reg: r.io\n  base_image: base:1\n", buildx)
    assert.equal("base:1", cfg.application_image)
    assert.equal("vars.base_image", cfg.image_source)
  end)

  it("then the image of a BuildX job, rendered", function()
    local cfg = rf(nil, nil, buildx)
    assert.equal("r.io/built:1", cfg.application_image)
    assert.equal("jobs.build.with.image", cfg.image_source)
  end)

  it("then ros:<distro>-ros-core, distro from application.distro or vars.distro", function()
    local cfg = rf(nil, "  distro: melodic\n")
    assert.equal("ros:melodic-ros-core", cfg.application_image)
    assert.equal("ros:melodic-ros-core", cfg.ros_master_image)
    assert.equal("default", cfg.image_source)
    cfg = load("application:\n  distro: noetic\nvars:\n  distro: melodic\n" ..
               "jobs:\n  k: {plugin: rigelk8s, with: {}}\n")
    assert.equal("ros:noetic-ros-core", cfg.application_image)
  end)

  it("chooses ROS 2 from the distro, and humble for a bare ros_version: ros2", function()
    local cfg = rf(nil, "  distro: jazzy\n")
    assert.equal("ros2", cfg.ros_version)
    assert.equal("ros:jazzy-ros-core", cfg.ros_master_image)
    cfg = rf("        ros_version: ros2\n")
    assert.equal("humble", cfg.distro)
  end)

  it("rejects a ROS version that contradicts the distro", function()
    local e = load_error("vars:\n  distro: noetic\njobs:\n  k: {plugin: rigelk8s, with: {ros_version: ros2}}\n")
    assert.matches("ros_version ros2 does not match distro noetic (from vars.distro)", e.message, 1, true)
  end)

  it("rejects an unknown distro with a suggestion", function()
    local e = load_error("application:\n  distro: noetik\njobs:\n  k: {plugin: rigelk8s, with: {}}\n")
    assert.matches("application.distro: \"noetik\" is not one of: .*did you mean 'noetic'%?", e.message)
  end)
end)

describe("rigelfile.from_config", function()
  it("validates already-rendered with: data", function()
    local cfg = rigelfile.from_config({orchestration = {namespace = "robots", replicas = 2}})
    assert.equal("robots", cfg.namespace)
    assert.equal(2, cfg.replicas)
    assert.equal("ros:noetic-ros-core", cfg.application_image)
  end)

  it("names the config and path in messages", function()
    local ok, e = pcall(rigelfile.from_config, {orchestration = {namespce = "x"}}, {source = "cfg.json"})
    assert.is_false(ok)
    assert.equal(2, e.exit_code)
    assert.equal("cfg.json: with.orchestration.namespce: unknown key 'namespce'; did you mean 'namespace'?",
                 e.message)
  end)
end)
