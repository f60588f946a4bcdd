-- rigelk8s.explain on the bodies a real kube-apiserver 1.19 answered
-- (../shared/apiserver-transcripts/03, 10 and 11, copied here as the C layer hands them
-- to Lua: code, reason, message with the request in front, causes, conflicts).
local explain = require "rigelk8s.explain"
local errors = require "rigelk8s.errors"

local PREFIX = "jobs.deploy_k8s.with.orchestration"

local function ctx(volumes)
  return {cfg = {source = {path = PREFIX}, persistent_storage = {volumes = volumes or {}}}}
end

local function kube_error(what, body)
  local causes = {}
  for i, c in ipairs(body.details and body.details.causes or {}) do
    causes[i] = {field = c.field or "", reason = c.reason or "", message = c.message or ""}
  end
  return errors.new{code = body.code, reason = body.reason, message = what .. ": " .. body.message, causes = causes}
end

-- A client that answers get with the objects given, by kind/name.
local function client(objects)
  return {try_get = function(_, ref)
    local name = ref.name or (ref.metadata and ref.metadata.name)
    local o = objects[ref.kind .. "/" .. tostring(name)]
    if o then return o end
    return nil, errors.new{code = 404, reason = "NotFound", message = "not found"}
  end}
end

local function claim(class, size)
  return {apiVersion = "v1", kind = "PersistentVolumeClaim",
          metadata = {name = "data-pvc", namespace = "NS"},
          spec = {storageClassName = class, resources = {requests = {storage = size}}}}
end

local function live_claim(class, size)
  local c = claim(class, size)
  c.spec.volumeName = "pv-1"
  c.spec.accessModes = {"ReadWriteOnce"}
  return c
end

local function pv(policy)
  return {apiVersion = "v1", kind = "PersistentVolume", metadata = {name = "pv-1"},
          spec = {persistentVolumeReclaimPolicy = policy}}
end

-- 11-deletion.json: create into a terminating namespace.
local TERMINATING = {kind = "Status", apiVersion = "v1", status = "Failure",
  message = "configmaps \"new\" is forbidden: unable to create new content in namespace NS2 because it is being terminated",
  reason = "Forbidden", code = 403,
  details = {name = "new", kind = "configmaps", causes = {{reason = "NamespaceTerminating",
    message = "namespace NS2 is being terminated", field = "metadata.namespace"}}}}

-- 10-immutable-fields.json.
local GROW = {kind = "Status", apiVersion = "v1", status = "Failure", reason = "Forbidden", code = 403,
  message = "persistentvolumeclaims \"data\" is forbidden: only dynamically provisioned pvc can be resized and " ..
            "the storageclass that provisions the pvc must support resize",
  details = {name = "data", kind = "persistentvolumeclaims"}}
local CLASS_MSG = "Forbidden: spec is immutable after creation except resources.requests for bound claims\n" ..
  "  core.PersistentVolumeClaimSpec{\n  \t... // 2 identical fields\n"
local CLASS = {kind = "Status", apiVersion = "v1", status = "Failure", reason = "Invalid", code = 422,
  message = "PersistentVolumeClaim \"data\" is invalid: spec: " .. CLASS_MSG,
  details = {name = "data", kind = "PersistentVolumeClaim",
             causes = {{reason = "FieldValueForbidden", message = CLASS_MSG, field = "spec"}}}}
local SELECTOR_MSG = "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"b\"}, " ..
  "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
local SELECTOR = {kind = "Status", apiVersion = "v1", status = "Failure", reason = "Invalid", code = 422,
  message = "Deployment.apps \"app\" is invalid: spec.selector: " .. SELECTOR_MSG,
  details = {name = "app", group = "apps", kind = "Deployment",
             causes = {{reason = "FieldValueInvalid", message = SELECTOR_MSG, field = "spec.selector"}}}}

