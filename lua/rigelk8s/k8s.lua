-- The Kubernetes client for scripts: server-side apply, get/list/create/replace/patch/
-- delete, watches and watch sets, on top of the C primitives of rigelk8s.kube.
--
--   local k8s = require "rigelk8s.k8s"
--   local c <close> = k8s.connect{kubeconfig = path, context = "name", namespace = "ns",
--                                 verbose = false, timeout = 30,  -- seconds per request
--                                 retries = 5}  -- every field optional; retries: how often a
--                                               -- request failed on the way is retried (0: never)
--   c:apply(obj, {force = false, dry_run = false})      -- the live object
--   c:apply_all(list, {concurrency = 16})               -- per-object results, never stops early
--   c:get{apiVersion = "apps/v1", kind = "Deployment", name = "x"}   -- raises on 404
--   c:try_get{...}                                      -- nil, err on any failure
--   c:list{apiVersion = "v1", kind = "Pod", label_selector = "app=x"} -- items, every page
--   c:delete{apiVersion = "v1", kind = "ConfigMap", name = "y"}
--   c:logs("pod-name", {container = "ros-app", tail = 50, previous = false, since = 60})
--   for ev in c:watch{apiVersion = "v1", kind = "Pod", timeout = 30} do ... end
--                                 -- also name = "x" (one object), label_selector, namespace
--
-- The full reference of every method is docs/lua-api.md.
--
-- Every method raises a rigelk8s.errors value ({code, reason, message, causes,
-- exit_code}) on failure; its try_ twin returns nil, err instead. A reference is a table
-- with apiVersion, kind, name and namespace, or an object (metadata.name/namespace are
-- used). The namespace defaults to the client's (the context's, or -n).
local kube = require "rigelk8s.kube"
local errors = require "rigelk8s.errors"
local sys = require "rigelk8s.sys"

local M = {}
local Client = kube.Client
local WatchSet = kube.WatchSet

M.Client = Client
M.WatchSet = WatchSet

-- connect{kubeconfig, context, namespace, verbose, timeout, retries}: a client. Raises
-- (exit 2) when the kubeconfig is missing or wrong. timeout is the limit of one request
-- in seconds (watches have none): the option, else RIGELK8S_REQUEST_TIMEOUT (a number
-- of seconds or a duration such as 90s), else 30. A request that gets no answer in time
-- fails with reason Timeout and exit code 3, naming the server.
function M.connect(opts)
  opts = opts or {}
  if opts.timeout == nil then
    local env = os.getenv("RIGELK8S_REQUEST_TIMEOUT")
    if env and env ~= "" then
      local copy = {}
      for k, v in pairs(opts) do copy[k] = v end
      copy.timeout = require("rigelk8s.cli").duration(env, "RIGELK8S_REQUEST_TIMEOUT")
      opts = copy
    end
  end
  if opts.timeout ~= nil and (type(opts.timeout) ~= "number" or opts.timeout <= 0) then
    errors.usage("request timeout: expected a positive number of seconds, got %s", tostring(opts.timeout))
  end
  local c, err = kube.connect(opts)
  if not c then error(err, 0) end
  return c
end

-- The spec of one call: the reference's identity plus options.
local OPTION_KEYS = {"label_selector", "field_selector", "limit", "continue", "resource_version",
                     "field_manager", "force", "dry_run", "propagation_policy",
                     "grace_period_seconds", "subresource", "all_namespaces", "timeout_seconds"}

local function spec_of(verb, ref, opts)
  if type(ref) ~= "table" then
    errors.raise{message = string.format("%s: expected a reference table {apiVersion, kind, name}, got %s",
                                         verb, type(ref)), reason = "BadRequest"}
  end
  local md = type(ref.metadata) == "table" and ref.metadata or {}
  local s = {verb = verb, apiVersion = ref.apiVersion, kind = ref.kind,
             name = ref.name or md.name, namespace = ref.namespace or md.namespace}
  for _, k in ipairs(OPTION_KEYS) do
    if ref[k] ~= nil then s[k] = ref[k] end
    if opts and opts[k] ~= nil then s[k] = opts[k] end
  end
  return s
end

local function raising(try)
  return function(...)
    local v, err, extra = try(...)
    if v == nil and err ~= nil then error(err, 0) end
    return v, err, extra
  end
end

