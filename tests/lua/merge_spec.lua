-- merge.deep: the additional_k8s_params overlay rules.
local merge = require "rigelk8s.merge"
local core = require "rigelk8s"

describe("merge.deep", function()
  it("merges maps recursively and replaces scalars", function()
    local out = merge.deep({a = {b = 1, c = 2}, d = "x"}, {a = {c = 3, e = 4}, d = "y"})
    assert.same({a = {b = 1, c = 3, e = 4}, d = "y"}, out)
  end)

  it("does not modify its arguments", function()
    local base = {spec = {containers = {{name = "ros-app", image = "a"}}}}
    local over = {spec = {containers = {{name = "ros-app", image = "b"}}}}
    merge.deep(base, over)
    assert.equal("a", base.spec.containers[1].image)
    assert.equal("b", over.spec.containers[1].image)
  end)

  it("merges containers by name and appends new ones in overlay order", function()
    local base = {containers = {{name = "ros-app", image = "app"}, {name = "side", image = "s"}}}
    local out = merge.deep(base, {containers = {
      {name = "extra", image = "e"},
      {name = "ros-app", resources = {limits = {cpu = "1"}}},
    }})
    assert.same({
      {name = "ros-app", image = "app", resources = {limits = {cpu = "1"}}},
      {name = "side", image = "s"},
      {name = "extra", image = "e"},
    }, out.containers)
  end)

  it("appends env entries and overrides an existing one by name", function()
    local base = {env = {{name = "ROS_MASTER_URI", value = "http://m:11311"}, {name = "A", value = "1"}}}
    local out = merge.deep(base, {env = {{name = "A", value = "2"}, {name = "B", value = "3"}}})
    assert.same({{name = "ROS_MASTER_URI", value = "http://m:11311"}, {name = "A", value = "2"},
                 {name = "B", value = "3"}}, out.env)
  end)

  it("replaces lists whose items are not named", function()
    local out = merge.deep({args = {"a", "b"}, tolerations = {{key = "x"}}},
                           {args = {"c"}, tolerations = {{key = "y"}}})
    assert.same({"c"}, out.args)
    assert.same({{key = "y"}}, out.tolerations)
  end)

  it("merges any list whose items all have a name", function()
    local out = merge.deep({things = {{name = "a", v = 1}}}, {things = {{name = "a", w = 2}}})
    assert.same({{name = "a", v = 1, w = 2}}, out.things)
  end)

  it("matches an unnamed port to a named one by containerPort", function()
    local out = merge.deep({ports = {{name = "metrics", containerPort = 9102, protocol = "TCP"}}},
                           {ports = {{containerPort = 9102, hostPort = 9102}}})
    assert.same({{name = "metrics", containerPort = 9102, protocol = "TCP", hostPort = 9102}}, out.ports)
  end)

  it("removes a key set to null", function()
    local out = merge.deep({spec = {strategy = {type = "Recreate"}, replicas = 1}},
                           {spec = {strategy = core.null}})
    assert.same({spec = {replicas = 1}}, out)
  end)

  it("lets a map replace a scalar and the other way round", function()
    assert.same({a = {b = 1}}, merge.deep({a = "x"}, {a = {b = 1}}))
    assert.same({a = "x"}, merge.deep({a = {b = 1}}, {a = "x"}))
  end)

  it("returns a copy of the base for a nil overlay", function()
    local base = {a = {b = 1}}
    local out = merge.deep(base, nil)
    assert.same(base, out)
    assert.are_not.equal(base.a, out.a)
  end)

  it("keeps the empty-list marker of copied lists", function()
    local out = merge.deep({}, {args = core.array{}})
    assert.is_true(core.is_array(out.args))
  end)
end)
