-- The fleet's final report (text or -o json: what succeeded, failed, was rolled back,
-- is offline or held, what changed before a Ctrl-C, the retry command) and
-- `rigelk8s fleet status` (a status and a server-side diff per target, as a table).
local errors = require "rigelk8s.errors"
local progress = require "rigelk8s.progress"
local sys = require "rigelk8s.sys"
local fleet = require "rigelk8s.fleet"

local M = {}

-- argv without --select (and its value), for the retry command.
local function without_select(argv)
  local out, i = {}, 1
  while i <= #argv do
    local a = argv[i]
    if a == "--select" then i = i + 1
    elseif not a:match("^%-%-select=") then out[#out + 1] = a end
    i = i + 1
  end
  return out
end

function M.report(ctx, targets, waves, info)
  local by = {succeeded = {}, failed = {}, offline = {}, held = {}, skipped = {}, interrupted = {}, ["rolled-back"] = {}}
  local changed, maybe = {}, {}
  for _, t in ipairs(targets) do
    local list = by[t.state] or by.failed
    list[#list + 1] = t
    if t.changed and not t.rolled_back then changed[#changed + 1] = t.name
    elseif t.maybe_changed and not t.rolled_back then maybe[#maybe + 1] = t.name end
  end
  local away = {}
  for _, t in ipairs(by.offline) do away[#away + 1] = t end
  for _, t in ipairs(by.held) do away[#away + 1] = t end
  local retry
  if #away > 0 then
    local names = {}
    for _, t in ipairs(away) do names[#names + 1] = t.name end
    local parts = {"rigelk8s", ctx.command}
    for _, a in ipairs(without_select(info.argv)) do parts[#parts + 1] = fleet.shq(a) end
    parts[#parts + 1] = "--select"
    parts[#parts + 1] = fleet.shq("name=" .. table.concat(names, "|"))
    retry = table.concat(parts, " ")
  end
  local code = 0
  local bad = {}
  for _, t in ipairs(by.failed) do bad[#bad + 1] = t end
  for _, t in ipairs(by["rolled-back"]) do bad[#bad + 1] = t end
  if #bad > 0 or info.stop_reason or #by.skipped > 0 then
    code = errors.EXIT.failed
    local codes = {}
    for _, t in ipairs(by.failed) do codes[t.exit_code or 1] = true end
    local only = next(codes)
    if only and next(codes, only) == nil then code = only end
  elseif #away > 0 then
    code = info.p.offline == "fail" and errors.EXIT.failed or errors.EXIT.unreachable
  end
  local interrupted = sys.interrupted() or #by.interrupted > 0
  if interrupted then code = errors.EXIT.interrupted end

  local function names(list)
    local rigelk8s = require "rigelk8s"
    local o = rigelk8s.array{}
    for _, t in ipairs(list) do o[#o + 1] = type(t) == "table" and t.name or t end
    return o
  end
  if ctx.json then
    local json = require "rigelk8s.json"
    local rigelk8s = require "rigelk8s"
    local wl = rigelk8s.array{}
    for _, w in ipairs(waves) do wl[#wl + 1] = {name = w.name, targets = names(w.targets)} end
    local doc = {command = ctx.command, fleet = true, exit_code = code, targets = rigelk8s.array{},
                 rigelk8s_version = rigelk8s.version, waves = wl, succeeded = names(by.succeeded), failed = names(by.failed),
                 offline = names(by.offline), held = names(by.held), skipped = names(by.skipped),
                 interrupted = names(by.interrupted), rolled_back = names(info.rolled),
                 changed = names(changed), maybe_changed = names(maybe),
                 stop_reason = info.stop_reason or rigelk8s.null, retry_command = retry or rigelk8s.null,
                 runner = info.runner or rigelk8s.null}
    for _, t in ipairs(targets) do
      doc.targets[#doc.targets + 1] = {name = t.name, context = t.context, wave = t.wave or rigelk8s.null,
        namespace = t.namespace or rigelk8s.null, state = t.state, message = t.message or rigelk8s.null,
        exit_code = t.exit_code or rigelk8s.null, elapsed_seconds = t.elapsed or rigelk8s.null,
        started_at = t.started_at or rigelk8s.null, finished_at = t.finished_at or rigelk8s.null,
        changed = t.changed and true or false, rolled_back = t.rolled_back and true or false,
        final_revision = t.final or rigelk8s.null}
    end
    io.stdout:write(json.encode(doc), "\n")
    return code
  end
  local out = progress.new{no_color = ctx.opts.no_color}
  out:say("fleet %s: %d succeeded, %d failed, %d rolled back, %d offline, %d held%s%s%s", ctx.command,
          #by.succeeded, #by.failed, #info.rolled, #by.offline, #by.held,
          #by.interrupted > 0 and (", " .. #by.interrupted .. " interrupted") or "",
          #by.skipped > 0 and (", " .. #by.skipped .. " not started") or "",
          info.stop_reason and ("; stopped: " .. info.stop_reason) or "")
  for _, t in ipairs(by.failed) do
    out:say("  failed %s (context %s, %s, exit %s): %s%s", t.name, t.context, t.wave or "-", tostring(t.exit_code),
            t.message, t.final and t.final ~= "" and ("; now " .. t.final) or "")
  end
  for _, t in ipairs(info.rolled) do
    out:say("  rolled back %s (%s): %s", t.name, t.wave or "-", t.final or "")
  end
  for _, t in ipairs(by["rolled-back"]) do
    if not t.final then out:say("  rolled back %s: %s", t.name, t.message) end
  end
  if interrupted then
    out:say("interrupted: changed: %s; possibly changed (stopped during apply): %s; every other target is unchanged",
            #changed > 0 and table.concat(changed, ", ") or "none", #maybe > 0 and table.concat(maybe, ", ") or "none")
  end
  for _, t in ipairs(away) do out:say("  %s %s (context %s): %s", t.state, t.name, t.context, t.message) end
  if retry then out:say("retry only the %s: %s", #by.held > 0 and "offline and held targets" or "offline targets", retry) end
  return code
end

---------------------------------------------------------------------------------------
-- rigelk8s fleet status

-- One row per target and Deployment, from a `status` and a `diff` child per target.
function M.status(ctx, targets, argv)
  local p = fleet.options(ctx)
  local runner = fleet.new_runner(ctx, p, "status")
  p.max_parallel = p.max_parallel or runner.default_parallel
  local args = fleet.status_args(fleet.passthrough(argv))
  local st, df = {}, {}
  runner:each(targets, "status", function() return args end, function(job) st[job.t] = job end)
  local reachable = {}
  for _, t in ipairs(targets) do
    reachable[t] = st[t] and st[t].code ~= errors.EXIT.unreachable
    if reachable[t] then reachable[#reachable + 1] = t end
  end
  -- The dry run takes over fields edited by others (kubectl edit): what it would change
  -- is the drift, where a plain apply would stop at the conflict. Nothing is written.
  local dargs = {"--force-conflicts"}
  for _, a in ipairs(args) do dargs[#dargs + 1] = a end
  runner:each(reachable, "diff", function() return dargs end, function(job) df[job.t] = job end)
  runner:close()
  local rigelk8s = require "rigelk8s"
  local doc = {command = "fleet status", targets = rigelk8s.array{}, runner = runner.kind}
  local code = 0
  for _, t in ipairs(targets) do
    local s, d = st[t], df[t]
    local row = {name = t.name, context = t.context, namespace = t.namespace or rigelk8s.null,
                 labels = t.labels or rigelk8s.null, reachable = reachable[t] and true or false,
                 ready = false, deployments = rigelk8s.array{}, drift = rigelk8s.null,
                 message = rigelk8s.null}
    if not reachable[t] then
      row.message = s and fleet.message_of(s.doc, s.code) or "not checked"
      code = errors.EXIT.failed
    else
      row.ready = s.doc.ready == true
      if not row.ready then code = errors.EXIT.failed end
      for _, o in ipairs(type(s.doc.objects) == "table" and s.doc.objects or {}) do
        if o.kind == "Deployment" then
          row.deployments[#row.deployments + 1] = {name = o.name, state = o.state,
            images = o.images or rigelk8s.array{}, revision = o.revision or rigelk8s.null,
            ready = o.state == "ready", last_change = o.last_change or rigelk8s.null}
        end
      end
      if s.code ~= 0 and s.code ~= 1 then row.message = fleet.message_of(s.doc, s.code) end
      if d and d.code == 0 then row.drift = rigelk8s.array{}
      elseif d and d.code == 1 and d.doc.state ~= "error" then row.drift = rigelk8s.array(type(d.doc.changed) == "table" and d.doc.changed or {})
        code = errors.EXIT.failed
      elseif d then row.message = "diff: " .. fleet.message_of(d.doc, d.code) end
    end
    doc.targets[#doc.targets + 1] = row
  end
  doc.exit_code = code
  if ctx.json then
    io.stdout:write(require("rigelk8s.json").encode(doc), "\n")
    return code
  end
  local lines = {{"TARGET", "REACHABLE", "DEPLOYMENT", "IMAGE", "REV", "READY", "DRIFT", "LAST CHANGE"}}
  for _, r in ipairs(doc.targets) do
    local drift = r.drift == rigelk8s.null and "?" or (#r.drift == 0 and "none" or table.concat(r.drift, ","))
    if not r.reachable then
      lines[#lines + 1] = {r.name, "no", "-", "-", "-", "-", "?", r.message}
    elseif #r.deployments == 0 then
      lines[#lines + 1] = {r.name, "yes", "(none)", "-", "-", r.ready and "yes" or "no", drift, "-"}
    else
      for i, dp in ipairs(r.deployments) do
        lines[#lines + 1] = {i == 1 and r.name or "", i == 1 and "yes" or "", dp.name,
                             table.concat(dp.images, ","), tostring(dp.revision == rigelk8s.null and "-" or dp.revision),
                             dp.ready and "yes" or "no", i == 1 and drift or "",
                             dp.last_change == rigelk8s.null and "-" or dp.last_change}
      end
    end
  end
  local w = {}
  for _, l in ipairs(lines) do
    for i, c in ipairs(l) do w[i] = math.max(w[i] or 0, utf8.len(c) or #c) end
  end
  for _, l in ipairs(lines) do
    local cells = {}
    for i, c in ipairs(l) do cells[i] = i < #l and (c .. string.rep(" ", w[i] - (utf8.len(c) or #c))) or c end
    io.stdout:write((table.concat(cells, "  "):gsub("%s+$", "")), "\n")
  end
  return code
end

return M
