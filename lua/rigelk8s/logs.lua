-- The logs of an application's pods, streamed together (`rigelk8s logs`, `deploy --logs`).
--
--   local logs = require "rigelk8s.logs"
--   local s = logs.new(client, {namespace = "ns", groups = {{name = "app", selector = "app=app"}},
--                               follow = true, since = 300, tail = 10, previous = false,
--                               all_containers = false, color = true})
--   s:start()            -- lists (or, following, watches) the pods and opens their logs
--   s:pump(timeout)      -- prints what arrived within timeout seconds; false once done
--   s:run()              -- pump until done (not following) or Ctrl-C
--   s:close(); s.summary -- {lines, streams, had_logs, cut, problems}
--
-- One watch set carries everything: a pod watch per group (following) and one log
-- stream per container, all on the client's curl multi handle, on this one thread.
-- Each line is written to stdout as "<pod> <container> | text"; notes (a pod that
-- appeared or went, a stream that was cut, a container without a previous instance)
-- go to stderr. Lines longer than max_line (1 MiB) are cut, with a marker saying how
-- many bytes were left out.
local sys = require "rigelk8s.sys"

local M = {}

local PALETTE = {"\27[36m", "\27[33m", "\27[32m", "\27[35m", "\27[34m", "\27[91m", "\27[96m", "\27[93m"}
local RESET = "\27[0m"
-- How long after a cut a followed log is asked for again, and how often in a row.
local RECONNECT_DELAY, MAX_CUTS = 1.0, 5
-- Lines of a stream remembered to skip their repetition after a reconnection.
local RECENT = 64

local function hash(s)
  local h = 5381
  for i = 1, #s do h = (h * 33 + s:byte(i)) % 2147483647 end
  return h
end

-- The pod's name without its ReplicaSet hash: "app-6f9c8d7b5-x2k4p" -> "app-x2k4p".
function M.short_name(pod)
  local md = pod.metadata or {}
  local name = md.name or "?"
  local h = md.labels and md.labels["pod-template-hash"]
  if h and #h > 0 then
    local s, e = name:find("-" .. h .. "-", 1, true)
    if s then name = name:sub(1, s) .. name:sub(e + 1) end
  end
  return name
end

local S = {}
S.__index = S

function M.new(client, opts)
  local s = setmetatable({client = client, opts = opts or {}, pods = {}, streams = {}, pending = {},
                          out = opts.out or io.stdout, err = opts.err or io.stderr,
                          summary = {lines = 0, streams = 0, had_logs = false, cut = 0, problems = {}, truncated = 0}},
                         S)
  s.ns = s.opts.namespace or client.namespace
  s.ws = client:watch_set()
  return s
end

function S:note(fmt, ...)
  if self.quiet_notes and (fmt:sub(1, 2) == "+ " or fmt:sub(1, 2) == "- ") then return end
  self.err:write("rigelk8s: ", string.format(fmt, ...), "\n")
  self.err:flush()
end

