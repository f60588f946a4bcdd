-- Live progress for waits: one line per object, updated in place on a terminal, or
-- plain timestamped lines (only when something changed) everywhere else.
--
--   local p = progress.new{stream = io.stderr, tty = nil (auto), color = nil (auto)}
--   p:update(rows)   -- rows: list of {name=, state=, message=}
--   p:finish()       -- leaves the last picture on screen
local sys = require "rigelk8s.sys"

local M = {}
local P = {}
P.__index = P

local COLORS = {ready = "\27[32m", progressing = "\27[33m", failed = "\27[31m"}
local RESET = "\27[0m"
local SYMBOL = {ready = "✓", progressing = "…", failed = "✗"}

function M.color_enabled(opts)
  if opts and opts.no_color then return false end
  local nc = os.getenv("NO_COLOR")
  if nc and nc ~= "" then return false end
  return sys.isatty(2)
end

function M.new(opts)
  opts = opts or {}
  local tty = opts.tty
  if tty == nil then tty = sys.isatty(2) end
  local self = setmetatable({
    stream = opts.stream or io.stderr,
    tty = tty,
    color = opts.color == nil and M.color_enabled(opts) or opts.color,
    start = opts.start or sys.now(),
    lines = 0,
    last = {},
    quiet = opts.quiet,
  }, P)
  return self
end

local function elapsed(self) return string.format("%ds", math.floor(sys.now() - self.start)) end

function P:_row(r)
  local state = r.state or "progressing"
  local sym = SYMBOL[state] or "?"
  local text = string.format("%s %-32s %s", sym, r.name, r.message or state)
  if self.color then text = (COLORS[state] or "") .. text .. RESET end
  return text
end

function P:update(rows)
  if self.quiet then return end
  if self.tty then
    local out = {}
    if self.lines > 0 then out[#out + 1] = string.format("\27[%dA", self.lines) end
    local width = sys.term_width() or 120
    for _, r in ipairs(rows) do
      local line = self:_row(r)
      local plain = r.name .. "  " .. (r.message or "")
      if #plain + 4 > width and not self.color then line = line:sub(1, width - 1) end
      out[#out + 1] = "\27[2K" .. line .. "  " .. elapsed(self) .. "\n"
    end
    self.lines = #rows
    self.stream:write(table.concat(out))
    self.stream:flush()
  else
    for _, r in ipairs(rows) do
      local key = (r.state or "") .. "|" .. (r.message or "")
      if self.last[r.name] ~= key then
        self.last[r.name] = key
        self.stream:write(string.format("%s %-11s %s: %s\n", os.date("!%H:%M:%S"),
          "[" .. (r.state or "?") .. "]", r.name, r.message or ""))
      end
    end
    self.stream:flush()
  end
end

function P:finish() self.lines = 0 end

-- A line of narrative ("applied 5 objects"), kept apart from the live table.
function P:say(fmt, ...)
  if self.quiet then return end
  local msg = select("#", ...) > 0 and string.format(fmt, ...) or fmt
  if self.tty then
    self.stream:write(msg .. "\n")
    self.lines = 0
  else
    self.stream:write(os.date("!%H:%M:%S") .. " " .. msg .. "\n")
  end
  self.stream:flush()
end

return M
