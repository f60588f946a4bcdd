-- The hand-made backtracking engine regex_replace used before PCRE2 (core/lua_regex.c),
-- kept only as the reference bench/regex_bench.lua measures against.
-- A Python `re` subset for the templates' regex_replace filter, matched by a small
-- backtracking engine. Loaded only when a template uses regex_replace.
--
--   regex.sub(pattern, repl, s [, budget])  Python's re.sub(pattern, repl, s); budget
--                                   ({steps = 0}) shares the step limit across calls
--   regex.compile(pattern)          raises {message=...} (metatable regex.Error) on bad
--                                   or unsupported syntax
--   regex.find(re, s, init)         first match: start, end (exclusive), captures
--
-- Supported: literals, `.`, `[...]` / `[^...]` with ranges, `\d \w \s \D \W \S`, escapes
-- `\.` etc., `*  +  ?  {m}  {m,}  {m,n}` and their lazy forms (`*?` ...), groups `( )`,
-- `(?: )`, alternation `|`, anchors `^ $ \A \Z \b \B`. Replacement: `\1`..`\99`, `\g<1>`,
-- `\\`, `\n`, `\t`; `$1` is literal text, as in Python. Empty matches follow Python 3.7+.
-- Not supported (an error that says so): lookaround, named groups, inline flags,
-- back-references in the pattern, possessive quantifiers.

local regex = {}

local RegexError = {}
regex.Error = RegexError
local function rx_fail(pattern, pos, what)
  error(setmetatable({message = string.format("regex '%s' at position %d: %s",
                                                pattern, pos, what)}, RegexError), 0)
end

-- A backtracking engine takes exponential time on nested repeats ('(a+)+b', '(a|a)*c').
-- Matching has a step budget, not a clock: regex.sub calls sharing a budget (the
-- templates of one file) may take this many steps (about 0.3 s of Lua), then stop with an
-- error instead of hanging the deploy. Real templates take a few hundred steps.
local MAX_STEPS = 1000000
regex.MAX_STEPS = MAX_STEPS

local function too_complex(st)
  error(setmetatable({message = string.format(
    "regex '%s' on a %d-byte text: gave up after %d backtracking steps; a repeat inside a " ..
    "repeat ('(a+)+', '(a|b*)*') backtracks exponentially: rewrite it with a single repeat",
    st.pattern, st.n, MAX_STEPS)}, RegexError), 0)
end

local function is_word(b) return b and (b == 95 or (b >= 48 and b <= 57) or
                                        (b >= 65 and b <= 90) or (b >= 97 and b <= 122)) end
local function is_digit(b) return b >= 48 and b <= 57 end
local function is_space(b) return b == 32 or (b >= 9 and b <= 13) end

local class_escapes = {
  d = is_digit, w = is_word, s = is_space,
  D = function(b) return not is_digit(b) end,
  W = function(b) return not is_word(b) end,
  S = function(b) return not is_space(b) end,
}
local literal_escapes = {n = 10, t = 9, r = 13, f = 12, v = 11, a = 7, ["0"] = 0}

