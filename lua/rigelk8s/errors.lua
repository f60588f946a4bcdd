-- Structured errors shared by every module: {code, reason, message, exit_code, ...}.
-- The host prints `message` (via __tostring) and exits with `exit_code`, without a
-- traceback, because such an error is a diagnosis for the user, not a bug.
local M = {}

M.EXIT = {
  ok = 0,
  failed = 1,        -- rollout failed, diff found, workflow step failed
  usage = 2,         -- bad flags, bad Rigelfile, bad kubeconfig
  unreachable = 3,   -- cluster unreachable, TLS or auth failure
  timeout = 4,
  interrupted = 130,
}

local Error = {}
Error.__index = Error
Error.__name = "rigelk8s.Error"
Error.__tostring = function(e) return e.message or "error" end

-- new{message = ..., exit_code = ..., reason = ...}: returns an error value.
function M.new(fields)
  assert(type(fields) == "table" and fields.message, "errors.new needs a message")
  fields.exit_code = fields.exit_code or M.EXIT.failed
  return setmetatable(fields, Error)
end

-- raise{...}: raises a structured error (level-less: the message is the diagnosis).
function M.raise(fields) error(M.new(fields), 0) end

-- usage(fmt, ...): raises a usage/config error (exit 2).
function M.usage(fmt, ...)
  M.raise{message = string.format(fmt, ...), exit_code = M.EXIT.usage, reason = "Usage"}
end

function M.is(e) return getmetatable(e) == Error end

-- Turns any caught error value into a structured one, keeping its text.
function M.wrap(e, exit_code)
  if type(e) == "table" and e.message then
    if not M.is(e) then setmetatable(e, Error) end
    e.exit_code = e.exit_code or exit_code or M.EXIT.failed
    return e
  end
  return M.new{message = tostring(e), exit_code = exit_code or M.EXIT.failed}
end

return M
