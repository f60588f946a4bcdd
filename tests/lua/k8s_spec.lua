-- rigelk8s.k8s end to end, against the Kubernetes API emulator over HTTPS: credentials
-- of every kind, Status errors, server-side apply conflicts, pagination, watches that
-- survive dropped connections and 410 Gone, retries, custom resources, watch sets.
local k8s = require "rigelk8s.k8s"
local errors = require "rigelk8s.errors"
local sys = require "rigelk8s.sys"
local emulator = require "emulator"

local function source_dir()
  local d = os.getenv("RK_SOURCE_DIR")
  return (d and d ~= "") and d or "."
end

local function cm(name, data, labels, ns)
  return {apiVersion = "v1", kind = "ConfigMap",
          metadata = {name = name, namespace = ns, labels = labels}, data = data or {k = "v"}}
end

local function count_lines(path)
  local n, f = 0, io.open(path)
  if not f then return 0 end
  for _ in f:lines() do n = n + 1 end
  f:close()
  return n
end

describe("rigelk8s.k8s against the emulator (HTTPS)", function()
  local emu, c

  setup(function()
    emu = emulator.start{tls = true}
    c = k8s.connect{kubeconfig = emu.kubeconfig, context = "emulator"}
  end)

  teardown(function()
    if c then c:close() end
    if emu then emu:stop() end
  end)

  describe("credentials", function()
    it("authenticates with a bearer token", function()
      assert.equal("emulator", c.context)
      assert.equal("default", c.namespace)
      assert.equal(emu.url, c.server)
      assert.truthy(c:server_version().gitVersion:match("^v1%."))
      assert.equal("default", c:get{apiVersion = "v1", kind = "Namespace", name = "default"}.metadata.name)
    end)

    it("authenticates with a client certificate held in memory", function()
      local cc <close> = k8s.connect{kubeconfig = emu.kubeconfig, context = "emulator-cert"}
      local live = cc:apply(cm("from-cert"))
      assert.equal("from-cert", live.metadata.name)
    end)

    it("runs an exec plugin, caches its token and runs it again after a 401", function()
      local cfg = emu:config()
      local admin = emulator.entry(cfg, "users", "emulator-admin").user.token
      local count = emu.dir .. "/plugin-runs"
      table.insert(cfg.users, {name = "exec-user", user = {exec = {
        apiVersion = "client.authentication.k8s.io/v1",
        command = source_dir() .. "/tests/fixtures/kubeconfig/exec-plugin.sh",
        args = {"--cluster", "emulator"},
        env = {{name = "RK_PLUGIN_TOKEN", value = admin},
               {name = "RK_PLUGIN_COUNT_FILE", value = count},
               {name = "RK_PLUGIN_STALE_FIRST", value = "1"}},
        interactiveMode = "Never"}}})
      table.insert(cfg.contexts, {name = "exec", context = {cluster = "emulator", user = "exec-user"}})
      local path = emu:write_kubeconfig("exec.yaml", cfg)
      local ec <close> = k8s.connect{kubeconfig = path, context = "exec"}
      -- the first token is stale: 401, the plugin runs again, the request goes through
      assert.equal("default", ec:get{apiVersion = "v1", kind = "Namespace", name = "default"}.metadata.name)
      assert.equal(2, count_lines(count))
      ec:get{apiVersion = "v1", kind = "Namespace", name = "default"}
      assert.equal(2, count_lines(count)) -- cached: no expiry was given
    end)

    it("names the install hint when the plugin is missing", function()
      local cfg = emu:config()
      table.insert(cfg.users, {name = "gone", user = {exec = {
        apiVersion = "client.authentication.k8s.io/v1beta1", command = "rk-no-such-login",
        installHint = "install rk-no-such-login from the team wiki"}}})
      table.insert(cfg.contexts, {name = "gone", context = {cluster = "emulator", user = "gone"}})
      local path = emu:write_kubeconfig("gone.yaml", cfg)
      local gc <close> = k8s.connect{kubeconfig = path, context = "gone"}
      local v, err = gc:try_get{apiVersion = "v1", kind = "Namespace", name = "default"}
      assert.is_nil(v)
      assert.matches('context "gone": user "gone": exec: plugin "rk%-no%-such%-login" not found; '
                     .. "install rk%-no%-such%-login from the team wiki", err.message)
      assert.equal(3, err.exit_code)
    end)

    it("refuses writes for the read-only context with 403 (exit 3)", function()
      local vc <close> = k8s.connect{kubeconfig = emu.kubeconfig, context = "emulator-viewer"}
      assert.is_table(vc:list{apiVersion = "v1", kind = "ConfigMap"})
      local v, err = vc:try_apply(cm("viewer-write"))
      assert.is_nil(v)
      assert.equal(403, err.code)
      assert.equal("Forbidden", err.reason)
      assert.equal(3, err.exit_code)
      assert.matches('User "emulator%-viewer" cannot patch', err.message)
    end)

    it("reports a certificate the CA does not vouch for", function()
      local cfg = emu:config()
      local cluster = emulator.entry(cfg, "clusters", "emulator").cluster
      -- any certificate that is not the emulator's CA: its own client certificate
      cluster["certificate-authority-data"] =
        emulator.entry(cfg, "users", "emulator-cert").user["client-certificate-data"]
      local path = emu:write_kubeconfig("bad-ca.yaml", cfg)
      local bc <close> = k8s.connect{kubeconfig = path}
      local v, err = bc:try_get{apiVersion = "v1", kind = "Namespace", name = "default"}
      assert.is_nil(v)
      assert.equal("TLSError", err.reason)
      assert.equal(3, err.exit_code)
      assert.matches("not trusted by certificate%-authority%-data of cluster \"emulator\" in "
                     .. path:gsub("%p", "%%%0"), err.message)
    end)

    it("names the URL and the context when nothing listens", function()
      local cfg = emu:config()
      emulator.entry(cfg, "clusters", "emulator").cluster.server = "https://127.0.0.1:9"
      local path = emu:write_kubeconfig("refused.yaml", cfg)
      local rc <close> = k8s.connect{kubeconfig = path}
      local ok, err = pcall(rc.get, rc, {apiVersion = "v1", kind = "Namespace", name = "default"})
      assert.is_false(ok)
      assert.equal('cannot reach https://127.0.0.1:9 (context "emulator"): connection refused',
                   tostring(err))
      assert.equal(3, err.exit_code)
      assert.equal("Unreachable", err.reason)
    end)

    it("fails to connect with exit 2 on a bad kubeconfig", function()
      local ok, err = pcall(k8s.connect, {kubeconfig = emu.kubeconfig, context = "nope"})
      assert.is_false(ok)
      assert.equal(2, err.exit_code)
      assert.matches('no context "nope"', err.message)
    end)
  end)

  describe("errors", function()
    it("carries 404 code and reason; get raises, try_get returns it", function()
      local v, err = c:try_get{apiVersion = "v1", kind = "ConfigMap", name = "missing"}
      assert.is_nil(v)
      assert.equal(404, err.code)
      assert.equal("NotFound", err.reason)
      assert.equal(1, err.exit_code)
      assert.is_true(errors.is(err))
      assert.equal('get ConfigMap default/missing: configmaps "missing" not found', tostring(err))
      local ok, raised = pcall(c.get, c, {apiVersion = "v1", kind = "ConfigMap", name = "missing"})
      assert.is_false(ok)
      assert.equal(404, raised.code)
    end)

    it("carries 409 AlreadyExists for a second create", function()
      c:create(cm("twice"))
      local v, err = c:try_create(cm("twice"))
      assert.is_nil(v)
      assert.equal(409, err.code)
      assert.equal("AlreadyExists", err.reason)
    end)

    it("carries 422 Invalid with its causes", function()
      local v, err = c:try_create(cm("Not_A_Valid_Name"))
      assert.is_nil(v)
      assert.equal(422, err.code)
      assert.equal("Invalid", err.reason)
      assert.equal("metadata.name", err.causes[1].field)
    end)

    it("lists server-side apply conflicts with their owners, and force resolves them", function()
      c:apply(cm("owned", {a = "1"}), {field_manager = "other-tool"})
      local v, err = c:try_apply(cm("owned", {a = "2"}))
      assert.is_nil(v)
      assert.equal(409, err.code)
      assert.equal("Conflict", err.reason)
      assert.same({{field = ".data.a", manager = "other-tool"}}, err.conflicts)
      assert.matches('conflict with "other%-tool"', err.message)
      assert.matches("force = true", err.message)
      local live = c:apply(cm("owned", {a = "2"}), {force = true})
      assert.equal("2", live.data.a)
    end)

    it("reports a kind the server does not have", function()
      local v, err = c:try_get{apiVersion = "nothing.example.com/v1", kind = "Gizmo", name = "g"}
      assert.is_nil(v)
      assert.equal("NoKindMatch", err.reason)
      assert.matches('no kind "Gizmo" in apiVersion "nothing.example.com/v1"', err.message)
    end)
  end)

  describe("verbs", function()
    it("applies, patches (merge, json, strategic), replaces and deletes", function()
      local live = c:apply(cm("verbs", {a = "1"}))
      assert.equal("1", live.data.a)
      live = c:patch(live, {metadata = {labels = {stage = "merge"}}})
      assert.equal("merge", live.metadata.labels.stage)
      live = c:patch(live, {{op = "replace", path = "/data/a", value = "json"}}, {type = "json"})
      assert.equal("json", live.data.a)
      live = c:patch(live, {data = {b = "strategic"}}, {type = "strategic"})
      assert.equal("strategic", live.data.b)
      live.data = {only = "this"}
      live = c:replace(live)
      assert.same({only = "this"}, live.data)
      c:delete(live, {wait = 10})
      assert.is_nil((c:try_get(live)))
      assert.is_false(c:delete(live, {ignore_not_found = true}))
      local _, err = c:try_delete(live)
      assert.equal(404, err.code)
    end)

    it("dry runs change nothing", function()
      local live = c:apply(cm("dry"), {dry_run = true})
      assert.equal("dry", live.metadata.name)
      assert.is_nil((c:try_get(cm("dry"))))
      c:apply(cm("dry"))
      c:delete(cm("dry"), {dry_run = true})
      assert.is_table(c:get(cm("dry")))
    end)

    it("applies many objects at once and reports each one", function()
      local list = {cm("batch-1"), cm("Bad_Batch"), cm("batch-3")}
      local results, failed = c:apply_all(list, {concurrency = 4})
      assert.equal(3, #results)
      assert.equal(1, failed)
      assert.is_true(results[1].ok)
      assert.equal("created", results[1].action)
      assert.equal("batch-1", results[1].object.metadata.name)
      assert.is_false(results[2].ok)
      assert.equal("failed", results[2].action)
      assert.equal(422, results[2].error.code)
      assert.equal("Bad_Batch", results[2].name)
      assert.is_true(results[3].ok)
      results = c:apply_all({cm("batch-1"), cm("batch-3")})
      assert.equal("applied", results[1].action)
      assert.equal("applied", results[2].action)
    end)

    it("lists 1,200 objects across pages", function()
      c:apply{apiVersion = "v1", kind = "Namespace", metadata = {name = "paging"}}
      local list = {}
      for i = 1, 1200 do list[i] = cm(string.format("page-%04d", i), {i = tostring(i)}, {set = "paging"}, "paging") end
      local results, failed = c:apply_all(list, {concurrency = 16})
      assert.equal(0, failed)
      assert.equal(1200, #results)
      -- one raw page really is a page
      local page = c:call{verb = "list", apiVersion = "v1", kind = "ConfigMap", namespace = "paging", limit = 500}
      assert.equal(500, #page.items)
      assert.truthy(page.metadata.continue)
      local items, meta = c:list{apiVersion = "v1", kind = "ConfigMap", namespace = "paging",
                                 label_selector = "set=paging", limit = 250}
      assert.equal(1200, #items)
      assert.truthy(meta.resourceVersion)
      assert.is_nil(meta.continue)
      local seen = {}
      for _, it in ipairs(items) do
        assert.equal("ConfigMap", it.kind)
        assert.is_nil(seen[it.metadata.name])
        seen[it.metadata.name] = true
      end
      assert.truthy(seen["page-0001"] and seen["page-1200"])
    end)
  end)

  describe("custom resources", function()
    it("uses a CRD created moments before, in the same run", function()
      -- discovery for the group is read (and found empty) before the CRD exists
      local _, err = c:try_get{apiVersion = "robots.example.com/v1", kind = "Fleet", name = "f"}
      assert.equal("NoKindMatch", err.reason)
      c:apply{apiVersion = "apiextensions.k8s.io/v1", kind = "CustomResourceDefinition",
              metadata = {name = "fleets.robots.example.com"},
              spec = {group = "robots.example.com", scope = "Namespaced",
                      names = {plural = "fleets", singular = "fleet", kind = "Fleet", listKind = "FleetList"},
                      versions = {{name = "v1", served = true, storage = true,
                                   schema = {openAPIV3Schema = {type = "object",
                                     ["x-kubernetes-preserve-unknown-fields"] = true}}}}}}
      local live = c:apply{apiVersion = "robots.example.com/v1", kind = "Fleet",
                           metadata = {name = "f"}, spec = {robots = 3}}
      assert.equal(3, live.spec.robots)
      local r = c:resolve("robots.example.com/v1", "Fleet")
      assert.equal("fleets", r.plural)
      assert.is_true(r.namespaced)
      local items = c:list{apiVersion = "robots.example.com/v1", kind = "Fleet"}
      assert.equal(1, #items)
      assert.equal("Fleet", items[1].kind)
    end)
  end)

  describe("retries", function()
    it("waits out 429 with Retry-After, then succeeds", function()
      c:apply(cm("retry"))
      emu:fault{status = 429, count = 2, retry_after = 1}
      local t0 = sys.now()
      assert.equal("retry", c:get(cm("retry")).metadata.name)
      local took = sys.now() - t0
      assert.is_true(took >= 1.9, "waited " .. took)
      assert.is_true(took < 5, "waited " .. took)
    end)

    it("retries 503 with backoff", function()
      emu:fault{status = 503, count = 3}
      assert.equal("retry", c:get(cm("retry")).metadata.name)
    end)

    it("never sends a create twice", function()
      emu:fault{status = 503, count = 1, method = "POST"}
      local v, err = c:try_create(cm("created-once"))
      assert.is_nil(v)
      assert.equal(503, err.code)
      assert.is_nil((c:try_get(cm("created-once"))))
    end)
  end)

  describe("watches", function()
    it("yields events and ends at its timeout", function()
      c:apply(cm("w-a", nil, {w = "basic"}))
      local seen = {}
      local t0 = sys.now()
      for ev in c:watch{apiVersion = "v1", kind = "ConfigMap", label_selector = "w=basic", timeout = 1} do
        seen[#seen + 1] = ev.type .. " " .. ev.object.metadata.name
      end
      assert.same({"ADDED w-a"}, seen)
      assert.is_true(sys.now() - t0 >= 0.9)
    end)

    it("takes a callback", function()
      c:apply(cm("w-cb", nil, {w = "cb"}))
      local n = 0
      c:watch({apiVersion = "v1", kind = "ConfigMap", label_selector = "w=cb", timeout = 5}, function(ev)
        n = n + 1
        assert.equal("w-cb", ev.object.metadata.name)
        return false
      end)
      assert.equal(1, n)
    end)

    it("resumes from the last resourceVersion after the connection drops", function()
      c:apply(cm("d-1", nil, {w = "drop"}))
      local seen = {}
      for ev in c:watch{apiVersion = "v1", kind = "ConfigMap", label_selector = "w=drop", timeout = 15} do
        seen[#seen + 1] = ev.type .. " " .. ev.object.metadata.name
        if ev.object.metadata.name == "d-1" and #seen == 1 then
          emu:fault{drop_watches = true}
          c:apply(cm("d-2", nil, {w = "drop"}))
          emu:fault{drop_watches = true}
          c:apply(cm("d-3", nil, {w = "drop"}))
        end
        if ev.object.metadata.name == "d-3" then break end
      end
      assert.same({"ADDED d-1", "ADDED d-2", "ADDED d-3"}, seen)
    end)

    it("lists again after 410 Gone and reports what changed meanwhile", function()
      c:apply(cm("g-1", nil, {w = "gone"}))
      c:apply(cm("g-2", nil, {w = "gone"}))
      local seen, phase = {}, 1
      for ev in c:watch{apiVersion = "v1", kind = "ConfigMap", label_selector = "w=gone", timeout = 15} do
        seen[#seen + 1] = ev.type .. " " .. ev.object.metadata.name
        if phase == 1 and #seen == 2 then
          phase = 2
          emu:fault{gone_next_watch = true}
          emu:fault{drop_watches = true}
          c:delete(cm("g-1"))
          c:apply(cm("g-3", nil, {w = "gone"}))
        elseif phase == 2 and #seen == 4 then
          break
        end
      end
      table.sort(seen)
      assert.same({"ADDED g-1", "ADDED g-2", "ADDED g-3", "DELETED g-1"}, seen)
    end)

    it("multiplexes several watches in one set", function()
      local ws <close> = c:watch_set()
      ws:add({apiVersion = "v1", kind = "ConfigMap", label_selector = "w=set"}, "cms")
      ws:add({apiVersion = "v1", kind = "Secret", label_selector = "w=set"}, "secrets")
      assert.equal(2, ws:count())
      assert.is_nil(ws:next(0.2)) -- nothing yet: nil on timeout
      c:apply(cm("s-cm", nil, {w = "set"}))
      c:apply{apiVersion = "v1", kind = "Secret", metadata = {name = "s-secret", labels = {w = "set"}},
              stringData = {k = "v"}}
      local got = {}
      for _ = 1, 2 do
        local ev = ws:next(5)
        assert.is_table(ev)
        got[ev.watch] = ev.type .. " " .. ev.object.metadata.name
      end
      assert.same({cms = "ADDED s-cm", secrets = "ADDED s-secret"}, got)
    end)

    it("raises when the watch cannot start", function()
      local ok, err = pcall(function()
        for _ in c:watch{apiVersion = "nothing.example.com/v1", kind = "Gizmo", timeout = 2} do end
      end)
      assert.is_false(ok)
      assert.equal("NoKindMatch", err.reason)
    end)
  end)
end)
