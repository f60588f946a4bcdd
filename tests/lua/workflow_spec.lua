-- rigelk8s.workflow: hooks, the run context, apply's phases and reports, the final
-- report, with a stub client standing in for the cluster (the real thing is tested end
-- to end in tests/e2e/test_workflows.py).
local wf = require "rigelk8s.workflow"
local errors = require "rigelk8s.errors"
local json = require "rigelk8s.json"
local progress = require "rigelk8s.progress"

local function tmpfile(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

local function caught(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return errors.wrap(err)
end

local function obj(kind, name, ns, apiVersion)
  return {apiVersion = apiVersion or (kind == "Deployment" and "apps/v1" or "v1"), kind = kind,
          metadata = {name = name, namespace = ns}}
end

-- A stub of the client: `live` maps "Kind/name" to the object the cluster has; `calls`
-- records each apply_all batch as a list of "Kind/name".
local function stub_client(live, opts)
  opts = opts or {}
  local c = {calls = {}, live = live or {}}
  function c:call_many(specs)
    local out = {}
    for i, s in ipairs(specs) do
      local key = s.kind .. "/" .. s.name
      if opts.unreachable then
        out[i] = {ok = false, error = errors.new{message = "cannot reach http://x (context \"c\")",
                                                 exit_code = errors.EXIT.unreachable, reason = "Unreachable"}}
      elseif opts.no_kind and opts.no_kind[s.kind] then
        out[i] = {ok = false, error = errors.new{message = "no kind", reason = "NoKindMatch", code = 404}}
      elseif self.live[key] then
        out[i] = {ok = true, object = self.live[key]}
      else
        out[i] = {ok = false, error = errors.new{message = "not found", code = 404, reason = "NotFound"}}
      end
    end
    return out
  end
  function c:apply_all(list, o)
    local batch, results = {}, {}
    for i, x in ipairs(list) do
      local key = x.kind .. "/" .. x.metadata.name
      batch[#batch + 1] = key
      if opts.reject and opts.reject[key] then
        results[i] = {ok = false, error = errors.new{message = "Invalid: " .. key, code = 422}}
      elseif o.dry_run and x.metadata.namespace and opts.missing_ns == x.metadata.namespace then
        results[i] = {ok = false, error = errors.new{message = 'namespaces "' .. opts.missing_ns .. '" not found', code = 404}}
      else
        local prev = self.live[key]
        local rv = prev and prev.metadata.resourceVersion or "0"
        if not prev or (opts.change and opts.change[key]) then rv = tostring(tonumber(rv) + 100) end
        results[i] = {ok = true, object = {kind = x.kind, metadata = {name = x.metadata.name, resourceVersion = rv},
                                           spec = x.spec}}
      end
    end
    self.calls[#self.calls + 1] = batch
    return results
  end
  return c
end

local function new_ctx(argv, client)
  local ctx = wf.context(argv or {}, {command = "test"})
  ctx.out = progress.new{quiet = true}
  ctx.client = client
  return ctx
end

describe("workflow hooks", function()
  before_each(function() wf.reset_hooks() end)

  it("refuses unknown hook names with a suggestion (exit 2)", function()
    local e = caught(wf.on, "on_redy", function() end)
    assert.are.equal(2, e.exit_code)
    assert.truthy(e.message:find("did you mean 'on_ready'", 1, true))
  end)

  it("loads a hook file that returns a table, and rejects one that returns something else", function()
    local calls = {}
    _G.__hook_calls = calls
    wf.load_hooks(tmpfile("return {after_apply = function(ctx, s) table.insert(__hook_calls, s) end}"))
    wf.run_hooks({}, "after_apply", "summary")
    assert.are.same({"summary"}, calls)
    local e = caught(wf.load_hooks, tmpfile("return 42"))
    assert.are.equal(2, e.exit_code)
    assert.truthy(e.message:find("must return a table of hook functions", 1, true))
    e = caught(wf.load_hooks, tmpfile("return {"))
    assert.are.equal(2, e.exit_code)
    _G.__hook_calls = nil
  end)

  it("turns a failing hook into a workflow failure naming the hook, its file and line", function()
    local path = tmpfile("return {\n  on_ready = function()\n    error('smoke test failed', 0)\n  end,\n}\n")
    wf.load_hooks(path)
    local e = caught(wf.run_hooks, {}, "on_ready", {})
    assert.are.equal(1, e.exit_code)
    assert.are.equal("HookFailed", e.reason)
    assert.truthy(e.message:find("hook on_ready (" .. path:match("[^/]+$"), 1, true) or
                  e.message:find("hook on_ready (", 1, true))
    assert.truthy(e.message:find(":2) failed: smoke test failed", 1, true))
  end)
end)

describe("workflow context", function()
  it("parses the global flags", function()
    local ctx = wf.context({"-o", "json", "--timeout", "90s", "--dry-run", "-n", "robots", "extra"},
                           {command = "x"})
    assert.is_true(ctx.json)
    assert.are.equal(90, ctx.timeout)
    assert.is_true(ctx.opts.dry_run)
    assert.are.equal("robots", ctx.opts.namespace)
    assert.are.same({"extra"}, ctx.args)
    assert.is_true(ctx.out.quiet)
  end)

  it("rejects a bad output format and a bad duration (exit 2)", function()
    assert.are.equal(2, caught(wf.context, {"-o", "yaml"}, {}).exit_code)
    assert.are.equal(2, caught(wf.context, {"--timeout", "later"}, {}).exit_code)
  end)

  it("shares one --timeout across the waits of a run", function()
    local ctx = new_ctx({"--timeout", "10s"})
    ctx.started = ctx.started - 4
    assert.truthy(math.abs(wf.remaining(ctx) - 6) < 0.5)
    ctx.started = ctx.started - 20
    assert.are.equal(0, wf.remaining(ctx))
  end)
end)

describe("workflow apply", function()
  before_each(function() wf.reset_hooks() end)

  local function entries_ctx(client, argv)
    local ctx = new_ctx(argv, client)
    ctx.entries = {
      {phase = "namespace", object = obj("Namespace", "robots")},
      {phase = "storage", object = obj("PersistentVolumeClaim", "data-pvc", "robots")},
      {phase = "master", object = obj("Deployment", "ros-master", "robots"), wait = true},
      {phase = "master", object = obj("Service", "ros-master", "robots")},
      {phase = "application", object = obj("Deployment", "app", "robots"), wait = true},
      {phase = "observability", object = obj("ServiceMonitor", "app", "robots", "monitoring.coreos.com/v1")},
    }
    ctx.objects = {}
    for i, e in ipairs(ctx.entries) do ctx.objects[i] = e.object end
    return ctx
  end

  it("applies phase by phase in dependency order, and tells created, configured and unchanged apart", function()
    local live = {["Namespace/robots"] = {metadata = {resourceVersion = "5"}},
                  ["Deployment/ros-master"] = {metadata = {resourceVersion = "7"}},
                  ["Deployment/app"] = {metadata = {resourceVersion = "9"}}}
    local client = stub_client(live, {change = {["Deployment/app"] = true}})
    local ctx = entries_ctx(client)
    ctx.cfg = {namespace = "robots"}
    wf.add(ctx, {apiVersion = "v1", kind = "ConfigMap", metadata = {name = "site"}, data = {a = "b"}}, "config")
    assert.are.equal("robots", wf.find(ctx, "ConfigMap", "site").metadata.namespace)
    -- Given out of order, applied in order.
    local shuffled = {ctx.objects[5], ctx.objects[6], ctx.objects[3], ctx.objects[7], ctx.objects[1],
                      ctx.objects[4], ctx.objects[2]}
    local s = wf.apply(ctx, shuffled)
    assert.are.same({{"Namespace/robots"}, {"ConfigMap/site"}, {"PersistentVolumeClaim/data-pvc"},
                     {"Deployment/ros-master", "Service/ros-master"}, {"Deployment/app"},
                     {"ServiceMonitor/app"}}, client.calls)
    table.sort(s.created)
    assert.are.same({"ConfigMap/site", "PersistentVolumeClaim/data-pvc", "Service/ros-master", "ServiceMonitor/app"},
                    s.created)
    assert.are.same({"Deployment/app"}, s.configured)
    table.sort(s.unchanged)
    assert.are.same({"Deployment/ros-master", "Namespace/robots"}, s.unchanged)
    assert.is_nil(wf.no_change_note(ctx))
  end)

  it("says so when nothing changed", function()
    local live = {}
    for _, k in ipairs{"Namespace/robots", "PersistentVolumeClaim/data-pvc", "Deployment/ros-master",
                       "Service/ros-master", "Deployment/app", "ServiceMonitor/app"} do
      live[k] = {metadata = {resourceVersion = "3"}}
    end
    local ctx = entries_ctx(stub_client(live))
    wf.apply(ctx, ctx.objects)
    local note = wf.no_change_note(ctx)
    assert.is_true(note.no_changes)
    assert.truthy(note.note:find("no changes", 1, true))
    -- After a failed wait it must not read like success: the failure predates this run.
    note = wf.no_change_note(ctx, {state = "failed"})
    assert.is_true(note.no_changes)
    assert.falsy(note.note:find("no changes", 1, true))
    assert.truthy(note.note:find("was not Ready before this run", 1, true), note.note)
  end)

  it("skips observability objects whose CRD is missing, and fails other objects of missing kinds", function()
    local client = stub_client({}, {no_kind = {ServiceMonitor = true}})
    local ctx = entries_ctx(client)
    local s = wf.apply(ctx, ctx.objects)
    assert.are.equal(1, #s.skipped)
    assert.are.equal("ServiceMonitor/app", s.skipped[1].ref)
    assert.truthy(s.skipped[1].reason:find("the cluster has no monitoring.coreos.com/v1 ServiceMonitor", 1, true))
    for _, batch in ipairs(client.calls) do
      for _, name in ipairs(batch) do assert.are_not.equal("ServiceMonitor/app", name) end
    end
  end)

  it("stops after the phase where an object is rejected, naming what was and was not applied", function()
    local after_apply = false
    wf.on("after_apply", function() after_apply = true end)
    local client = stub_client({}, {reject = {["Deployment/ros-master"] = true}})
    local ctx = entries_ctx(client)
    local e = caught(wf.apply, ctx, ctx.objects)
    assert.are.equal(1, e.exit_code)
    assert.are.equal("ApplyFailed", e.reason)
    assert.truthy(e.message:find("Deployment/ros-master: Invalid", 1, true))
    assert.truthy(e.message:find("applied: Namespace/robots, PersistentVolumeClaim/data-pvc, Service/ros-master", 1, true), e.message)
    assert.truthy(e.message:find("not applied: Deployment/ros-master (rejected), Deployment/app (a later phase), " ..
                                 "ServiceMonitor/app (a later phase)", 1, true), e.message)
    assert.are.equal(3, #client.calls)  -- namespace, storage, master; not the application
    assert.is_false(after_apply)
  end)

  it("tells on_failure hooks about a failed apply when run through wf.main", function()
    local failures = {}
    wf.on("on_failure", function(_, r) failures[#failures + 1] = r end)
    local e = caught(wf.main, function(ctx)
      local stubbed = entries_ctx(stub_client({}, {reject = {["Deployment/app"] = true}}))
      ctx.client, ctx.entries, ctx.objects, ctx.out = stubbed.client, stubbed.entries, stubbed.objects, stubbed.out
      wf.apply(ctx, ctx.objects)
    end, {}, {command = "custom"})
    assert.are.equal(1, e.exit_code)
    assert.are.equal(1, #failures)
    assert.are.equal("failed", failures[1].state)
    assert.truthy(failures[1].diagnosis:find("Deployment/app: Invalid", 1, true))
  end)

  it("stops with exit 3 when the cluster cannot be reached", function()
    local ctx = entries_ctx(stub_client({}, {unreachable = true}))
    local e = caught(wf.apply, ctx, ctx.objects)
    assert.are.equal(3, e.exit_code)
    assert.truthy(e.message:find('context "c"', 1, true))
  end)

  it("in a dry run, counts objects of a namespace it would create as created", function()
    local client = stub_client({}, {missing_ns = "robots"})
    local ctx = entries_ctx(client, {"--dry-run"})
    local s = wf.apply(ctx, ctx.objects)
    assert.are.equal(6, #s.created)
    assert.are.equal(0, #s.failed)
    local r = wf.wait(ctx, ctx.objects)
    assert.are.equal("ready", r.state)
    assert.is_true(r.dry_run)
  end)

  it("waits for the master first, then storage, then the application", function()
    local ctx = entries_ctx(stub_client({}))
    local names = {}
    for _, o in ipairs(wf.wait_targets(ctx)) do names[#names + 1] = o.kind .. "/" .. o.metadata.name end
    assert.are.same({"Deployment/ros-master", "PersistentVolumeClaim/data-pvc", "Deployment/app"}, names)
  end)
end)

describe("workflow finish", function()
  local real_stdout

  local function capture(fn)
    local buf = {}
    real_stdout = io.stdout
    io.stdout = {write = function(self, ...) for _, s in ipairs{...} do buf[#buf + 1] = s end return self end}
    local ok, ret = pcall(fn)
    io.stdout = real_stdout
    assert(ok, ret)
    return ret, table.concat(buf)
  end

  it("maps states to exit codes and writes one JSON document", function()
    for state, code in pairs{ready = 0, failed = 1, timeout = 4, interrupted = 130} do
      local ctx = new_ctx({"-o", "json"})
      ctx.applied = {created = {"Deployment/app"}, configured = {}, unchanged = {}, skipped = {}}
      local ret, out = capture(function()
        return wf.finish(ctx, {state = state, rows = {{name = "Deployment/app", object = "app", kind = "Deployment",
                                                      namespace = "ns", state = "ready", message = "m",
                                                      reasons = {"RolledOut"}, revision = 2}}},
                         {note = "n"})
      end)
      assert.are.equal(code, ret)
      local doc = json.decode(out)
      assert.are.equal(state, doc.state)
      assert.are.equal(code, doc.exit_code)
      assert.are.equal("app", doc.objects[1].name)
      assert.are.equal(2, doc.objects[1].revision)
      assert.are.same({"Deployment/app"}, doc.applied.created)
      assert.are.equal("n", doc.note)
      assert.are.equal(1, select(2, out:gsub("\n", "")))
    end
  end)
end)