describe("explain", function()
  it("turns the real terminating-namespace 403 into wait-or-use-another-namespace", function()
    local err = kube_error("apply ConfigMap NS2/new", TERMINATING)
    assert.are.equal("NS2", explain.terminating_namespace(err))
    local text = explain.apply_error(ctx(), client{}, {kind = "ConfigMap", metadata = {name = "new"}}, err)
    assert.truthy(text:find("namespace NS2 is being deleted (Terminating)", 1, true), text)
    assert.truthy(text:find("wait until `kubectl get namespace NS2` answers NotFound", 1, true), text)
    assert.truthy(text:find(PREFIX .. ".namespace", 1, true), text)
  end)

  it("leaves a permission 403 alone", function()
    local err = errors.new{code = 403, reason = "Forbidden", causes = {},
                           message = 'configmaps is forbidden: User "x" cannot create resource "configmaps"'}
    assert.is_nil(explain.terminating_namespace(err))
    assert.are.equal(tostring(err), explain.apply_error(ctx(), client{}, {kind = "ConfigMap", metadata = {name = "c"}}, err))
  end)

  it("names the volume's size when a bound claim cannot grow, and says the data is lost with reclaimPolicy Delete", function()
    local c = client{["PersistentVolumeClaim/data-pvc"] = live_claim("standard", "1Gi"),
                     ["PersistentVolume/pv-1"] = pv("Delete")}
    local text = explain.apply_error(ctx{{name = "logs"}, {name = "data"}}, c, claim("standard", "2Gi"),
                                     kube_error("apply PersistentVolumeClaim NS/data-pvc", GROW))
    assert.truthy(text:find(PREFIX .. ".persistent_storage.volumes[1].size: this claim cannot grow", 1, true), text)
    assert.truthy(text:find("the claim has 1Gi, the Rigelfile asks for 2Gi", 1, true), text)
    assert.truthy(text:find("fix: keep size at 1Gi, or delete and recreate the claim", 1, true), text)
    assert.truthy(text:find("the data on the claim is LOST", 1, true), text)
  end)

  it("names the volume's storage_class when the class changes, and says where a Retain volume keeps the data", function()
    local c = client{["PersistentVolumeClaim/data-pvc"] = live_claim("fast", "1Gi"),
                     ["PersistentVolume/pv-1"] = pv("Retain")}
    local text = explain.apply_error(ctx{{name = "data"}}, c, claim("standard", "1Gi"),
                                     kube_error("apply PersistentVolumeClaim NS/data-pvc", CLASS))
    assert.truthy(text:find(PREFIX .. ".persistent_storage.volumes[0].storage_class: the storage class of an " ..
                            "existing claim cannot change (the claim has fast, the Rigelfile asks for standard)", 1, true), text)
    assert.truthy(text:find("kept on PersistentVolume pv-1 (reclaimPolicy Retain)", 1, true), text)
  end)

  it("says the fate of the data is unknown when the volume cannot be read", function()
    local c = client{["PersistentVolumeClaim/data-pvc"] = live_claim("fast", "1Gi")}
    local text = explain.apply_error(ctx{{name = "data"}}, c, claim("standard", "1Gi"),
                                     kube_error("apply PersistentVolumeClaim NS/data-pvc", CLASS))
    assert.truthy(text:find("depends on its PersistentVolume's reclaimPolicy", 1, true), text)
  end)

  it("explains an immutable Deployment selector with the fix", function()
    local d = {kind = "Deployment", metadata = {name = "rigel-k8s-application", namespace = "NS"}}
    local text = explain.apply_error(ctx(), client{}, d, kube_error("apply Deployment NS/app", SELECTOR))
    assert.truthy(text:find("spec.selector of a Deployment cannot change", 1, true), text)
    assert.truthy(text:find(PREFIX .. ".additional_k8s_params.application", 1, true), text)
    assert.truthy(text:find("kubectl delete deployment rigel-k8s-application -n NS", 1, true), text)
  end)

  it("names the other manager, its fields and --force-conflicts for an apply conflict (transcript 03)", function()
    local err = errors.new{code = 409, reason = "Conflict", message = 'Apply failed with 1 conflict: conflict with "a": .data.key',
                           causes = {{reason = "FieldManagerConflict", message = 'conflict with "a"', field = ".data.key"}},
                           conflicts = {{manager = "a", field = ".data.key"}}}
    local text = explain.apply_error(ctx(), client{}, {kind = "ConfigMap", metadata = {name = "c"}}, err)
    assert.are.equal('conflicts with changes another tool made (field manager "a" owns .data.key); fix: rerun ' ..
                     "with --force-conflicts to take these fields over (they get the Rigelfile's values), or " ..
                     "change the Rigelfile to keep that tool's values", text)
  end)

  it("tells a conflict with our own name's Update entry (an older rollback) apart", function()
    local err = errors.new{code = 409, reason = "Conflict", message = "Apply failed with 1 conflict",
                           causes = {}, conflicts = {{manager = "rigelk8s", field = ".spec.replicas"}}}
    local text = explain.apply_error(ctx(), client{}, {kind = "Deployment", metadata = {name = "d"}}, err)
    assert.truthy(text:find('field manager "rigelk8s" owns .spec.replicas through an Update', 1, true), text)
    assert.truthy(text:find("--force-conflicts once clears it", 1, true), text)
  end)
end)
