-- The fleet's rollout, wave by wave (see lua/rigelk8s/fleet.lua for the whole picture):
-- the canary and each wave start their targets through a runner (fleet/inprocess.lua
-- or fleet/runner.lua), offline and held targets are retried with --offline wait:D, a
-- failure after the apply is checked once more for a lost robot, --min-ready checks the
-- wave again after D, more than --max-failures failures stop the rollout, and --atomic
-- rolls back every target that changed in the failed wave and before it. Ctrl-C lets
-- the running targets finish their own interrupted report, then says which changed.
local errors = require "rigelk8s.errors"
local progress = require "rigelk8s.progress"
local sys = require "rigelk8s.sys"
local fleet = require "rigelk8s.fleet"

local M = {}

-- Waits up to secs seconds, or until interrupted or until_fn() is true.
local function pause(secs, until_fn)
  local deadline = sys.now() + secs
  while sys.now() < deadline and not sys.interrupted() do
    if until_fn and until_fn() then return true end
    sys.sleep(math.min(0.1, math.max(0, deadline - sys.now())))
  end
  return false
end

-- Waits for `rigelk8s fleet resume`, or Enter when standard input is a terminal.
local function wait_for_resume(out, label)
  local dir = fleet.runtime_dir()
  local pid = sys.getpid()
  local paused, resume = dir .. "/" .. pid .. ".paused", dir .. "/" .. pid .. ".resume"
  os.remove(resume)
  sys.write_private(paused, label .. "\n")
  out:say("paused after %s: run `rigelk8s fleet resume` (or `rigelk8s fleet resume %d`)%s to go on",
          label, pid, sys.isatty(0) and ", or press Enter" or "")
  local resumed = false
  while not sys.interrupted() do
    if fleet.read_all(resume) then resumed = true; break end
    if sys.isatty(0) then
      if sys.readable(0, 0.2) then io.stdin:read("l"); resumed = true; break end
    else
      sys.sleep(0.2)
    end
  end
  os.remove(paused); os.remove(resume)
  return resumed
end