-- The raw call: first value only (the status code stays in the C layer's second value).
local function call(self, spec)
  local v, err = self:call(spec)
  if v == nil then return nil, err end
  return v
end

function Client:try_get(ref, opts)
  -- pods/log answers text, not JSON: the same as c:logs (container, tail, ... in opts).
  if (opts and opts.subresource or type(ref) == "table" and ref.subresource) == "log" then
    local lo = {}
    for k, v in pairs(opts or {}) do lo[k] = v end
    lo.namespace = lo.namespace or ref.namespace or (type(ref.metadata) == "table" and ref.metadata.namespace) or nil
    lo.subresource = nil
    for _, k in ipairs{"container", "tail", "previous", "since", "timestamps", "follow"} do
      if lo[k] == nil then lo[k] = ref[k] end
    end
    return self:try_logs(ref, lo)
  end
  return call(self, spec_of("get", ref, opts))
end

-- list(ref) -> items, list_metadata. Follows limit/continue to the last page.
function Client:try_list(ref, opts)
  local list, err = self:list_all(spec_of("list", ref, opts))
  if not list then return nil, err end
  return list.items, list.metadata
end

function Client:try_create(obj, opts)
  local s = spec_of("create", obj, opts)
  s.body = obj
  return call(self, s)
end

function Client:try_replace(obj, opts)
  local s = spec_of("replace", obj, opts)
  s.body = obj
  return call(self, s)
end

-- patch(ref, patch, {type = "merge" | "json" | "strategic" | "apply"}). patch is a table
-- (a list of operations for "json") or a JSON string.
function Client:try_patch(ref, patch, opts)
  local s = spec_of("patch", ref, opts)
  s.patch_type = opts and opts.type or "merge"
  s.body = patch
  return call(self, s)
end

-- apply(obj, {force, dry_run, field_manager}): server-side apply; the live object.
function Client:try_apply(obj, opts)
  local s = spec_of("apply", obj, opts)
  s.body = obj
  return call(self, s)
end

-- How long to wait for something to vanish: true means 5 minutes.
local function wait_seconds(w)
  if w == true then return 300 end
  return tonumber(w)
end

-- Waits until the object is gone, driven by a watch (no polling).
local function wait_gone(self, ref, seconds)
  local deadline = sys.now() + seconds
  local live, err = self:try_get(ref)
  if not live then
    if err.code == 404 then return true end
    return nil, err
  end
  local ws <close> = self:watch_set()
  local id, werr = ws:try_add{apiVersion = live.apiVersion or ref.apiVersion, kind = live.kind or ref.kind,
                              namespace = live.metadata.namespace, name = live.metadata.name,
                              resource_version = live.metadata.resourceVersion}
  if not id then return nil, werr end
  while true do
    local left = deadline - sys.now()
    if left <= 0 then break end
    local ev, nerr = ws:try_next(left)
    if nerr then return nil, nerr end
    if not ev then break end
    if ev.type == "DELETED" then return true end
    if ev.type == "ERROR" then return nil, ev.error end
  end
  -- The watch can miss nothing, but a last look settles a race with the deadline.
  local again, gerr = self:try_get(ref)
  if not again and gerr.code == 404 then return true end
  return nil, errors.new{message = string.format("%s %s was not deleted within %gs",
                                                 ref.kind or live.kind, live.metadata.name, seconds),
                         reason = "Timeout", code = 0, exit_code = errors.EXIT.timeout}
end

-- delete(ref, {propagation_policy = "Foreground"|"Background"|"Orphan",
--              grace_period_seconds, dry_run, wait = true | seconds, ignore_not_found})
-- Returns the server's answer (the object or a Status), or false when it was already
-- gone and ignore_not_found is set.
function Client:try_delete(ref, opts)
  opts = opts or {}
  local s = spec_of("delete", ref, opts)
  local v, err = call(self, s)
  if not v then
    -- A kind the cluster does not serve is an error to report, not a deleted object.
    if err.code == 404 and err.reason ~= "NoKindMatch" and opts.ignore_not_found then return false end
    return nil, err
  end
  local secs = wait_seconds(opts.wait)
  if secs and not opts.dry_run then
    local ok, werr = wait_gone(self, spec_of("get", ref), secs)
    if not ok then return nil, werr end
  end
  return v
end

-- server_version() -> {major, minor, gitVersion, ...}
function Client:try_server_version()
  return call(self, {verb = "raw", method = "GET", path = "/version"})
end

-- logs(pod, {namespace, container, tail, previous, since, timestamps}) -> the text of a
-- pod's log (kubectl logs). pod: a name, a reference or a Pod object. container: which
-- container (needed when the pod has several); tail: the last N lines; previous: the
-- previous (crashed) instance's log; since: only lines of the last N seconds;
-- timestamps: prefix each line with its time. With follow = true and a callback
-- (logs(pod, opts, fn)) the log is streamed: fn(line, ev) per line as it arrives
-- (ev.dropped: bytes cut off an overlong line; returning false stops), until the
-- container stops; the result is then the END event ({cut = true} when the stream
-- broke off mid-line). Lines are limited to opts.max_line bytes (1 MiB).
local function dns_name(s)
  return type(s) == "string" and s:match("^[a-z0-9][-a-z0-9.]*$") ~= nil and not s:find("..", 1, true)
end
function Client:try_logs(pod, opts, fn)
  opts = opts or {}
  local name, ns
  if type(pod) == "string" then
    name = pod
  elseif type(pod) == "table" then
    local md = type(pod.metadata) == "table" and pod.metadata or {}
    name, ns = pod.name or md.name, pod.namespace or md.namespace
  end
  ns = opts.namespace or ns or self.namespace or "default"
  if not dns_name(name) then
    return nil, errors.new{message = string.format("logs: expected a pod name (a DNS name), got %s", tostring(name)),
                           reason = "BadRequest", exit_code = errors.EXIT.usage}
  end
  if opts.follow and type(fn) ~= "function" then
    return nil, errors.new{message = "logs: follow = true needs a callback: c:logs(pod, {follow = true}, function(line) ... end)",
                           reason = "BadRequest", exit_code = errors.EXIT.usage}
  end
  local q = {}
  if opts.container ~= nil then
    if not dns_name(opts.container) then
      return nil, errors.new{message = "logs: container must be a container name, got " .. tostring(opts.container),
                             reason = "BadRequest", exit_code = errors.EXIT.usage}
    end
    q[#q + 1] = "container=" .. opts.container
  end
  for key, param in pairs{tail = "tailLines", since = "sinceSeconds"} do
    local v = opts[key]
    if v ~= nil then
      if type(v) ~= "number" or v < 0 or v ~= math.floor(v) then
        return nil, errors.new{message = string.format("logs: %s must be a whole number >= 0, got %s", key, tostring(v)),
                               reason = "BadRequest", exit_code = errors.EXIT.usage}
      end
      q[#q + 1] = string.format("%s=%d", param, math.floor(v))
    end
  end
  if opts.follow then
    local ws <close> = self:watch_set()
    local _, err = ws:try_add_log{namespace = ns, pod = name, container = opts.container, follow = true,
                                  previous = opts.previous, timestamps = opts.timestamps, since = opts.since,
                                  tail = opts.tail, max_line = opts.max_line}
    if err then return nil, err end
    while true do
      local ev, nerr = ws:try_next()
      if not ev then return nil, nerr end
      if ev.type == "LINE" then
        if fn(ev.line, ev) == false then return {type = "END", cut = false, stopped = true} end
      elseif ev.type == "END" then
        if ev.error and not ev.cut then return nil, ev.error end
        return ev
      end
    end
  end
  if opts.previous then q[#q + 1] = "previous=true" end
  if opts.timestamps then q[#q + 1] = "timestamps=true" end
  table.sort(q)
  local path = string.format("/api/v1/namespaces/%s/pods/%s/log%s", ns, name,
                             #q > 0 and ("?" .. table.concat(q, "&")) or "")
  return call(self, {verb = "raw", method = "GET", path = path, text = true})
end

Client.get = raising(Client.try_get)
Client.logs = raising(Client.try_logs)
Client.list = raising(Client.try_list)
Client.create = raising(Client.try_create)
Client.replace = raising(Client.try_replace)
Client.patch = raising(Client.try_patch)
Client.apply = raising(Client.try_apply)
Client.delete = raising(Client.try_delete)
Client.server_version = raising(Client.try_server_version)

local function describe(o)
  local md = type(o) == "table" and type(o.metadata) == "table" and o.metadata or {}
  return {apiVersion = type(o) == "table" and o.apiVersion or nil,
          kind = type(o) == "table" and o.kind or nil, name = md.name, namespace = md.namespace}
end

-- apply_all(list, {concurrency = 16, force, dry_run, field_manager}) -> results, failed.
-- results[i] answers list[i]: {ok = true, action = "created" | "applied", object = live}
-- or {ok = false, action = "failed", error = err}, each with apiVersion, kind, name and
-- namespace. Every object is tried, whatever happens to the others. list may also be a
-- List object (its items are applied).
function Client:apply_all(list, opts)
  opts = opts or {}
  if type(list) == "table" and type(list.items) == "table" and not list[1] then list = list.items end
  local specs = {}
  for i, o in ipairs(list) do
    specs[i] = {verb = "apply", body = o, force = opts.force, dry_run = opts.dry_run,
                field_manager = opts.field_manager}
  end
  local results, err = self:call_many(specs, opts.concurrency or 16)
  if not results then error(err, 0) end
  local failed = 0
  for i, r in ipairs(results) do
    local d = describe(list[i])
    r.apiVersion, r.kind, r.name = d.apiVersion, d.kind, d.name
    -- call_many sets namespace from the answer; rawget: reading r.object would decode it.
    local live = rawget(r, "object")
    r.namespace = d.namespace or r.namespace
                  or (type(live) == "table" and type(live.metadata) == "table" and live.metadata.namespace or nil)
    if r.ok then
      r.action = r.status == 201 and "created" or "applied"
    else
      r.action = "failed"
      failed = failed + 1
    end
  end
  return results, failed
end

-- ---- watches ----------------------------------------------------------------------

-- The raw primitives return nil, err; the set's friendly methods raise.
WatchSet.try_add = WatchSet.try_add or WatchSet.add
WatchSet.try_next = WatchSet.try_next or WatchSet.next
WatchSet.try_add_log = WatchSet.try_add_log or WatchSet.add_log
WatchSet.add = raising(WatchSet.try_add)
WatchSet.next = raising(WatchSet.try_next)
WatchSet.add_log = raising(WatchSet.try_add_log)

local WATCH_KEYS = {"apiVersion", "kind", "namespace", "name", "label_selector", "field_selector",
                    "resource_version", "all_namespaces", "bookmarks", "server_timeout"}

local function watch_spec(ref, opts)
  local md = type(ref.metadata) == "table" and ref.metadata or {}
  local s = {}
  for _, k in ipairs(WATCH_KEYS) do
    local v = opts[k]
    if v == nil then v = ref[k] end
    s[k] = v
  end
  s.name = s.name or md.name
  s.namespace = s.namespace or md.namespace
  return s
end

-- watch(ref [, opts] [, callback]): events of one kind (or one object with name).
-- ref/opts: label_selector, field_selector, name, namespace, all_namespaces,
-- resource_version (start after it; default: the current state first, as ADDED events),
-- timeout (seconds for the whole watch; default none).
-- As an iterator: `for ev in c:watch{...} do ... end` yields {type, object} until the
-- timeout passes; leaving the loop closes the watch. With a callback, calls it for each
-- event until it returns false or the timeout passes. A watch that fails for good
-- (403, 404, ...) raises. Dropped connections resume from the last resourceVersion, and
-- 410 Gone lists again, both without the caller noticing.
function Client:watch(ref, opts, callback)
  if type(opts) == "function" then opts, callback = nil, opts end
  opts = opts or {}
  local timeout = opts.timeout or ref.timeout
  local set = self:watch_set()
  local ok, err = set:try_add(watch_spec(ref, opts))
  if not ok then
    set:close()
    error(err, 0)
  end
  local deadline = timeout and (sys.now() + timeout)
  local function iter()
    local left = -1
    if deadline then
      left = deadline - sys.now()
      if left <= 0 then return nil end
    end
    local ev, nerr = set:try_next(left)
    if nerr then error(nerr, 0) end
    if ev and ev.type == "ERROR" then error(ev.error, 0) end
    return ev
  end
  if callback then
    local _ <close> = set
    for ev in iter do
      if callback(ev) == false then break end
    end
    return
  end
  return iter, nil, nil, set
end

---------------------------------------------------------------------------------------
-- Cooperative calls: many clusters from one process (lua/rigelk8s/fleet/inprocess.lua).
--
-- The fleet runs each target's workflow in a coroutine and registers it here
-- (M.cooperative[co] = a kube.group()). A client connected inside such a coroutine joins
-- the group: every client of the group shares one curl multi handle (core/net/http.c), so
-- one wait moves every target's transfers. Its call, call_many, list_all and watch-set
-- next then never block: they start the requests (client:start_many, a non-blocking C
-- batch) or look for a queued event, and yield (client or set, wake time) to the fleet's
-- scheduler, which resumes the coroutine once that client has news (client:news()) or
-- the time has come. Outside a registered coroutine, or where Lua cannot yield (inside a
-- C callback such as a table.sort comparator), the same calls block as they always did:
-- a grouped client works either way.

M.cooperative = setmetatable({}, {__mode = "k"})
M.clients_of = setmetatable({}, {__mode = "k"}) -- coroutine -> the clients it connected
local grouped = setmetatable({}, {__mode = "k"}) -- clients and sets of a group

local c_connect, c_call, c_call_many, c_list_all = M.connect, Client.call, Client.call_many, Client.list_all
local c_watch_set, c_next = Client.watch_set, WatchSet.next

local function cooperating(obj)
  if not grouped[obj] then return false end
  local co, main = coroutine.running()
  return not main and M.cooperative[co] ~= nil and coroutine.isyieldable()
end
M.cooperating = cooperating

function M.connect(opts)
  local co = coroutine.running()
  local group = M.cooperative[co]
  if group and (opts == nil or opts.group == nil) then
    local copy = {}
    for k, v in pairs(opts or {}) do copy[k] = v end
    copy.group = group
    opts = copy
  end
  local c = c_connect(opts)
  if opts and opts.group then
    grouped[c] = true
    local list = M.clients_of[co] or {}
    M.clients_of[co] = list
    list[#list + 1] = c
  end
  return c
end

function Client:call_many(specs, n)
  if not cooperating(self) then return c_call_many(self, specs, n) end
  local b <close> = self:start_many(specs, n)
  while true do
    local done, wake = b:step()
    if done then break end
    coroutine.yield(self, sys.now() + math.min(wake or 0.25, 0.25))
  end
  return b:results()
end

function Client:call(spec)
  if not cooperating(self) then return c_call(self, spec) end
  local results, err = self:call_many({spec}, 1)
  if not results then return nil, err end
  local r = results[1]
  if not r.ok then return nil, r.error end
  if spec.text then return r.text, r.status end
  return r.object, r.status
end

-- list_all, page by page through call: the same merge as the C version.
function Client:list_all(spec)
  if not cooperating(self) then return c_list_all(self, spec) end
  local s = {}
  for k, v in pairs(spec) do s[k] = v end
  s.verb = "list"
  if not s.limit or s.limit <= 0 then s.limit = 500 end
  local first, items, prev
  while true do
    s.continue = prev
    local page, err = self:call(s)
    if not page then return nil, err end
    if type(page) ~= "table" then
      return nil, errors.new{reason = "InvalidResponse", message = "a list answer that is not an object"}
    end
    local md = type(page.metadata) == "table" and page.metadata or {}
    local ct = md.continue
    if ct == "" then ct = nil end
    if ct and ct == prev then
      return nil, errors.new{reason = "InvalidResponse", message = "list: the server answered a page with the same " ..
                             "continue token it was asked for; stopping instead of paging forever"}
    end
    if not first then
      first = page
      md.continue = nil
      if type(page.items) ~= "table" then page.items = require("rigelk8s").array{} end
      items = page.items
    elseif type(page.items) == "table" then
      for _, it in ipairs(page.items) do items[#items + 1] = it end
    end
    prev = ct
    if not ct then break end
  end
  local av, lk = first.apiVersion, first.kind
  if type(av) == "string" and type(lk) == "string" then
    local kind = lk:match("^(.+)List$") or spec.kind or lk
    for _, it in ipairs(items) do
      if type(it) == "table" and it.kind == nil then it.apiVersion, it.kind = av, kind end
    end
  end
  return first
end

function Client:watch_set()
  local set, err = c_watch_set(self)
  if set and grouped[self] then grouped[set] = true end
  return set, err
end

function WatchSet:next(timeout)
  if not cooperating(self) then return c_next(self, timeout) end
  timeout = timeout or -1
  local deadline = timeout >= 0 and sys.now() + timeout or math.huge
  while true do
    local ev, err = c_next(self, 0)
    if ev or err then return ev, err end
    if timeout < 0 and self:count() == 0 then return nil end
    if sys.now() >= deadline then return nil end
    -- Ctrl-C: the blocking form notices it and returns the Interrupted error.
    if sys.interrupted() then return c_next(self, 0.001) end
    coroutine.yield(self, math.min(deadline, sys.now() + 0.25))
  end
end

return M
