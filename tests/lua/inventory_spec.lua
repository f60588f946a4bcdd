-- rigelk8s.inventory: the ApplySet id (sha256 + unpadded base64url, kubectl's formula)
-- and the parsing of inventory ConfigMaps, good and hand-edited.
local inventory = require "rigelk8s.inventory"
local json = require "rigelk8s.json"

local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end

describe("inventory.sha256", function()
  it("matches the FIPS 180-2 vectors, across the padding boundaries", function()
    assert.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", hex(inventory.sha256("")))
    assert.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hex(inventory.sha256("abc")))
    assert.equal("9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318",
                 hex(inventory.sha256(string.rep("a", 55))))
    assert.equal("b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a",
                 hex(inventory.sha256(string.rep("a", 56))))
    assert.equal("ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb",
                 hex(inventory.sha256(string.rep("a", 64))))
  end)
end)

describe("inventory.base64url", function()
  it("is unpadded and URL-safe", function()
    assert.equal("", inventory.base64url(""))
    assert.equal("Zg", inventory.base64url("f"))
    assert.equal("Zm8", inventory.base64url("fo"))
    assert.equal("Zm9v", inventory.base64url("foo"))
    assert.equal("-_8", inventory.base64url("\251\255"))
  end)
end)

describe("inventory.applyset_id", function()
  it("is the id kubectl 1.32 gave configmap/myset in namespace default", function()
    assert.equal("applyset-UubrxF7U9-XcQv6_kntuDgRH6kK6gnGALtlrTtNjhMY-v1",
                 inventory.applyset_id("myset", "default", "ConfigMap", ""))
  end)
  it("names the parent rigelk8s.<app> in the app's namespace", function()
    local id = inventory.identity("robot", "lab")
    assert.equal("rigelk8s.robot", id.parent)
    assert.equal(inventory.applyset_id("rigelk8s.robot", "lab", "ConfigMap", ""), id.id)
  end)
end)

describe("inventory.parse", function()
  local ident = inventory.identity("robot", "lab")
  local function cm(objects, over)
    local o = {apiVersion = "v1", kind = "ConfigMap",
               metadata = {name = ident.parent, namespace = "lab", labels = {[inventory.ID] = ident.id},
                           annotations = {[inventory.TOOLING] = "rigelk8s/0.1.0", [inventory.JOB] = "deploy"}},
               data = {objects = objects}}
    for k, v in pairs(over or {}) do o.metadata[k] = v end
    return o
  end
  local function fails(o, needle)
    local ok, err = pcall(inventory.parse, ident, o)
    assert.is_false(ok)
    assert.equal(2, err.exit_code)
    assert.truthy(err.message:find(needle, 1, true), err.message)
    assert.truthy(err.message:find("inventory ConfigMap lab/rigelk8s.robot", 1, true), err.message)
  end

  it("reads the members, cluster-scoped ones without a namespace", function()
    local inv = inventory.parse(ident, cm(json.encode(require("rigelk8s").array{
      {apiVersion = "apps/v1", kind = "Deployment", name = "driver", namespace = "lab", phase = "application"},
      {apiVersion = "v1", kind = "PersistentVolume", name = "lab-data-pv", phase = "storage"}})))
    assert.equal(2, #inv.members)
    assert.equal("driver", inv.members[1].name)
    assert.is_nil(inv.members[2].namespace)
    assert.equal("deploy", inv.job)
  end)

  it("refuses hand-edited garbage, naming the fix", function()
    fails(cm("not json{"), "data.objects is not valid JSON")
    fails(cm('{"a": 1}'), "data.objects is not a JSON list")
    fails(cm('[{"kind": "Deployment"}]'), "data.objects[0] is not {apiVersion, kind, name, namespace}")
    fails(cm('[{"apiVersion": "v1", "kind": "Secret", "name": "x", "namespace": "kube-system"}]'),
          "is in namespace kube-system, not lab")
    fails(cm(nil), "data.objects is missing")
    fails(cm("[]", {labels = {[inventory.ID] = "applyset-forged-v1"}}), "label applyset.kubernetes.io/id is")
  end)

  it("refuses a ConfigMap another tool manages", function()
    fails(cm("[]", {annotations = {[inventory.TOOLING] = "kubectl/v1.32.0"}}), "is not a rigelk8s inventory")
  end)
end)