-- Parser: pattern text -> node tree. Nodes: {t="set", pred}, {t="seq", ...},
-- {t="alt", ...}, {t="group", n, node}, {t="rep", node, min, max, lazy}, {t="assert", kind}.
local function parse_regex(p)
  local pos, ngroups = 1, 0
  local parse_alt

  local function peek() return p:sub(pos, pos) end

  local function parse_class()
    local start = pos
    pos = pos + 1 -- '['
    local negate = false
    if peek() == "^" then negate = true; pos = pos + 1 end
    local items = {}
    local first = true
    while true do
      local c = peek()
      if c == "" then rx_fail(p, start, "unterminated character class '['; close it with ']'") end
      if c == "]" and not first then pos = pos + 1; break end
      first = false
      local lo
      if c == "\\" then
        local e = p:sub(pos + 1, pos + 1)
        pos = pos + 2
        if class_escapes[e] then
          items[#items + 1] = class_escapes[e]
        elseif literal_escapes[e] then
          lo = literal_escapes[e]
        elseif e:match("%a") then
          rx_fail(p, pos - 2, "unsupported escape '\\" .. e .. "' in a character class")
        else
          lo = e:byte()
        end
      else
        lo = c:byte()
        pos = pos + 1
      end
      if lo then
        if peek() == "-" and p:sub(pos + 1, pos + 1) ~= "]" and p:sub(pos + 1, pos + 1) ~= "" then
          pos = pos + 1
          local hc = peek()
          local hi
          if hc == "\\" then
            local e = p:sub(pos + 1, pos + 1)
            if e == "" then rx_fail(p, start, "unterminated character class '['; close it with ']'") end
            if class_escapes[e] or (e:match("%a") and not literal_escapes[e]) then
              rx_fail(p, pos, "bad range end '\\" .. e .. "'")
            end
            hi = literal_escapes[e] or e:byte()
            pos = pos + 2
          else
            hi = hc:byte()
            pos = pos + 1
          end
          if hi < lo then rx_fail(p, pos - 1, "bad range " .. string.char(lo) .. "-" .. string.char(hi)) end
          local a, b = lo, hi
          items[#items + 1] = function(x) return x >= a and x <= b end
        else
          local a = lo
          items[#items + 1] = function(x) return x == a end
        end
      end
    end
    local n = #items
    return {t = "set", pred = function(b)
      local hit = false
      for i = 1, n do if items[i](b) then hit = true; break end end
      return hit ~= negate
    end}
  end

  local function parse_atom()
    local c = peek()
    if c == "(" then
      local start = pos
      pos = pos + 1
      local capture = true
      if peek() == "?" then
        local ext = p:sub(pos, pos + 2)
        if p:sub(pos, pos + 1) == "?:" then
          capture = false
          pos = pos + 2
        elseif ext == "?<=" or ext == "?<!" or p:sub(pos, pos + 1) == "?=" or p:sub(pos, pos + 1) == "?!" then
          rx_fail(p, start, "lookaround '(" .. (ext:sub(1, 2) == "?<" and ext or ext:sub(1, 2)) ..
                            "' is not supported; match the text and put it back with a group, e.g. '(x)y' -> '\\1'")
        elseif p:sub(pos, pos + 1) == "?P" or ext == "?<" .. ext:sub(3, 3) then
          rx_fail(p, start, "named groups are not supported; use a plain group '(...)' and \\1")
        else
          rx_fail(p, start, "'(" .. p:sub(pos, pos + 1) .. "' (inline flags or extensions) is not supported")
        end
      end
      local n
      if capture then ngroups = ngroups + 1; n = ngroups end
      local inner = parse_alt()
      if peek() ~= ")" then rx_fail(p, start, "missing ')' for this '('") end
      pos = pos + 1
      if capture then return {t = "group", n = n, node = inner} end
      return inner
    elseif c == "[" then
      return parse_class()
    elseif c == "." then
      pos = pos + 1
      return {t = "set", pred = function(b) return b ~= 10 end}
    elseif c == "^" then
      pos = pos + 1
      return {t = "assert", kind = "bol"}
    elseif c == "$" then
      pos = pos + 1
      return {t = "assert", kind = "eol"}
    elseif c == "\\" then
      local e = p:sub(pos + 1, pos + 1)
      if e == "" then rx_fail(p, pos, "pattern ends with a lone '\\'") end
      pos = pos + 2
      if class_escapes[e] then return {t = "set", pred = class_escapes[e]} end
      if e == "b" or e == "B" or e == "A" or e == "Z" then return {t = "assert", kind = e} end
      if literal_escapes[e] then
        local v = literal_escapes[e]
        return {t = "set", pred = function(b) return b == v end, lit = v}
      end
      if e:match("%d") then
        rx_fail(p, pos - 2, "back-references ('\\" .. e .. "') are not supported in a pattern")
      end
      if e:match("%a") then rx_fail(p, pos - 2, "unsupported escape '\\" .. e .. "'") end
      local v = e:byte()
      return {t = "set", pred = function(b) return b == v end, lit = v}
    elseif c == "*" or c == "+" or c == "?" then
      rx_fail(p, pos, "nothing to repeat before '" .. c .. "'; escape it as '\\" .. c .. "'")
    else
      pos = pos + 1
      local v = c:byte()
      return {t = "set", pred = function(b) return b == v end, lit = v}
    end
  end

  local function parse_quant(atom)
    while true do
      local c = peek()
      local min, max
      local qstart = pos
      if c == "*" then min, max = 0, math.huge; pos = pos + 1
      elseif c == "+" then min, max = 1, math.huge; pos = pos + 1
      elseif c == "?" then min, max = 0, 1; pos = pos + 1
      elseif c == "{" then
        local a, b, e = p:match("^{(%d*),?(%d*)}()", pos)
        local whole = p:match("^{%d*,?%d*}", pos)
        if not whole or (a == "" and not whole:find(",")) or whole == "{,}" then
          return atom -- Python treats such a '{' as a literal
        end
        if a == "" then a = "0" end
        min = tonumber(a)
        max = whole:find(",") and (b == "" and math.huge or tonumber(b)) or min
        if max < min then rx_fail(p, qstart, "bad repeat range " .. whole) end
        pos = e
      else
        return atom
      end
      if atom.t == "assert" then rx_fail(p, qstart, "nothing to repeat before '" .. c .. "'") end
      local lazy = false
      if peek() == "?" then lazy = true; pos = pos + 1
      elseif peek() == "+" then
        rx_fail(p, pos, "possessive quantifiers are not supported; drop the '+'")
      end
      atom = {t = "rep", node = atom, min = min, max = max, lazy = lazy}
    end
  end

  local function parse_seq()
    local seq = {t = "seq"}
    while true do
      local c = peek()
      if c == "" or c == "|" or c == ")" then break end
      seq[#seq + 1] = parse_quant(parse_atom())
    end
    return seq
  end

  function parse_alt()
    local first = parse_seq()
    if peek() ~= "|" then return first end
    local alt = {t = "alt", first}
    while peek() == "|" do
      pos = pos + 1
      alt[#alt + 1] = parse_seq()
    end
    return alt
  end

  local tree = parse_alt()
  if pos <= #p then rx_fail(p, pos, "unbalanced ')'; escape it as '\\)'") end
  return tree, ngroups
end

-- Compiler: node -> function(st, i, k) returning the end of the whole match or nil.
-- st = {s = subject, n = #subject, caps = {}}; k(j) continues after this node.
local compile

local function compile_rep(node)
  local inner_node, min, max, lazy = node.node, node.min, node.max, node.lazy
  if inner_node.t == "set" then
    -- A single-character repeat: count the run once, then backtrack over it.
    local pred = inner_node.pred
    return function(st, i, k)
      local s, n = st.s, st.n
      local count = 0
      while count < max and i + count <= n and pred(s:byte(i + count)) do count = count + 1 end
      if count < min then return nil end
      local steps = st.steps + count - min + 1
      st.steps = steps
      if steps > MAX_STEPS then too_complex(st) end
      if lazy then
        for c = min, count do
          local r = k(i + c)
          if r then return r end
        end
      else
        for c = count, min, -1 do
          local r = k(i + c)
          if r then return r end
        end
      end
      return nil
    end
  end
  local inner = compile(inner_node)
  local function try(st, i, count, k)
    local steps = st.steps + 1
    st.steps = steps
    if steps > MAX_STEPS then too_complex(st) end
    if lazy and count >= min then
      local r = k(i)
      if r then return r end
    end
    if count < max then
      local r = inner(st, i, function(j)
        if j == i and count >= min then return nil end -- an empty iteration cannot loop
        return try(st, j, count + 1, k)
      end)
      if r then return r end
    end
    if not lazy and count >= min then return k(i) end
    return nil
  end
  return function(st, i, k) return try(st, i, 0, k) end
end

function compile(node)
  local t = node.t
  if t == "set" then
    local pred = node.pred
    return function(st, i, k)
      local steps = st.steps + 1
      st.steps = steps
      if steps > MAX_STEPS then too_complex(st) end
      if i <= st.n and pred(st.s:byte(i)) then return k(i + 1) end
      return nil
    end
  elseif t == "seq" then
    local parts = {}
    for idx, sub in ipairs(node) do parts[idx] = compile(sub) end
    local n = #parts
    if n == 0 then return function(_, i, k) return k(i) end end
    local function step(st, idx, i, k)
      if idx > n then return k(i) end
      return parts[idx](st, i, function(j) return step(st, idx + 1, j, k) end)
    end
    return function(st, i, k) return step(st, 1, i, k) end
  elseif t == "alt" then
    local branches = {}
    for idx, sub in ipairs(node) do branches[idx] = compile(sub) end
    return function(st, i, k)
      local steps = st.steps + 1
      st.steps = steps
      if steps > MAX_STEPS then too_complex(st) end
      for _, b in ipairs(branches) do
        local r = b(st, i, k)
        if r then return r end
      end
      return nil
    end
  elseif t == "group" then
    local inner, a, b = compile(node.node), 2 * node.n - 1, 2 * node.n
    return function(st, i, k)
      local caps = st.caps
      return inner(st, i, function(j)
        local old_a, old_b = caps[a], caps[b]
        caps[a], caps[b] = i, j
        local r = k(j)
        if not r then caps[a], caps[b] = old_a, old_b end
        return r
      end)
    end
  elseif t == "rep" then
    return compile_rep(node)
  elseif t == "assert" then
    local kind = node.kind
    return function(st, i, k)
      local s, n = st.s, st.n
      local ok
      if kind == "bol" or kind == "A" then ok = i == 1
      elseif kind == "eol" then ok = i == n + 1 or (i == n and s:byte(n) == 10)
      elseif kind == "Z" then ok = i == n + 1
      else
        local boundary = (is_word(s:byte(i - 1)) or false) ~= (is_word(s:byte(i)) or false)
        if i == 1 then boundary = is_word(s:byte(1)) or false end
        ok = (kind == "b") == boundary
      end
      if ok then return k(i) end
      return nil
    end
  end
  error("regex: unknown node " .. tostring(t))
end

local regex_cache = {}

-- regex.compile(pattern): returns a compiled regex, or raises {message=...} on syntax it
-- does not support.
function regex.compile(pattern)
  local cached = regex_cache[pattern]
  if cached then return cached end
  local tree, ngroups = parse_regex(pattern)
  local re = {pattern = pattern, groups = ngroups, match_at = compile(tree)}
  regex_cache[pattern] = re
  return re
end

local function finish(j) return j end

-- st: the subject and the steps taken so far (shared by every search of one regex.sub).
local function new_state(re, s, steps)
  return {s = s, n = #s, caps = {}, steps = steps or 0, pattern = re.pattern}
end

local function find_from(re, st, init)
  for i = init or 1, st.n + 1 do
    st.caps = {}
    local j = re.match_at(st, i, finish)
    if j then return i, j, st.caps end
  end
  return nil
end

-- Finds the first match at or after `init`: returns start, end (exclusive), caps.
function regex.find(re, s, init)
  return find_from(re, new_state(re, s), init)
end

local function expand_replacement(re, repl, s, i, j, caps)
  local out = {}
  local pos = 1
  while pos <= #repl do
    local bs = repl:find("\\", pos, true)
    if not bs then out[#out + 1] = repl:sub(pos); break end
    out[#out + 1] = repl:sub(pos, bs - 1)
    local c = repl:sub(bs + 1, bs + 1)
    local group, after
    if c:match("%d") then
      local digits = repl:match("^%d%d?", bs + 1)
      group, after = tonumber(digits), bs + 1 + #digits
    elseif c == "g" then
      local name, e = repl:match("^g<(%d+)>()", bs + 1)
      if not name then
        rx_fail(re.pattern, 1, "bad group reference in replacement '" .. repl .. "' (use \\g<1>)")
      end
      group, after = tonumber(name), e
    elseif c == "\\" then
      out[#out + 1] = "\\"; pos = bs + 2
    elseif literal_escapes[c] and c ~= "0" then
      out[#out + 1] = string.char(literal_escapes[c]); pos = bs + 2
    elseif c:match("%a") then
      rx_fail(re.pattern, 1, "bad escape '\\" .. c .. "' in replacement '" .. repl .. "'")
    else
      out[#out + 1] = "\\" .. c; pos = bs + 2
    end
    if group then
      if group == 0 then
        out[#out + 1] = s:sub(i, j - 1)
      elseif group > re.groups then
        rx_fail(re.pattern, 1, string.format(
          "replacement '%s' refers to group %d but the pattern has %d group(s)", repl, group, re.groups))
      else
        local a, b = caps[2 * group - 1], caps[2 * group]
        if a then out[#out + 1] = s:sub(a, b - 1) end
      end
      pos = after
    end
  end
  return table.concat(out)
end

local function sub(pattern, repl, s, budget)
  local re = regex.compile(pattern)
  local out, last, init = {}, 1, 1
  local n = #s
  local st = new_state(re, s, budget.steps)
  while init <= n + 1 do
    local i, j, caps = find_from(re, st, init)
    if not i then break end
    out[#out + 1] = s:sub(last, i - 1)
    out[#out + 1] = expand_replacement(re, repl, s, i, j, caps)
    last = j
    if j == i then
      -- An empty match: copy one character and search on from the next one.
      if i <= n then out[#out + 1] = s:sub(i, i) end
      last = i + 1
      init = i + 1
    else
      init = j
    end
  end
  if last <= n then out[#out + 1] = s:sub(last) end
  budget.steps = st.steps
  return table.concat(out)
end

-- regex.sub(pattern, repl, s): Python's re.sub(pattern, repl, s) for the supported subset.
-- The matcher recurses once per character of a repeat: a Lua stack overflow on a huge
-- text or pattern is reported as a regex error too, not as a crash of the renderer.
function regex.sub(pattern, repl, s, budget)
  local ok, res = pcall(sub, pattern, repl, s, budget or {steps = 0})
  if ok then return res end
  if getmetatable(res) ~= RegexError and tostring(res):find("stack overflow", 1, true) then
    error(setmetatable({message = string.format(
      "regex '%s' recurses too deeply on a %d-byte text; match a shorter text or use a " ..
      "simpler pattern", pattern, #s)}, RegexError), 0)
  end
  error(res, 0)
end

return regex
