-- Live progress for waits: one line per object, updated in place on a terminal, or
-- plain timestamped lines (only when something changed) everywhere else.
--
--   local p = progress.new{stream = io.stderr, tty = nil (auto), color = nil (auto),
--                          no_color = false, quiet = false, start = sys.now()}
--   p:update(rows)   -- rows: list of {name=, state=, message=, short=}
--   p:finish()       -- leaves the last picture on screen
--   p:say(fmt, ...)  -- a line of narrative
--
-- On a terminal a row reads `✓ deploy/rigel-k8s-application  1/2 updated, 1 available  12s`
-- (row.short, cut to the terminal's width); in logs it is kubectl's full sentence
-- (row.message), printed only when it changes. Colours only on a terminal, never with
-- --no-color or NO_COLOR set (https://no-color.org).
local sys = require "rigelk8s.sys"

local M = {}
local P = {}
P.__index = P

local COLORS = {ready = "\27[32m", progressing = "\27[33m", failed = "\27[31m"}
local RESET = "\27[0m"
local SYMBOL = {ready = "✓", progressing = "…", failed = "✗"}

-- kubectl's short names keep terminal lines narrow.
local SHORT_KIND = {Deployment = "deploy", StatefulSet = "sts", DaemonSet = "ds", Job = "job",
                    PersistentVolumeClaim = "pvc", Pod = "pod", Service = "svc",
                    ReplicaSet = "rs", Namespace = "ns", ConfigMap = "cm"}

function M.short_name(r)
  if r.kind and r.object then return (SHORT_KIND[r.kind] or r.kind:lower()) .. "/" .. r.object end
  return r.name or "?"
end

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
  local color = opts.color
  if color == nil then color = tty and M.color_enabled(opts) end
  local self = setmetatable({
    stream = opts.stream or io.stderr,
    tty = tty,
    color = color,
    start = opts.start or sys.now(),
    lines = 0,
    last = {},
    quiet = opts.quiet,
  }, P)
  return self
end

local function elapsed(self) return string.format("%ds", math.floor(sys.now() - self.start)) end

-- Cuts text to at most n characters (UTF-8 aware), marking the cut with "…".
local function fit(text, n)
  local len = utf8.len(text) or #text
  if len <= n then return text end
  if n <= 1 then return "" end
  return text:sub(1, (utf8.offset(text, n) or (n + 1)) - 1) .. "…"
end
M.fit = fit

function P:_tty_line(r, name_width, width)
  local state = r.state or "progressing"
  local tail = "  " .. elapsed(self)
  local text = string.format("%s %-" .. name_width .. "s  %s", SYMBOL[state] or "?", M.short_name(r),
                             r.short or r.message or state)
  text = fit(text, width - #tail - 1) .. tail
  if self.color then text = (COLORS[state] or "") .. text .. RESET end
  return text
end

function P:update(rows)
  if self.quiet then return end
  if self.tty then
    local out = {}
    if self.lines > 0 then out[#out + 1] = string.format("\27[%dA", self.lines) end
    local width = sys.term_width() or 80
    local name_width = 0
    for _, r in ipairs(rows) do name_width = math.max(name_width, utf8.len(M.short_name(r)) or 0) end
    name_width = math.min(name_width, math.max(width // 2, 10))
    for _, r in ipairs(rows) do
      out[#out + 1] = "\r\27[2K" .. self:_tty_line(r, name_width, width) .. "\n"
    end
    self.lines = #rows
    out[#out + 1] = "\27[J" -- a shorter table than the last one leaves no stale rows
    self.stream:write(table.concat(out))
    self.stream:flush()
  else
    for _, r in ipairs(rows) do
      local key = (r.state or "") .. "|" .. (r.message or "")
      if self.last[r.name] ~= key then
        self.last[r.name] = key
        self.stream:write(string.format("%s %-13s %s: %s\n", os.date("!%H:%M:%S"),
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
