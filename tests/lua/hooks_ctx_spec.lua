-- Hooks live on the run's context: two contexts never share them, on_ready/on_failure
-- run once per run, and wf.report builds a report without printing or running hooks.
local wf = require "rigelk8s.workflow"

local function caught(fn, ...)
  local ok, e = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return e
end

local function quiet_ctx()
  return wf.context({"-o", "json"}, {command = "hooks-test"})
end

describe("hooks on the context", function()
  before_each(function() wf.reset_hooks() end)

  it("keeps each context's hooks to itself", function()
    local a, b = quiet_ctx(), quiet_ctx()
    local seen = {}
    wf.on(a, "after_apply", function() seen[#seen + 1] = "a" end)
    wf.on(b, "after_apply", function() seen[#seen + 1] = "b" end)
    wf.run_hooks(a, "after_apply", {})
    assert.are.same({"a"}, seen)
    wf.run_hooks(b, "after_apply", {})
    assert.are.same({"a", "b"}, seen)
  end)

  it("gives script-level hooks (wf.on(name, fn)) to contexts made afterwards only", function()
    local before = quiet_ctx()
    local n = 0
    wf.on("before_apply", function() n = n + 1 end)
    local after = quiet_ctx()
    wf.run_hooks(before, "before_apply", {})
    assert.are.equal(0, n)
    wf.run_hooks(after, "before_apply", {})
    assert.are.equal(1, n)
  end)

  it("runs on_ready / on_failure once per run, whoever calls first", function()
    local ctx = quiet_ctx()
    local calls = {}
    wf.on(ctx, "on_ready", function(_, r) calls[#calls + 1] = "ready " .. r.state end)
    wf.on(ctx, "on_failure", function(_, r) calls[#calls + 1] = "failure " .. r.state end)
    wf.result_hooks(ctx, {state = "failed", rows = {}})
    wf.result_hooks(ctx, {state = "ready", rows = {}})
    assert.are.same({"failure failed"}, calls)
  end)

  it("refuses a misspelled hook on a context with a suggestion", function()
    local e = caught(wf.on, quiet_ctx(), "after_wiat", function() end)
    assert.are.equal(2, e.exit_code)
    assert.truthy(e.message:find("did you mean 'after_wait'", 1, true))
  end)

  it("builds a report without printing it or running hooks", function()
    local ctx = quiet_ctx()
    local ran = false
    wf.on(ctx, "on_failure", function() ran = true end)
    local r = wf.report(ctx, {state = "timeout", rows = {{name = "a/Deployment/x", object = "x", kind = "Deployment",
                                                         namespace = "a", state = "progressing", message = "slow"}},
                              diagnosis = "  a/Deployment/x: slow"}, {note = "n"})
    assert.is_false(ran)
    assert.are.equal(4, r.code)
    assert.are.equal("timeout", r.doc.state)
    assert.are.equal("a", r.doc.objects[1].namespace)
    assert.truthy(r.text:find("timed out", 1, true))
    assert.are.equal("n", r.note)
  end)
end)