-- Rows for the live table: failing, running and waiting targets one by one; finished
-- healthy ones and those of later waves summarised, so that 100 targets fit a screen.
local function live_rows(targets, width_hint)
  local rows, ready, pending = {}, 0, 0
  for _, t in ipairs(targets) do
    if t.state == "succeeded" then ready = ready + 1
    elseif t.state == "pending" then pending = pending + 1
    else
      local st = (t.state == "failed" or t.state == "rolled-back") and "failed"
                 or ((t.state == "offline" or t.state == "held" or t.state == "skipped") and "failed" or "progressing")
      rows[#rows + 1] = {name = t.name, state = st, message = t.message or t.state}
    end
  end
  local limit = width_hint or 20
  if #rows > limit then
    local extra = #rows - limit + 1
    for _ = 1, extra do table.remove(rows) end
    rows[#rows + 1] = {name = string.format("(%d more)", extra), state = "progressing", message = "see the summary"}
  end
  table.insert(rows, 1, {name = string.format("%d ready", ready), state = "ready",
                         message = pending > 0 and string.format("%d not started yet", pending) or "every target started"})
  return rows
end
-- Runs the command on every target, wave by wave; returns the exit code.
function M.run(ctx, targets, argv)
  local p = fleet.options(ctx)
  local waves = fleet.plan(targets, p)
  local out = progress.new{no_color = ctx.opts.no_color, quiet = ctx.json}
  local runner = fleet.new_runner(ctx, p, ctx.command)
  p.max_parallel = p.max_parallel or runner.default_parallel
  if runner.why and ctx.opts.verbose then out:say("fleet: one process per target (%s)", runner.why) end
  local base = fleet.passthrough(argv)
  for _, t in ipairs(targets) do t.state, t.message = "pending", "pending" end
  local rows_limit = math.max(8, ((tonumber(os.getenv("LINES") or "") or 40) - 12))
  -- Redrawn when a target changes state, else once a second (the elapsed time).
  local drawn = 0
  local function show(idle)
    if ctx.json or (idle and sys.now() - drawn < 1) then return end
    drawn = sys.now()
    out:update(live_rows(targets, rows_limit))
  end

  local stopped, stop_reason, failed_wave, interrupted_sent = false, nil, nil, false
  local done_waves = {}
  local run_start = sys.now()
  local current_settle
  -- Ctrl-C raises an error from wherever the parent is (see host.c); it is caught here so
  -- that the children can finish and the report can say what changed.
  local ok_run, run_err = pcall(function()
  for wi, wave in ipairs(waves) do
    if stopped or sys.interrupted() then break end
    local wstart = sys.now()
    out:say("%s (%d/%d): %d target%s", wave.name, wi, #waves, #wave.targets, #wave.targets == 1 and "" or "s")
    -- queue: targets to start; retry_at: offline/held targets waiting to be tried again
    local queue, qi = {}, 1
    for _, t in ipairs(wave.targets) do queue[#queue + 1] = t; t.wave = wave.name end
    local later = {}
    local function settle(job)
      job.t.job = nil
      local t = job.t
      t.elapsed = job.elapsed
      t.started_at, t.finished_at = job.started - run_start, sys.now() - run_start
      t.rolled_back = type(job.doc) == "table" and job.doc.rolled_back == true or nil
      if job.changed then t.changed = job.changed end
      if job.applying then t.maybe_changed = true end
      local offline = job.code == errors.EXIT.unreachable and not job.applying and not job.changed
      if job.held or offline then
        t.state = job.held and "held" or "offline"
        t.message = job.held and ("held (" .. job.held .. ")") or ("offline: " .. fleet.message_of(job.doc, job.code))
        if p.offline == "wait" then
          t.first_away = t.first_away or sys.now()
          if sys.now() - t.first_away < p.offline_wait then
            later[#later + 1] = {t = t, at = sys.now() + math.min(2, p.offline_wait)}
            t.message = t.message .. string.format(" (waiting up to %ds)", math.floor(p.offline_wait))
          end
        end
        return
      end
      if job.code == 0 then
        t.state = "succeeded"
        t.message = string.format("%s in %.1fs%s", fleet.text(job.doc.state) or "done", job.elapsed,
                                  fleet.revisions(job.doc) ~= "" and (", " .. fleet.revisions(job.doc)) or "")
      else
        t.state = job.code == errors.EXIT.interrupted and "interrupted" or "failed"
        t.exit_code = job.code
        t.message = (t.rolled_back and "rolled back: " or "") .. fleet.message_of(job.doc, job.code)
        if job.code == errors.EXIT.unreachable then
          t.message = "lost contact mid-update (it may have changed): " .. t.message
        end
        t.final = t.rolled_back and fleet.revisions(job.doc) or nil
        if ctx.opts.fail_fast and not stopped then
          stopped, stop_reason = true, t.name .. " failed (--fail-fast)"
          runner:signal(15)
        end
      end
    end
    current_settle = settle
    while true do
      if sys.interrupted() and not interrupted_sent then
        interrupted_sent = true
        runner:signal(2)
      end
      local go = not stopped and not sys.interrupted()
      while go and qi <= #queue and runner.n < p.max_parallel do
        local t = queue[qi]; qi = qi + 1
        t.state, t.message = "running", "running"
        local job, started = runner:start(t, ctx.command, base, "main")
        t.job = job
        drawn = 0
        if not started then t.state, t.message, t.job = "failed", job.doc.message, nil end
      end
      -- offline/held targets whose retry time has come
      if go then
        for j = #later, 1, -1 do
          if later[j].at <= sys.now() then
            local t = table.remove(later, j).t
            queue[#queue + 1] = t
            t.state, t.message = "pending", "retrying"
          end
        end
      end
      local job = runner:reap()
      if job then settle(job); show()
      elseif runner.n == 0 and (qi > #queue or not go) and (#later == 0 or not go) then break
      else show(true); runner:idle(0.02) end
    end
    for _, t in ipairs(wave.targets) do
      if t.state == "pending" or t.state == "running" then t.state, t.message = "skipped", "not started (" .. (stop_reason or "interrupted") .. ")" end
    end
    -- A failure after the apply may be a robot that went away mid-update (its child then
    -- times out waiting): ask each failed cluster once more whether it answers at all.
    local recheck = {}
    for _, t in ipairs(wave.targets) do
      if t.state == "failed" and t.exit_code ~= errors.EXIT.unreachable and (t.changed or t.maybe_changed) then
        recheck[#recheck + 1] = t
      end
    end
    if #recheck > 0 and not sys.interrupted() then
      local rargs = fleet.status_args(base)
      rargs[#rargs + 1] = "--request-timeout"
      rargs[#rargs + 1] = "5s"
      runner:each(recheck, "status", function() return rargs end, function(job)
        if job.code == errors.EXIT.unreachable then
          job.t.message = "lost contact mid-update (it may have changed): " .. fleet.message_of(job.doc, job.code) ..
                          "; before that: " .. job.t.message
        end
      end)
    end
    -- --min-ready: still Ready (on the new generation) after the given time?
    if p.min_ready > 0 and not sys.interrupted() and not stopped then
      local ok_targets = {}
      for _, t in ipairs(wave.targets) do if t.state == "succeeded" then ok_targets[#ok_targets + 1] = t end end
      if #ok_targets > 0 then
        out:say("%s: waiting %gs (--min-ready) before judging it", wave.name, p.min_ready)
        pause(p.min_ready)
        if not sys.interrupted() then
          runner:each(ok_targets, "status", function() return fleet.status_args(base) end, function(job)
            local t = job.t
            if job.code ~= 0 or job.doc.ready ~= true then
              t.state = "failed"
              t.exit_code = job.code ~= 0 and job.code or errors.EXIT.failed
              local bad = {}
              for _, o in ipairs(type(job.doc.objects) == "table" and job.doc.objects or {}) do
                if o.state ~= "ready" then bad[#bad + 1] = string.format("%s/%s: %s", o.kind, o.name, tostring(o.message)) end
              end
              t.message = string.format("not Ready %gs after its rollout (--min-ready): %s", p.min_ready,
                                        #bad > 0 and table.concat(bad, "; ") or fleet.message_of(job.doc, job.code))
            end
          end)
        end
      end
    end
    show()
    local failures = 0
    for _, t in ipairs(wave.targets) do
      if t.state == "failed" or t.state == "interrupted"
         or (p.offline == "fail" and (t.state == "offline" or t.state == "held")) then failures = failures + 1 end
    end
    local allowed = fleet.of(p.max_failures, #wave.targets, false)
    local summary = {}
    for _, t in ipairs(wave.targets) do summary[t.state] = (summary[t.state] or 0) + 1 end
    local parts = {}
    for _, k in ipairs{"succeeded", "failed", "offline", "held", "interrupted", "skipped"} do
      if summary[k] then parts[#parts + 1] = summary[k] .. " " .. k end
    end
    out:say("%s: %s in %.1fs", wave.name, table.concat(parts, ", "), sys.now() - wstart)
    done_waves[#done_waves + 1] = wave
    if sys.interrupted() then break end
    if failures > allowed then
      stopped, failed_wave = true, wave
      stop_reason = stop_reason or string.format("%s had %d failure%s, more than --max-failures %s allows (%d)",
                                                 wave.name, failures, failures == 1 and "" or "s", ctx.opts.max_failures, allowed)
      break
    end
    if wi < #waves and not stopped then
      if p.pause_between > 0 then
        out:say("pausing %gs before %s (--pause-between)", p.pause_between, waves[wi + 1].name)
        pause(p.pause_between)
      end
      if ctx.opts.pause and not sys.interrupted() then wait_for_resume(out, wave.name) end
    end
  end
  end)
  if not ok_run then
    if not sys.interrupted() then runner:signal(15); error(run_err, 0) end
    -- A terminal's Ctrl-C reached the children too (same process group); a signal sent
    -- to this process alone did not. Give them a moment, then pass it on once.
    local grace = sys.now() + 1
    while runner.n > 0 do
      local job = runner:reap()
      if job then
        if current_settle then current_settle(job) end
      elseif sys.now() > grace and not interrupted_sent then
        interrupted_sent = true
        runner:signal(2)
      else
        runner:idle(0.02)
      end
    end
    for _, t in ipairs(targets) do
      if t.job then
        -- reaped, but the interruption came before its result was read
        t.state, t.message, t.maybe_changed = "interrupted", "interrupted", true
      elseif t.state == "running" then
        t.state, t.message = "interrupted", "interrupted"
      end
    end
    out:say("interrupted")
  end
  for _, w in ipairs(waves) do
    for _, t in ipairs(w.targets) do
      if t.state == "pending" then t.state, t.message = "skipped", "not started (" .. (stop_reason or "interrupted") .. ")" end
    end
  end

  -- --atomic: roll back every target that changed, in the failed wave and before it.
  local rolled = {}
  if stopped and failed_wave and ctx.opts.atomic and not sys.interrupted() then
    local todo = {}
    for _, w in ipairs(done_waves) do
      for _, t in ipairs(w.targets) do
        -- Only a changed Deployment has a revision to go back to; rolling back one that
        -- did not change would move it to an older revision than it had.
        if t.changed and t.changed:find("Deployment/", 1, true) and not t.rolled_back then todo[#todo + 1] = t end
      end
    end
    out:say("--atomic: rolling back %d target%s (%s and every wave before it)", #todo, #todo == 1 and "" or "s", failed_wave.name)
    local rargs = fleet.status_args(base)
    runner:each(todo, "rollback", function() return rargs end, function(job)
      local t = job.t
      if job.code == 0 then
        t.rolled_back = true
        t.final = (fleet.text(job.doc.note) and (job.doc.note:gsub("^deployment ", "")) .. "; " or "") .. fleet.revisions(job.doc)
        t.message = "rolled back: " .. t.final
        if t.state == "succeeded" then t.state = "rolled-back" end
      else
        t.message = "ROLLBACK FAILED: " .. fleet.message_of(job.doc, job.code) .. " (was: " .. tostring(t.message) .. ")"
        t.rollback_failed = true
      end
    end)
    for _, t in ipairs(todo) do if t.rolled_back then rolled[#rolled + 1] = t end end
    show()
  else
    for _, t in ipairs(targets) do if t.rolled_back then rolled[#rolled + 1] = t end end
  end
  if not ctx.json then out:finish() end
  runner:close()
  return fleet.report(ctx, targets, waves, {stop_reason = stop_reason, rolled = rolled, argv = argv, p = p,
                                           runner = runner.kind})
end

return M