function S:prefix(pod_short, container, multi)
  local p = multi and (pod_short .. " " .. container) or pod_short
  if self.opts.color then
    return PALETTE[hash(pod_short .. container) % #PALETTE + 1] .. p .. RESET .. " | "
  end
  return p .. " | "
end

-- The containers of a pod whose log is wanted: the first one, or every one (init
-- containers first) with all_containers.
local function containers(pod, all)
  local spec = pod.spec or {}
  local out = {}
  if all then
    for _, c in ipairs(spec.initContainers or {}) do out[#out + 1] = c.name end
  end
  for i, c in ipairs(spec.containers or {}) do
    if all or i == 1 then out[#out + 1] = c.name end
  end
  return out
end

local function container_status(pod, name)
  local st = pod.status or {}
  for _, list in ipairs{st.containerStatuses or {}, st.initContainerStatuses or {}} do
    for _, cs in ipairs(list) do
      if cs.name == name then return cs end
    end
  end
end

-- Opens the log of one container. since: seconds (a reconnection after a cut).
function S:open(pod, cname, since)
  local md = pod.metadata
  local key = md.uid .. "/" .. cname
  local cs = container_status(pod, cname) or {}
  local all = self.opts.all_containers or #(pod.spec.containers or {}) > 1
  local prev = self.streams[key]
  local st = {key = key, pod = md.name, uid = md.uid, container = cname, short = M.short_name(pod),
              restarts = cs.restartCount or 0, cuts = prev and prev.cuts or 0, recent = {}}
  if since and prev then
    -- A reconnection asks for whole seconds, so it repeats what came just before the
    -- cut: the lines already shown are skipped until the first new one.
    st.skip = {}
    for _, l in ipairs(prev.recent or {}) do st.skip[l] = (st.skip[l] or 0) + 1 end
  end
  st.prefix = self:prefix(st.short, cname, all)
  local id, err = self.ws:try_add_log({namespace = md.namespace or self.ns, pod = md.name, container = cname,
                                       follow = self.opts.follow and not self.opts.previous or nil,
                                       previous = self.opts.previous or nil,
                                       -- --since and --tail are about the pods there at the
                                       -- start; a pod that appears later is shown whole.
                                       since = since or (not self.started and self.opts.since) or nil,
                                       tail = not since and not self.started and self.opts.tail or nil,
                                       timestamps = self.opts.timestamps or nil,
                                       max_line = self.opts.max_line}, key)
  if not id then
    self:problem(st, err.message)
    return
  end
  st.id, st.open = id, true
  self.streams[key] = st
  self.summary.streams = self.summary.streams + 1
end

function S:problem(st, msg)
  self.summary.problems[#self.summary.problems + 1] = msg
  self:note("%s %s: %s", st.short, st.container, msg)
end

-- A pod was seen (listed, or by the watch): open the logs of its containers that have
-- started and are not streamed yet.
function S:pod_seen(pod, group)
  local md = pod.metadata or {}
  if not md.uid then return end
  -- deploy/update --logs: only the pods the rollout brings, not those that ran before.
  if self.opts.exclude and self.opts.exclude[md.uid] then return end
  local known = self.pods[md.uid]
  if not known then
    known = {name = md.name, short = M.short_name(pod), group = group}
    self.pods[md.uid] = known
    if self.opts.follow and self.started then self:note("+ %s (new pod)", known.short) end
  end
  if md.deletionTimestamp then known.terminating = true end
  if md.deletionTimestamp and self.opts.follow then return end
  for _, cname in ipairs(containers(pod, self.opts.all_containers)) do
    local key = md.uid .. "/" .. cname
    local st = self.streams[key]
    local cs = container_status(pod, cname)
    local state = cs and cs.state or {}
    local started = state.running or state.terminated
    if self.opts.previous then
      -- The previous instance's log is asked for whatever the current one does; the
      -- server says when there is none.
      if not st then self:open(pod, cname) end
    elseif started and (not st or (not st.open and not st.retry_at and (cs.restartCount or 0) > st.restarts)) then
      if st and self.opts.follow then self:note("%s %s restarted (restart %d)", known.short, cname, cs.restartCount or 0) end
      self:open(pod, cname)
    elseif not started and not st and not self.opts.follow then
      local why = state.waiting and state.waiting.reason or "ContainerCreating"
      self:problem({short = known.short, container = cname}, "not started yet (" .. why .. "); no log")
      self.streams[key] = {key = key, open = false, restarts = -1, short = known.short, container = cname}
    end
  end
end

function S:pod_gone(pod)
  local uid = pod.metadata and pod.metadata.uid
  local known = uid and self.pods[uid]
  if not known then return end
  for key, st in pairs(self.streams) do
    if st.uid == uid then
      if st.open then self.ws:remove(st.id) end
      self.streams[key] = nil
      self.pending[key] = nil
    end
  end
  self.pods[uid] = nil
  self:note("- %s (pod deleted; no longer followed)", known.short)
end

function S:start()
  local opts = self.opts
  for _, g in ipairs(opts.groups or {}) do
    -- The pods as they are now; following, a watch from that list's resourceVersion then
    -- brings the pods that come and go.
    local pods, meta = self.client:list{apiVersion = "v1", kind = "Pod", namespace = self.ns, label_selector = g.selector}
    table.sort(pods, function(a, b) return a.metadata.name < b.metadata.name end)
    if #pods == 0 and not opts.follow then
      self.summary.problems[#self.summary.problems + 1] = "no pods of " .. g.name
      self:note("%s has no pods (selector %s)", g.name, g.selector)
    elseif #pods == 0 then
      self:note("%s has no pods yet (selector %s); waiting for them", g.name, g.selector)
    end
    for _, p in ipairs(pods) do self:pod_seen(p, g.name) end
    if opts.follow then
      self.ws:add({apiVersion = "v1", kind = "Pod", namespace = self.ns, label_selector = g.selector,
                   resource_version = meta and meta.resourceVersion}, "pods:" .. g.name)
    end
  end
  self.started = true
end

local function marker(dropped)
  return string.format(" [... line cut: %d more bytes not shown]", dropped)
end

function S:event(ev)
  local key = ev.watch
  if type(key) == "string" and key:sub(1, 5) == "pods:" then
    if ev.type == "ERROR" then error(ev.error, 0) end
    if ev.type == "DELETED" then
      self:pod_gone(ev.object)
    elseif ev.type == "ADDED" or ev.type == "MODIFIED" then
      self:pod_seen(ev.object, key:sub(6))
    end
    return
  end
  local st = self.streams[key]
  if not st then return end
  st.heard = true
  if ev.type == "LINE" then
    if st.skip then
      if (st.skip[ev.line] or 0) > 0 then
        st.skip[ev.line] = st.skip[ev.line] - 1
        return
      end
      st.skip = nil
    end
    local recent = st.recent
    recent[#recent + 1] = ev.line
    if #recent > RECENT then table.remove(recent, 1) end
    local text = ev.line
    if ev.dropped and ev.dropped > 0 then
      text = text .. marker(ev.dropped)
      self.summary.truncated = self.summary.truncated + 1
    end
    self.out:write(st.prefix, text, "\n")
    self.summary.lines = self.summary.lines + 1
    self.summary.had_logs = true
    st.last_line_at = sys.wall()
    if not ev.partial then st.cuts = 0 end
  elseif ev.type == "END" then
    st.open = false
    self.out:flush()
    if ev.cut then
      self.summary.cut = self.summary.cut + 1
      st.cuts = (st.cuts or 0) + 1
      local following = self.opts.follow and not self.opts.previous and self.pods[st.uid]
      if following and st.cuts <= MAX_CUTS then
        self:note("%s %s: the log stream was cut mid-line (shown as it arrived); reconnecting", st.short, st.container)
        st.retry_at = sys.now() + RECONNECT_DELAY
        st.cut_at = sys.wall()
        self.pending[key] = st
      else
        self:note("%s %s: the log stream was cut mid-line (shown as it arrived); it ended there%s", st.short,
                  st.container, following and string.format(" (cut %d times in a row: given up)", st.cuts) or "")
      end
    elseif ev.error then
      local msg = ev.error.message or tostring(ev.error)
      if self.opts.previous and ev.error.code == 400 and msg:find("previous terminated container", 1, true) then
        self:note("%s %s: no previous container (it has not restarted); skipped", st.short, st.container)
      else
        self:problem(st, msg)
      end
    elseif self.opts.follow and self.pods[st.uid] and not self.pods[st.uid].terminating then
      self:note("%s %s: container stopped; its log ended", st.short, st.container)
    end
  end
end

-- Reopens cut logs whose delay has passed, from where they broke off.
function S:reconnect()
  local now = sys.now()
  for key, st in pairs(self.pending) do
    if st.retry_at <= now then
      self.pending[key] = nil
      st.retry_at = nil
      local pod = {metadata = {uid = st.uid, name = st.pod, namespace = self.ns}, spec = {containers = {{name = st.container}}},
                   status = {containerStatuses = {{name = st.container, restartCount = st.restarts}}}}
      local since = math.max(1, math.ceil(sys.wall() - (st.cut_at or sys.wall())))
      self:open(pod, st.container, since)
      local ns = self.streams[key]
      if ns then ns.short, ns.prefix, ns.cuts = st.short, st.prefix, st.cuts end
    end
  end
end

local function open_count(self)
  local n = 0
  for _, st in pairs(self.streams) do if st.open then n = n + 1 end end
  return n
end

-- Handles what arrives within timeout seconds. Returns false once there is nothing left
-- to read (not following), or when Ctrl-C was pressed (self.interrupted).
function S:pump(timeout)
  self:reconnect()
  local wait = timeout
  if next(self.pending) then wait = math.min(wait or RECONNECT_DELAY, RECONNECT_DELAY / 4) end
  local ev, err = self.ws:try_next(wait)
  while ev do
    self:event(ev)
    ev, err = self.ws:try_next(0)
  end
  self.out:flush()
  if err then
    if err.reason == "Interrupted" or sys.interrupted() then
      self.interrupted = true
      return false
    end
    error(err, 0)
  end
  if sys.interrupted() then
    self.interrupted = true
    return false
  end
  if not self.opts.follow and open_count(self) == 0 and not next(self.pending) then return false end
  return true
end

-- Reads on for at most max seconds, and stops once quiet seconds pass without news
-- (the end of deploy --logs: lines the new pods printed as they became Ready).
-- Whether a stream is open that has not answered yet (no line, no end): its first lines
-- may still be on the way (a loaded server answers late).
function S:awaiting_first()
  for _, st in pairs(self.streams) do
    if st.open and not st.heard then return true end
  end
  return false
end

function S:drain(max, quiet)
  local deadline = sys.now() + max
  while sys.now() < deadline do
    local before = self.summary.lines + self.summary.streams
    if not self:pump(math.min(quiet, deadline - sys.now())) then return end
    if self.summary.lines + self.summary.streams == before and not self:awaiting_first() then return end
  end
end

function S:run()
  while self:pump(self.opts.follow and 1 or -1) do end
  return self.summary
end

-- The log groups of a rollout: the application Deployments among objects (not the
-- ROS master), with the selectors they were rendered with.
local function rollout_groups(ctx, objects)
  local phase = {}
  for _, e in ipairs(ctx.entries or {}) do phase[e.object] = e.phase end
  local groups = {}
  for _, o in ipairs(objects) do
    local sel = {}
    if o.kind == "Deployment" and phase[o] ~= "master" and o.spec and o.spec.selector then
      for k, v in pairs(o.spec.selector.matchLabels or {}) do sel[#sel + 1] = k .. "=" .. v end
    end
    table.sort(sel)
    if #sel > 0 then
      groups[#groups + 1] = {name = o.metadata.name, selector = table.concat(sel, ","), namespace = o.metadata.namespace}
    end
  end
  return groups
end

-- The uids of the pods that run before a rollout (wf.apply records them for --logs).
function M.pods_before(client, ctx)
  local uids = {}
  for _, g in ipairs(rollout_groups(ctx, ctx.objects or {})) do
    local pods = client:try_list{apiVersion = "v1", kind = "Pod", namespace = g.namespace, label_selector = g.selector}
    for _, p in ipairs(pods or {}) do uids[p.metadata.uid] = true end
  end
  return uids
end

-- deploy/update --logs: follows the pods of the application Deployments among objects,
-- except those in ctx.pods_before_apply (the pods before the rollout). The wait calls
-- pump(0) as it goes.
function M.for_rollout(client, ctx, objects, opts)
  opts = opts or {}
  local groups = rollout_groups(ctx, objects)
  if #groups == 0 then return nil end
  local s = M.new(client, {namespace = groups[1].namespace or (ctx.cfg and ctx.cfg.namespace), groups = groups,
                           follow = true, color = opts.color, exclude = ctx.pods_before_apply})
  s.quiet_notes = true
  s:start()
  return s
end

function S:close()
  if self.ws then self.ws:close() end
  self.ws = nil
end

return M
