-- What an application deployed: one inventory per application, an ApplySet (KEP-3659)
-- parent ConfigMap `rigelk8s.<deployment_name>` in the application's namespace.
--
--   parent labels:      applyset.kubernetes.io/id = applyset-<base64url(sha256(
--                         "<name>.<namespace>.ConfigMap."))>-v1   (kubectl's formula)
--                       rigelk8s.io/application = <deployment_name>
--   parent annotations: applyset.kubernetes.io/tooling = rigelk8s/<version>
--                       applyset.kubernetes.io/contains-group-kinds = Deployment.apps,Service,...
--                       rigelk8s.io/job, rigelk8s.io/rigelfile, rigelk8s.io/version,
--                       rigelk8s.io/deployed-at
--   parent data:        objects = JSON list of {apiVersion, kind, namespace, name, phase}
--   every member:       label applyset.kubernetes.io/part-of = <id>  (not the Namespace,
--                       which applications in one namespace share)
--
-- The ApplySet labels let kubectl and other tools find the members with one label query
-- per kind. The explicit member list (data.objects) is ours: it names cluster-scoped
-- members (hostPath PVs, the Namespace) and members whose label was removed, keeps the
-- apiVersion needed to reach them, and lets status/delete --app work from the inventory
-- alone without listing every kind of the cluster.
--
-- Workflow use (workflow.lua calls these; scripts need not): begin(ctx) before the first
-- apply, record(ctx) after each apply (old members + applied ones: a crash never forgets
-- an object), settle(ctx, result, extra) once the objects are Ready (prunes, then writes
-- the final list). with_app(ctx) loads an application from its inventory alone.
local errors = require "rigelk8s.errors"
local sys = require "rigelk8s.sys"

local M = {}

M.ID = "applyset.kubernetes.io/id"
M.PART_OF = "applyset.kubernetes.io/part-of"
M.TOOLING = "applyset.kubernetes.io/tooling"
M.GROUP_KINDS = "applyset.kubernetes.io/contains-group-kinds"
M.APP = "rigelk8s.io/application"
M.JOB = "rigelk8s.io/job"
M.SOURCE = "rigelk8s.io/rigelfile"
M.VERSION = "rigelk8s.io/version"
M.DEPLOYED = "rigelk8s.io/deployed-at"
M.PREFIX = "rigelk8s."

-- ---- sha256 and base64url (the ApplySet id) ------------------------------------------

local K = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

local function rotr(x, n) return ((x >> n) | (x << (32 - n))) & 0xffffffff end

function M.sha256(msg)
  local h = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}
  local len = #msg
  msg = msg .. "\128" .. string.rep("\0", (55 - len) % 64) .. string.pack(">I8", len * 8)
  for chunk = 1, #msg, 64 do
    local w = {}
    for i = 0, 15 do w[i] = string.unpack(">I4", msg, chunk + i * 4) end
    for i = 16, 63 do
      local s0 = rotr(w[i - 15], 7) ~ rotr(w[i - 15], 18) ~ (w[i - 15] >> 3)
      local s1 = rotr(w[i - 2], 17) ~ rotr(w[i - 2], 19) ~ (w[i - 2] >> 10)
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) & 0xffffffff
    end
    local a, b, c, d, e, f, g, hh = table.unpack(h)
    for i = 0, 63 do
      local S1 = rotr(e, 6) ~ rotr(e, 11) ~ rotr(e, 25)
      local ch = (e & f) ~ (~e & g)
      local t1 = (hh + S1 + ch + K[i + 1] + w[i]) & 0xffffffff
      local S0 = rotr(a, 2) ~ rotr(a, 13) ~ rotr(a, 22)
      local maj = (a & b) ~ (a & c) ~ (b & c)
      local t2 = (S0 + maj) & 0xffffffff
      hh, g, f, e, d, c, b, a = g, f, e, (d + t1) & 0xffffffff, c, b, a, (t1 + t2) & 0xffffffff
    end
    local v = {a, b, c, d, e, f, g, hh}
    for i = 1, 8 do h[i] = (h[i] + v[i]) & 0xffffffff end
  end
  return string.pack(">I4I4I4I4I4I4I4I4", table.unpack(h))
end

