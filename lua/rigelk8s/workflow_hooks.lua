-- rigelk8s.workflow_hooks: the workflow hooks (wf.on, wf.load_hooks, wf.run_hooks,
-- wf.reset_hooks, wf.hooks_of), defined into the rigelk8s.workflow table (see
-- workflow.lua for what each hook hears and when).
local errors = require "rigelk8s.errors"
local sys = require "rigelk8s.sys"

local M = require "rigelk8s.workflow_context"

-- Hooks live on the run's context (ctx.hooks), so two runs in one process (the jobs of a
-- sequence) never see each other's. wf.on(ctx, name, fn) registers on a context;
-- wf.on(name, fn) registers on the context whose hook file is being loaded, or, at the
-- top of a script before wf.main, on every context the script makes from then on.
local HOOKS = {before_apply = true, after_apply = true, after_wait = true, on_ready = true, on_failure = true,
               on_ros_graph = true}
local HOOK_NAMES = {"after_apply", "after_wait", "before_apply", "on_failure", "on_ready", "on_ros_graph"}
local script_hooks = {}   -- wf.on(name, fn) outside any context: copied into new contexts
local loading             -- the context whose hook files are being loaded

local function check_hook(name, fn)
  if type(name) ~= "string" then
    errors.usage("hook names are strings such as 'before_apply'; got the %s %s", type(name), tostring(name))
  end
  if not HOOKS[name] then
    local hint = require("rigelk8s.util").closest(name, HOOK_NAMES)
    errors.usage("unknown hook '%s'%s (hooks: %s)", tostring(name),
                 hint and ("; did you mean '" .. hint .. "'?") or "", table.concat(HOOK_NAMES, ", "))
  end
  if type(fn) ~= "function" then errors.usage("hook %s: expected a function, got %s", name, type(fn)) end
end

-- The hooks of a context ({name = {fn, ...}}), made on first use from the script's.
local function hooks_of(ctx)
  if not ctx.hooks then
    ctx.hooks = {}
    for _, h in ipairs(script_hooks) do
      ctx.hooks[h.name] = ctx.hooks[h.name] or {}
      table.insert(ctx.hooks[h.name], h.fn)
    end
  end
  return ctx.hooks
end
M.hooks_of = hooks_of

function M.on(ctx, name, fn)
  if type(ctx) ~= "table" then
    ctx, name, fn = loading, ctx, name
  end
  check_hook(name, fn)
  if ctx then
    local hooks = hooks_of(ctx)
    hooks[name] = hooks[name] or {}
    table.insert(hooks[name], fn)
  else
    script_hooks[#script_hooks + 1] = {name = name, fn = fn}
  end
end

-- Forgets the hooks registered with wf.on(name, fn) outside a context (tests). A
-- context's own hooks go with the context.
function M.reset_hooks()
  script_hooks = {}
end

-- Loads a hook file onto ctx: the file returns a table of hook functions, or calls
-- wf.on(name, fn) itself (it gets wf as `...`).
function M.load_hooks(path, ctx)
  local chunk, err = loadfile(path, "t")
  if not chunk then errors.usage("hooks file %s", err) end
  local saved = loading
  loading = ctx
  local ok, ret = pcall(chunk, M)
  loading = saved
  if not ok then
    errors.raise{message = "hooks file " .. path .. ": " .. tostring(type(ret) == "table" and ret.message or ret),
                 exit_code = errors.EXIT.usage}
  end
  if type(ret) == "table" then
    local names = {}
    for name in pairs(ret) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
      local pok, perr = pcall(M.on, ctx or {}, name, ret[name])
      if not pok then
        errors.usage("hooks file %s: %s", path, type(perr) == "table" and perr.message or tostring(perr))
      end
      if not ctx then script_hooks[#script_hooks + 1] = {name = name, fn = ret[name]} end
    end
  elseif ret ~= nil then
    errors.usage("hooks file %s must return a table of hook functions, returned a %s", path, type(ret))
  end
end

-- Runs every hook of ctx registered under name. A hook's error becomes a workflow failure.
function M.run_hooks(ctx, name, ...)
  for _, fn in ipairs(hooks_of(ctx)[name] or {}) do
    local ok, err = pcall(fn, ctx, ...)
    if not ok then
      -- Ctrl-C inside a hook is an interruption, not a failing hook.
      if sys.interrupted() then error(err, 0) end
      if type(err) == "table" then
        err = type(err.message) == "string" and err.message or "(an error value with no message)"
      end
      local info = debug.getinfo(fn, "S")
      errors.raise{message = string.format("hook %s (%s:%d) failed: %s", name,
                   info.short_src, info.linedefined, tostring(err)),
                   exit_code = errors.EXIT.failed, reason = "HookFailed"}
    end
  end
end

return M