-- Unpadded base64url (Go's base64.RawURLEncoding, as kubectl uses): the one base64
-- codec of core/ with the URL-safe alphabet and no padding.
function M.base64url(s)
  return (require("rigelk8s").base64_encode(s):gsub("[+/=]", {["+"] = "-", ["/"] = "_", ["="] = ""}))
end

-- The ApplySet id of a parent (KEP-3659: <name>.<namespace>.<kind>.<group>).
function M.applyset_id(name, namespace, kind, group)
  return "applyset-" .. M.base64url(M.sha256(string.format("%s.%s.%s.%s", name, namespace or "",
                                                           kind, group or ""))) .. "-v1"
end

-- ---- members ------------------------------------------------------------------------

local function group_of(api_version)
  return (api_version or ""):match("^(.*)/[^/]*$") or ""
end
M.group_of = group_of

local function key(api_version, kind, namespace, name)
  return table.concat({group_of(api_version), kind, namespace or "", name}, "/")
end
local function member_key(m) return key(m.apiVersion, m.kind, m.namespace, m.name) end
local function object_key(o) return key(o.apiVersion, o.kind, o.metadata.namespace, o.metadata.name) end

local function ref_text(m) return m.kind .. "/" .. m.name end
M.ref_text = ref_text

local STORAGE = {PersistentVolumeClaim = true, PersistentVolume = true}

-- script: the command whose own objects (wf.add) these are; nil for what the Rigelfile renders.
-- adhoc: applied by a script outside the rendered set (wf.apply of an object it built, a
-- wf.render variant): recorded, so list, status --app and delete --app know it, but never
-- pruned, since no render says whether the script still wants it (blue/green keeps the
-- idle colour for the next switch).
local function member_of(o, phase, script, adhoc)
  return {apiVersion = o.apiVersion, kind = o.kind, namespace = o.metadata.namespace,
          name = o.metadata.name, phase = phase or "other", script = script, adhoc = adhoc or nil}
end

-- The application's identity: app name, namespace, parent name, id.
function M.identity(app, namespace)
  local parent = M.PREFIX .. app
  return {app = app, namespace = namespace, parent = parent,
          id = M.applyset_id(parent, namespace, "ConfigMap", "")}
end

local function parent_ref(ident)
  return {apiVersion = "v1", kind = "ConfigMap", name = ident.parent, namespace = ident.namespace}
end

local function where(ident)
  return string.format("inventory ConfigMap %s/%s", ident.namespace, ident.parent)
end

local function garbage(ident, what)
  errors.raise{message = string.format(
    "%s: %s; it looks edited by hand. Nothing was changed or deleted. Restore it (kubectl edit " ..
    "configmap %s -n %s), or delete it (kubectl delete configmap %s -n %s) so that the next " ..
    "deploy writes a new one (objects that only the old one listed are then no longer pruned)",
    where(ident), what, ident.parent, ident.namespace, ident.parent, ident.namespace),
    exit_code = errors.EXIT.usage, reason = "BadInventory"}
end

-- Parses a live parent: {members, live, job, source, ...}; raises on garbage.
function M.parse(ident, live)
  local json = require "rigelk8s.json"
  local md = type(live.metadata) == "table" and live.metadata or {}
  local labels = type(md.labels) == "table" and md.labels or {}
  local ann = type(md.annotations) == "table" and md.annotations or {}
  local tooling = ann[M.TOOLING]
  if type(tooling) ~= "string" or not tooling:match("^rigelk8s/") then
    errors.raise{message = string.format(
      "%s exists but is not a rigelk8s inventory (its %s annotation is %s); rigelk8s leaves it " ..
      "alone. Rename the application (deployment_name) or remove that ConfigMap", where(ident),
      M.TOOLING, tooling and ("'" .. tostring(tooling) .. "'") or "missing"),
      exit_code = errors.EXIT.usage, reason = "BadInventory"}
  end
  if labels[M.ID] ~= ident.id then
    garbage(ident, string.format("label %s is '%s', expected '%s'", M.ID, tostring(labels[M.ID]), ident.id))
  end
  local data = type(live.data) == "table" and live.data or {}
  if type(data.objects) ~= "string" then garbage(ident, "data.objects is missing") end
  local ok, list = pcall(json.decode, data.objects)
  if not ok then garbage(ident, "data.objects is not valid JSON (" .. tostring(list):gsub("\n.*", "") .. ")") end
  if type(list) ~= "table" or not require("rigelk8s").is_array(list) then
    garbage(ident, "data.objects is not a JSON list")
  end
  local members = {}
  for i, m in ipairs(list) do
    if type(m) ~= "table" or type(m.kind) ~= "string" or type(m.name) ~= "string"
       or type(m.apiVersion) ~= "string" or (m.namespace ~= nil and type(m.namespace) ~= "string") then
      garbage(ident, string.format("data.objects[%d] is not {apiVersion, kind, name, namespace}", i - 1))
    end
    if m.namespace and m.namespace ~= ident.namespace then
      -- Never reach into another namespace from here: that is another app's business.
      garbage(ident, string.format("data.objects[%d] (%s) is in namespace %s, not %s", i - 1,
                                   ref_text(m), m.namespace, ident.namespace))
    end
    members[#members + 1] = {apiVersion = m.apiVersion, kind = m.kind, name = m.name,
                             namespace = m.namespace, phase = type(m.phase) == "string" and m.phase or "other",
                             script = type(m.script) == "string" and m.script or nil,
                             adhoc = m.adhoc == true or nil}
  end
  return {members = members, live = live, job = ann[M.JOB], source = ann[M.SOURCE],
          version = ann[M.VERSION], deployed = ann[M.DEPLOYED], tooling = tooling}
end

-- Reads the inventory of app in namespace: the parsed inventory, or nil when none.
function M.load(client, ident)
  local live, err = client:try_get(parent_ref(ident))
  if not live then
    if err and err.code == 404 and err.reason ~= "NoKindMatch" then return nil end
    error(err, 0)
  end
  return M.parse(ident, live)
end

local function absolute(path)
  if not path or path == "" or path == "-" then return nil end
  return sys.realpath(path) or path
end

local function source_of(cfg)
  local s = cfg.source or {}
  return absolute(s.file), s.job
end

-- The parent ConfigMap for the given members.
local function parent_object(ctx, ident, members)
  local json = require "rigelk8s.json"
  local rigelk8s = require "rigelk8s"
  table.sort(members, function(a, b) return member_key(a) < member_key(b) end)
  local gks, seen, list, images = {}, {}, rigelk8s.array{}, {}
  for _, m in ipairs(members) do
    local g = group_of(m.apiVersion)
    local gk = g == "" and m.kind or (m.kind .. "." .. g)
    if not seen[gk] then seen[gk] = true; gks[#gks + 1] = gk end
    list[#list + 1] = {apiVersion = m.apiVersion, kind = m.kind, namespace = m.namespace,
                       name = m.name, phase = m.phase, script = m.script, adhoc = m.adhoc}
  end
  table.sort(gks)
  for _, o in ipairs(ctx.objects or {}) do
    local spec = o.kind == "Deployment" and o.spec and o.spec.template and o.spec.template.spec
    for _, c in ipairs(spec and spec.containers or {}) do
      if not images[c.image] then images[c.image] = true; images[#images + 1] = c.image end
    end
  end
  local file, job = source_of(ctx.cfg or {})
  local owner = ctx.inventory and ctx.inventory.owner
  if owner then file, job = owner.file, owner.job end
  return {
    apiVersion = "v1", kind = "ConfigMap",
    metadata = {name = ident.parent, namespace = ident.namespace,
                labels = {[M.ID] = ident.id, [M.APP] = ident.app,
                          ["app.kubernetes.io/managed-by"] = "rigelk8s"},
                annotations = {[M.TOOLING] = "rigelk8s/" .. rigelk8s.version,
                               [M.GROUP_KINDS] = table.concat(gks, ","),
                               [M.JOB] = job or "", [M.SOURCE] = file or "",
                               [M.VERSION] = rigelk8s.version,
                               [M.DEPLOYED] = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(sys.wall()))}},
    data = {objects = json.encode(list), images = table.concat(images, ",")},
  }
end

local function write(ctx, inv, members)
  if ctx.opts.dry_run then return end
  local obj = parent_object(ctx, inv.ident, members)
  ctx.client:apply(obj, {force = true})
end

-- A warning: on stderr, or with -o json in the report's warnings[] (stderr stays quiet).
local function warn(ctx, msg)
  ctx.out:say("%s", msg)
  if ctx.cfg and ctx.cfg.warnings then ctx.cfg.warnings[#ctx.cfg.warnings + 1] = msg end
end

-- Every other rigelk8s inventory this Rigelfile job wrote (a renamed deployment_name or
-- namespace), from all namespaces when the credentials allow, else from this one.
local function renamed_apps(ctx, ident)
  local file, job = source_of(ctx.cfg)
  if not file then return {} end
  local client = ctx.client
  local sel = M.ID .. "," .. M.APP
  local items = client:try_list{apiVersion = "v1", kind = "ConfigMap", all_namespaces = true, label_selector = sel}
  if not items then
    items = client:try_list{apiVersion = "v1", kind = "ConfigMap", namespace = ident.namespace,
                            label_selector = sel} or {}
  end
  local out = {}
  for _, cm in ipairs(items) do
    local ann = cm.metadata.annotations or {}
    local app, ns = (cm.metadata.labels or {})[M.APP], cm.metadata.namespace
    if ann[M.SOURCE] == file and ann[M.JOB] == (job or "") and not (app == ident.app and ns == ident.namespace) then
      out[#out + 1] = {app = app, namespace = ns}
    end
  end
  table.sort(out, function(a, b) return a.namespace .. "/" .. a.app < b.namespace .. "/" .. b.app end)
  return out
end

-- Before the first apply: loads the application's inventory, refuses one that another
-- Rigelfile wrote, and warns about the old application after a rename.
function M.begin(ctx)
  if ctx.inventory ~= nil then return ctx.inventory end
  local cfg = ctx.cfg
  if not cfg or not cfg.deployment_name or not cfg.namespace then
    ctx.inventory = false
    return false
  end
  local ident = M.identity(cfg.deployment_name, cfg.namespace)
  local old = M.load(ctx.client, ident)
  local file, job = source_of(cfg)
  -- Another job of the same Rigelfile may well update the same application (a new
  -- image, say). Another Rigelfile may update it too, but it does not own it: it prunes
  -- nothing, and the inventory keeps naming the first, until --adopt.
  local foreign
  if old and file and old.source and old.source ~= "" and old.source ~= file and not ctx.opts.adopt then
    foreign = old.source
    warn(ctx, string.format(
      "warning: application '%s' in namespace %s was deployed from another Rigelfile (%s, job %s); " ..
      "this one (%s) updates it but prunes nothing, so objects that only the other one renders stay. " ..
      "Two Rigelfiles should not share one application name in one namespace: set a different " ..
      "deployment_name in %s, or pass --adopt to make this the application's Rigelfile (what it " ..
      "does not render is then pruned)", ident.app, ident.namespace, old.source, old.job or "?",
      file, file))
  end
  local inv = {ident = ident, old = old and old.members or {}, applied = {}, exists = old ~= nil,
               foreign = foreign, owner = foreign and {file = old.source, job = old.job} or nil}
  ctx.inventory = inv
  for _, r in ipairs(renamed_apps(ctx, ident)) do
    local msg = string.format("warning: application '%s' in namespace %s, deployed earlier from this " ..
      "Rigelfile (job %s), is still running; this deploy does not touch it. Remove it with: " ..
      "rigelk8s delete --app %s -n %s", r.app, r.namespace, job or "?", r.app, r.namespace)
    ctx.renamed = ctx.renamed or {}
    ctx.renamed[#ctx.renamed + 1] = {application = r.app, namespace = r.namespace,
                                     command = string.format("rigelk8s delete --app %s -n %s", r.app, r.namespace)}
    warn(ctx, msg)
  end
  return inv
end

-- Puts the part-of label on the objects about to be applied (not on a Namespace, which
-- the applications of one namespace share).
-- Needs no request: the id follows from the application's name and namespace.
function M.label(ctx, objects)
  local cfg = ctx.cfg
  if ctx.inventory == false or not cfg or not cfg.deployment_name or not cfg.namespace then return end
  local id = M.identity(cfg.deployment_name, cfg.namespace).id
  for _, o in ipairs(objects) do
    if o.kind ~= "Namespace" and type(o.metadata) == "table" then
      o.metadata.labels = o.metadata.labels or {}
      o.metadata.labels[M.PART_OF] = id
    end
  end
end

local function phase_map(ctx)
  local p, added = {}, {}
  for _, e in ipairs(ctx.entries or {}) do
    p[e.object] = e.phase
    if e.added then added[e.object] = true end
  end
  return p, added
end

-- After an apply: the inventory lists the old members and every object applied so far.
function M.record(ctx, objects, summary)
  local inv = ctx.inventory
  if not inv then return end
  local failed = {}
  for _, f in ipairs(summary and summary.failed or {}) do failed[f.ref] = true end
  for _, s in ipairs(summary and summary.skipped or {}) do failed[s.ref] = true end
  local phases, added = phase_map(ctx)
  -- The inventory lives in the application's namespace and lists only what is there (and
  -- cluster-scoped objects). A script that applies only into other namespaces (one app
  -- into several sites) gets no inventory: nothing of it could be listed or pruned here.
  local home = inv.exists
  for _, o in ipairs(objects) do
    local ns = o.metadata.namespace
    if ns == inv.ident.namespace or (o.kind == "Namespace" and o.metadata.name == inv.ident.namespace) then
      home = true
    end
  end
  if not home then inv.homeless = true; return end
  for _, o in ipairs(objects) do
    local ns = o.metadata.namespace
    if (ns == nil or ns == inv.ident.namespace) and not failed[o.kind .. "/" .. o.metadata.name] then
      inv.applied[object_key(o)] = member_of(o, phases[o], added[o] and (ctx.command or "run") or nil,
                                             phases[o] == nil)
    end
  end
  local members, seen = {}, {}
  for _, m in ipairs(inv.old) do
    local k = member_key(m)
    seen[k] = true
    members[#members + 1] = inv.applied[k] or m
  end
  for k, m in pairs(inv.applied) do
    if not seen[k] then members[#members + 1] = m end
  end
  write(ctx, inv, members)
  inv.written = not ctx.opts.dry_run
  inv.members = members
end

local RANK = {observability = 1, other = 2, application = 3, master = 4, config = 5, storage = 6, namespace = 7}
local SYSTEM_MANAGERS = {["kube-controller-manager"] = true, ["kube-scheduler"] = true, kubelet = true,
                         rigelk8s = true}

-- Field managers other than rigelk8s (and the cluster's own controllers) that changed
-- the object's spec or metadata.
local function other_managers(live)
  local out, seen = {}, {}
  for _, mf in ipairs(live.metadata and live.metadata.managedFields or {}) do
    local m = mf.manager
    if m and not SYSTEM_MANAGERS[m] and mf.subresource ~= "status" and not seen[m] then
      seen[m] = true
      out[#out + 1] = m
    end
  end
  table.sort(out)
  return out
end

-- Members of the inventory that the rendered objects no longer include.
function M.candidates(ctx, inv)
  if inv.foreign then return {} end
  local rendered = {}
  for _, o in ipairs(ctx.objects or {}) do rendered[object_key(o)] = true end
  local out = {}
  for _, m in ipairs(inv.members or inv.old) do
    -- A script's own objects (wf.add) are pruned by that script only: a stock `update`
    -- after `rigelk8s run my-rollout.lua` must not delete what my-rollout.lua added.
    -- Nothing applied in this run is pruned by it, and nothing a script applied outside
    -- the rendered set.
    if not rendered[member_key(m)] and m.kind ~= "Namespace" and not m.adhoc
       and not (inv.applied and inv.applied[member_key(m)])
       and (m.script == nil or m.script == (ctx.command or "run")) then
      out[#out + 1] = m
    end
  end
  table.sort(out, function(a, b)
    local ra, rb = RANK[a.phase] or 2, RANK[b.phase] or 2
    if ra ~= rb then return ra < rb end
    return member_key(a) < member_key(b)
  end)
  return out
end

-- Deletes (or, with --dry-run, names) what left the Rigelfile. Returns the report:
-- {pruned, would_prune, unused_claims, kept (problems), gone, dropped}.
function M.prune(ctx, inv)
  local rigelk8s = require "rigelk8s"
  local client = ctx.client
  local report = {pruned = rigelk8s.array{}, unused_claims = rigelk8s.array{}, problems = rigelk8s.array{}}
  local drop = {}
  if ctx.opts.no_prune then return report, drop end
  local dry = ctx.opts.dry_run
  for _, m in ipairs(M.candidates(ctx, inv)) do
    local name = ref_text(m)
    local ref = {apiVersion = m.apiVersion, kind = m.kind, name = m.name, namespace = m.namespace}
    if STORAGE[m.kind] and not ctx.opts.prune_storage then
      report.unused_claims[#report.unused_claims + 1] = name
      local fix = m.kind == "PersistentVolumeClaim"
          and string.format("kubectl delete pvc %s -n %s", m.name, m.namespace)
          or string.format("kubectl delete pv %s", m.name)
      ctx.out:say("kept %s: the Rigelfile no longer uses it, and storage is pruned only with " ..
                  "--prune-storage (its data is lost then); or delete it yourself: %s", name, fix)
    else
      local live, err = client:try_get(ref)
      if not live and err and err.code == 404 and err.reason ~= "NoKindMatch" then
        drop[member_key(m)] = true
      elseif not live and err and err.reason == "NoKindMatch" then
        local msg = string.format("cannot prune %s: the cluster no longer serves %s %s; it stays in the " ..
                                  "inventory. Install its CustomResourceDefinition again, or remove it " ..
                                  "from data.objects of %s", name, m.apiVersion, m.kind, where(inv.ident))
        report.problems[#report.problems + 1] = msg
        ctx.out:say("%s", msg)
      elseif not live then
        error(err, 0)
      elseif ((live.metadata.labels or {})[M.PART_OF]) ~= inv.ident.id then
        -- Not ours any more (someone took the label away, or another app owns it now).
        drop[member_key(m)] = true
        local msg = string.format("not pruned %s: it no longer carries %s=%s, so it is not this " ..
                                  "application's any more; dropped from the inventory", name, M.PART_OF, inv.ident.id)
        report.problems[#report.problems + 1] = msg
        ctx.out:say("%s", msg)
      else
        local managers = other_managers(live)
        local by = #managers > 0 and ("; changed since by " .. table.concat(managers, ", ")) or ""
        local entry = {name = name, kind = m.kind, namespace = m.namespace or rigelk8s.null,
                       managers = rigelk8s.array(managers)}
        if dry then
          ctx.out:say("would prune %s (no longer in the Rigelfile%s) (dry run)", name, by)
        else
          local res, derr = client:try_delete(ref, {propagation_policy = "Foreground",
                                                    wait = math.max(ctx.started + ctx.timeout - sys.now(), 1),
                                                    ignore_not_found = true})
          if res == nil and derr then error(derr, 0) end
          drop[member_key(m)] = true
          ctx.out:say("pruned %s (no longer in the Rigelfile%s)", name, by)
        end
        report.pruned[#report.pruned + 1] = entry
      end
    end
  end
  return report, drop
end

-- Once the workflow's objects are Ready (and only then): prune, write the final
-- inventory, and add the report's fields to extra.
function M.settle(ctx, result, extra)
  local inv = ctx.inventory
  extra = extra or {}
  if not inv or inv.settled or (inv.homeless and not inv.members) then return extra end
  inv.settled = true
  if result.state ~= "ready" then return extra end
  inv.members = inv.members or inv.old
  local report, drop = M.prune(ctx, inv)
  if not ctx.opts.dry_run and (next(drop) ~= nil or not inv.written) then
    -- (When nothing left, the list written after the apply is already the final one.)
    local keep = {}
    for _, m in ipairs(inv.members) do
      if not drop[member_key(m)] then keep[#keep + 1] = m end
    end
    write(ctx, inv, keep)
  end
  local key_name = ctx.opts.dry_run and "would_prune" or "pruned"
  extra[key_name] = report.pruned
  extra.unused_claims = report.unused_claims
  if #report.problems > 0 then extra.prune_problems = report.problems end
  if ctx.renamed then extra.renamed = require("rigelk8s").array(ctx.renamed) end
  if #report.pruned > 0 then
    local names = {}
    for _, p in ipairs(report.pruned) do names[#names + 1] = p.name end
    local line = string.format("%s %d object%s no longer in the Rigelfile: %s",
                               ctx.opts.dry_run and "would prune" or "pruned", #names,
                               #names == 1 and "" or "s", table.concat(names, ", "))
    if extra.no_changes then extra.no_changes = nil end
    extra.note = extra.note and not extra.note:match("^no changes") and (extra.note .. "\n" .. line) or line
  end
  return extra
end

-- For diff: what deploy would prune, as text lines with a marker, and their names.
function M.diff_lines(ctx)
  local inv = M.begin(ctx)
  if not inv then return "", {} end
  local lines, names = {}, {}
  for _, m in ipairs(M.candidates(ctx, inv)) do
    local name = ref_text(m)
    if STORAGE[m.kind] and not ctx.opts.prune_storage then
      lines[#lines + 1] = string.format("~ keep   %s (no longer in the Rigelfile; storage is pruned only with --prune-storage)\n", name)
    elseif not ctx.opts.no_prune then
      lines[#lines + 1] = string.format("- PRUNE  %s (no longer in the Rigelfile; deploy deletes it)\n", name)
      names[#names + 1] = name
    end
  end
  return table.concat(lines), names
end

-- ---- applications from their inventory alone ----------------------------------------

-- Loads app NAME in namespace NS (status/delete --app): ctx.cfg, ctx.entries and
-- ctx.objects come from the inventory, not from a Rigelfile.
function M.with_app(ctx, app)
  local ns = ctx.opts.namespace
  if not ns then
    errors.usage("--app %s: also give the namespace, e.g. -n <namespace> (rigelk8s list -A shows where each application runs)", app)
  end
  ctx.cfg = {namespace = ns, deployment_name = app}
  local client = require("rigelk8s.workflow").connect(ctx)
  local ident = M.identity(app, ns)
  local inv = M.load(client, ident)
  if not inv then
    errors.raise{message = string.format("no application '%s' in namespace %s: there is no %s. " ..
                 "`rigelk8s list -A` shows the applications rigelk8s deployed", app, ns, where(ident)),
                 exit_code = errors.EXIT.failed, reason = "NotFound"}
  end
  ctx.entries, ctx.objects = {}, {}
  for _, m in ipairs(inv.members) do
    local o = {apiVersion = m.apiVersion, kind = m.kind, metadata = {name = m.name, namespace = m.namespace}}
    ctx.entries[#ctx.entries + 1] = {phase = m.phase, object = o}
    ctx.objects[#ctx.objects + 1] = o
  end
  ctx.from_inventory = {ident = ident, inv = inv}
  return inv
end

-- delete and status with a Rigelfile: the members the Rigelfile no longer renders are
-- deleted / shown too. An inventory that cannot be read because of the cluster (not
-- because of its content) is skipped: the Rigelfile's own objects then meet the same
-- error, and report it where the user looks for it.
function M.add_unrendered(ctx)
  if ctx.from_inventory then return end
  local cfg = ctx.cfg
  local ident = M.identity(cfg.deployment_name, cfg.namespace)
  local ok, inv = pcall(M.load, ctx.client, ident)
  if not ok then
    if type(inv) == "table" and inv.reason == "BadInventory" then error(inv, 0) end
    return
  end
  if not inv then return end
  local rendered = {}
  for _, o in ipairs(ctx.objects) do rendered[object_key(o)] = true end
  for _, m in ipairs(inv.members) do
    if not rendered[member_key(m)] then
      local o = {apiVersion = m.apiVersion, kind = m.kind, metadata = {name = m.name, namespace = m.namespace}}
      ctx.entries[#ctx.entries + 1] = {phase = m.phase, object = o, unrendered = true}
      ctx.objects[#ctx.objects + 1] = o
    end
  end
  ctx.from_inventory = {ident = ident, inv = inv}
end

-- After delete: the inventory is removed, or keeps only the members left behind (kept
-- storage), so that `list` still shows them.
function M.after_delete(ctx, kept_objects)
  local fi = ctx.from_inventory
  if not fi or ctx.opts.dry_run then return end
  local kept = {}
  local phases = phase_map(ctx)
  for _, o in ipairs(kept_objects) do kept[#kept + 1] = member_of(o, phases[o]) end
  if #kept == 0 then
    local _, err = ctx.client:try_delete(parent_ref(fi.ident), {ignore_not_found = true})
    if err then error(err, 0) end
  else
    ctx.cfg.source = ctx.cfg.source or {file = fi.inv.source, job = fi.inv.job}
    write(ctx, {ident = fi.ident}, kept)
  end
end

-- Every inventory in ns (or all namespaces): list of {app, namespace, parsed or error}.
function M.list(client, ns, all)
  local sel = M.ID .. "," .. M.APP
  local items = client:list{apiVersion = "v1", kind = "ConfigMap", namespace = ns,
                            all_namespaces = all or nil, label_selector = sel}
  local out = {}
  for _, cm in ipairs(items) do
    local app = (cm.metadata.labels or {})[M.APP]
    local ident = M.identity(app, cm.metadata.namespace)
    local ok, parsed = pcall(M.parse, ident, cm)
    out[#out + 1] = {app = app, namespace = cm.metadata.namespace, ident = ident,
                     inv = ok and parsed or nil, error = not ok and parsed or nil, live = cm}
  end
  table.sort(out, function(a, b) return a.namespace .. "/" .. a.app < b.namespace .. "/" .. b.app end)
  return out
end

return M
