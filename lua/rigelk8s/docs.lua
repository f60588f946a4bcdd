-- The man page rigelk8s(1) and the bash, zsh and fish completion scripts, generated from
-- the same tables as --help: cli.commands and each command's own cli.parse spec
-- (cli.command_list). `rigelk8s __man` and `rigelk8s completion SHELL` print them; the
-- build installs what they print.
local cli = require "rigelk8s.cli"
local core = require "rigelk8s"

local M = {}

-------------------------------------------------------------------------------------------
-- Man page
-------------------------------------------------------------------------------------------

-- Text for roff: backslashes and hyphens escaped, no line starting with a control character.
local function roff(text)
  text = text:gsub("\\", "\\e"):gsub("%-", "\\-")
  text = text:gsub("^([.'])", "\\&%1"):gsub("\n([.'])", "\n\\&%1")
  return (text:gsub("\n", "\n.br\n"))
end

function M.man()
  local out = {}
  local function add(fmt, ...) out[#out + 1] = select("#", ...) > 0 and fmt:format(...) or fmt end
  add('.TH RIGELK8S 1 "" "rigelk8s %s" "User Commands"', core.version)
  add(".SH NAME")
  add("rigelk8s \\- deploy ROS applications to Kubernetes from a Rigelfile")
  add(".SH SYNOPSIS")
  add(".B rigelk8s")
  add(".I COMMAND")
  add("[\\fIARGS\\fR...]")
  add(".SH DESCRIPTION")
  add("%s", roff("rigelk8s renders the orchestration job of a Rigelfile into Kubernetes objects " ..
                 "(a ROS master, the application, storage, observability), applies them with " ..
                 "server-side apply and follows the rollout until everything is Ready. The stock " ..
                 "workflows are Lua scripts compiled into the binary; `rigelk8s run FILE.lua` runs " ..
                 "your own."))
  add(".SH COMMANDS")
  for _, c in ipairs(cli.command_list()) do
    add(".SS %s", roff(c.name .. (c.args and (" " .. c.args) or "")))
    add("%s", roff(c.summary))
    if c.info.usage then
      add(".PP")
      add("Usage: \\fB%s\\fR", roff(c.info.usage))
    end
    if c.info.description then
      add(".PP")
      add("%s", roff(c.info.description))
    end
    if not c.builtin and not c.unlisted then
      add(".PP")
      add("Flags:")
      for _, e in ipairs(cli.flag_entries(c.spec)) do
        add(".TP")
        add("\\fB%s\\fR", roff(e.names))
        add("%s", roff(e.help))
      end
    end
  end
  add(".SH OPTIONS")
  for _, o in ipairs(cli.top_options) do
    add(".TP")
    add("\\fB%s\\fR", roff(o[1]))
    add("%s", roff(o.summary))
  end
  add(".SH ENVIRONMENT")
  for _, e in ipairs(cli.environment) do
    add(".TP")
    add("\\fB%s\\fR", roff(e[1]))
    add("%s", roff(e[2]))
  end
  add(".SH EXIT STATUS")
  for _, e in ipairs(cli.exit_codes) do
    add(".TP")
    add("\\fB%d\\fR", e[1])
    add("%s", roff(e[2]))
  end
  add(".SH SEE ALSO")
  add("\\fBkubectl\\fR(1), \\fBlua\\fR(1)")
  return table.concat(out, "\n") .. "\n"
end

-------------------------------------------------------------------------------------------
-- Completion: what each command accepts
-------------------------------------------------------------------------------------------

-- How the value of a flag is completed: "file", "dir", "contexts", "jobs", a list of
-- words (from a METAVAR such as "text|json"), or nil (free text).
local DYNAMIC = {context = "contexts", contexts = "contexts", job = "jobs"}
local FILES = {PATH = "file", FILE = "file", DIR = "file"}

local function value_kind(s)
  if not s.value then return nil end
  if DYNAMIC[s[1]] then return DYNAMIC[s[1]] end
  if FILES[s.value] then return "file" end
  if s.value:find("|", 1, true) then
    local words = {}
    for w in s.value:gmatch("[^|]+") do words[#words + 1] = w end
    return words
  end
  return nil
end

-- Positional arguments: sequence NAME, run FILE.lua, completion SHELL.
local POSITIONAL = {sequence = "sequences", run = "file", completion = {"bash", "zsh", "fish"}}

local function model()
  local cmds = {}
  for _, c in ipairs(cli.command_list()) do
    local flags = {}
    for _, s in ipairs(c.spec) do
      if not (s.help or ""):match("^%(internal%)") then
        flags[#flags + 1] = {short = s[2], long = s[3], help = s.help or "", value = s.value,
                             kind = value_kind(s)}
      end
    end
    if c.name ~= "run" then
      flags[#flags + 1] = {short = "-h", long = "--help", help = "show this help"}
    end
    cmds[#cmds + 1] = {name = c.name, summary = c.summary, flags = flags,
                       positional = POSITIONAL[c.name]}
  end
  return cmds
end

-------------------------------------------------------------------------------------------
-- bash
-------------------------------------------------------------------------------------------

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function bash_kind(kind)
  if type(kind) == "table" then return "words:" .. table.concat(kind, " ") end
  return kind or "none"
end

local function bash()
  local cmds = model()
  local out = {}
  local function add(s) out[#out + 1] = s end
  local names = {}
  for _, c in ipairs(cmds) do names[#names + 1] = c.name end
  add("# bash completion for rigelk8s " .. core.version .. ", generated by `rigelk8s completion bash`.")
  add("# Install: rigelk8s completion bash > ~/.local/share/bash-completion/completions/rigelk8s")
  add("# or: source <(rigelk8s completion bash)")
  add("")
  add("# Flags of a command, and how a flag's value is completed.")
  add("__rigelk8s_flags() {")
  add("  case \"$1\" in")
  for _, c in ipairs(cmds) do
    local list = {}
    for _, f in ipairs(c.flags) do
      if f.short then list[#list + 1] = f.short end
      list[#list + 1] = f.long
    end
    add(string.format("    %s) echo %s ;;", c.name, sh_quote(table.concat(list, " "))))
  end
  add("  esac")
  add("}")
  add("__rigelk8s_value_kind() {")
  add("  case \"$1 $2\" in")
  for _, c in ipairs(cmds) do
    for _, f in ipairs(c.flags) do
      if f.value then
        local pat = c.name .. "\\ " .. f.long
        if f.short then pat = pat .. "|" .. c.name .. "\\ " .. f.short end
        add(string.format("    %s) echo %s ;;", pat, sh_quote(bash_kind(f.kind))))
      end
    end
  end
  add("    *) echo flag ;;")
  add("  esac")
  add("}")
  add("__rigelk8s_positional() {")
  add("  case \"$1\" in")
  for _, c in ipairs(cmds) do
    if c.positional then add(string.format("    %s) echo %s ;;", c.name, sh_quote(bash_kind(c.positional)))) end
  end
  add("    *) echo none ;;")
  add("  esac")
  add("}")
  add([==[
# The value of flag $1 (or $2) given earlier on the command line, e.g. -f FILE.
__rigelk8s_flag_value() {
  local i w
  for ((i = 2; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    if [[ $w == "$1" || $w == "$2" ]]; then
      if [[ ${COMP_WORDS[i+1]} == "=" ]]; then echo "${COMP_WORDS[i+2]}"; else echo "${COMP_WORDS[i+1]}"; fi
      return
    fi
  done
}

# Names read at completion time by rigelk8s itself: kubeconfig contexts, Rigelfile jobs
# and sequences.
__rigelk8s_dynamic() {
  local bin=${COMP_WORDS[0]} what=$1 value args=()
  case $what in
    contexts)
      value=$(__rigelk8s_flag_value --kubeconfig)
      [[ -n $value ]] && args=(--kubeconfig "$value") ;;
    jobs|sequences)
      value=$(__rigelk8s_flag_value -f --file)
      [[ -n $value ]] && args=(--file "$value") ;;
  esac
  "$bin" __complete "$what" "${args[@]}" 2>/dev/null
}

__rigelk8s_complete_kind() {
  local kind=$1 cur=$2 IFS=$'\n'
  case $kind in
    file) COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null ;;
    contexts|jobs|sequences) COMPREPLY=($(compgen -W "$(__rigelk8s_dynamic "$kind")" -- "$cur")) ;;
    words:*) IFS=$' \t\n'; COMPREPLY=($(compgen -W "${kind#words:}" -- "$cur")) ;;
    *) COMPREPLY=() ;;
  esac
}

# bash splits words at ':' too (COMP_WORDBREAKS), so a context named
# arn:aws:eks:...:cluster/robot arrives in pieces. _rigelk8s joins them back into cur,
# completes the whole name, then hands bash only what follows the last ':' (what bash
# will replace), as bash-completion's __ltrim_colon_completions does.
__rigelk8s_ltrim_colon() {
  local pre k
  if [[ $1 == *:* && $COMP_WORDBREAKS == *:* ]]; then
    pre=${1%"${1##*:}"}
    for k in "${!COMPREPLY[@]}"; do COMPREPLY[k]=${COMPREPLY[k]#"$pre"}; done
  fi
}

_rigelk8s() {
  local i=$COMP_CWORD cur=${COMP_WORDS[COMP_CWORD]} prev cmd kind
  while ((i > 2)) && [[ ${COMP_WORDS[i]} == ":" || ${COMP_WORDS[i-1]} == ":" ]]; do
    ((i--))
    cur=${COMP_WORDS[i]}$cur
  done
  prev=${COMP_WORDS[i-1]}
  COMPREPLY=()
  if ((COMP_CWORD == 1)); then
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "--help --version" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "]==] .. table.concat(names, " ") .. [==[" -- "$cur"))
    fi
    return 0
  fi
  cmd=${COMP_WORDS[1]}
  # --flag=value: bash splits it into "--flag" "=" "value" (= is in COMP_WORDBREAKS).
  if [[ $cur == "=" ]]; then
    cur=""
  elif [[ $prev == "=" ]]; then
    prev=${COMP_WORDS[i-2]}
  fi
  if [[ $prev == -* ]]; then
    kind=$(__rigelk8s_value_kind "$cmd" "$prev")
    if [[ $kind != flag ]]; then
      __rigelk8s_complete_kind "$kind" "$cur"
      __rigelk8s_ltrim_colon "$cur"
      return 0
    fi
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(__rigelk8s_flags "$cmd")" -- "$cur"))
    return 0
  fi
  __rigelk8s_complete_kind "$(__rigelk8s_positional "$cmd")" "$cur"
  return 0
}
complete -F _rigelk8s rigelk8s]==])
  return table.concat(out, "\n") .. "\n"
end

-------------------------------------------------------------------------------------------
-- zsh
-------------------------------------------------------------------------------------------

-- Text inside an _arguments description: brackets and colons escaped, single quotes
-- closed and reopened.
local function zsh_desc(s)
  return (s:gsub("[%[%]:\\]", "\\%0"):gsub("'", "'\\''"))
end

local function zsh_action(kind)
  if kind == "file" then return "_files" end
  if kind == "contexts" or kind == "jobs" or kind == "sequences" then return "__rigelk8s_" .. kind end
  if type(kind) == "table" then return "(" .. table.concat(kind, " ") .. ")" end
  return " "
end

local function zsh()
  local cmds = model()
  local out = {}
  local function add(s) out[#out + 1] = s end
  add("#compdef rigelk8s")
  add("# zsh completion for rigelk8s " .. core.version .. ", generated by `rigelk8s completion zsh`.")
  add("# Install: rigelk8s completion zsh > \"${fpath[1]}/_rigelk8s\", or: source <(rigelk8s completion zsh)")
  add([==[

# The value of a flag given earlier on the command line (-f FILE, --kubeconfig PATH).
__rigelk8s_flag_value() {
  local i
  for ((i = 2; i < ${#words}; i++)); do
    case ${words[i]} in
      ($1|$2) print -r -- ${words[i+1]}; return ;;
      ($1=*) print -r -- ${words[i]#*=}; return ;;
    esac
  done
}
__rigelk8s_contexts() {
  local kc=$(__rigelk8s_flag_value --kubeconfig)
  local -a names; names=(${(f)"$(_call_program contexts $words[1] __complete contexts ${kc:+--kubeconfig $kc} 2>/dev/null)"})
  _describe -t contexts 'kubeconfig context' names
}
__rigelk8s_jobs() {
  local f=$(__rigelk8s_flag_value -f --file)
  local -a names; names=(${(f)"$(_call_program jobs $words[1] __complete jobs ${f:+--file $f} 2>/dev/null)"})
  _describe -t jobs 'orchestration job' names
}
__rigelk8s_sequences() {
  local f=$(__rigelk8s_flag_value -f --file)
  local -a names; names=(${(f)"$(_call_program sequences $words[1] __complete sequences ${f:+--file $f} 2>/dev/null)"})
  _describe -t sequences 'sequence' names
}

_rigelk8s() {
  if (( CURRENT == 2 )); then
    local -a commands
    commands=(]==])
  for _, c in ipairs(cmds) do add(string.format("      '%s:%s'", c.name, zsh_desc(c.summary))) end
  add("    )")
  add("    _describe -t commands 'rigelk8s command' commands")
  add("    _arguments '--help[print the help]' '--version[print the version]'")
  add("    return")
  add("  fi")
  add("  case ${words[2]} in")
  for _, c in ipairs(cmds) do
    add(string.format("    (%s)", c.name))
    local specs = {}
    for _, f in ipairs(c.flags) do
      local desc = "[" .. zsh_desc(f.help) .. "]"
      local value = f.value and (":" .. zsh_desc(f.value) .. ":" .. zsh_action(f.kind)) or ""
      if f.short then
        specs[#specs + 1] = string.format("'(%s %s)'{%s,%s}'%s%s'", f.short, f.long, f.short, f.long, desc, value)
      else
        local eq = f.value and "=" or ""
        specs[#specs + 1] = string.format("'%s%s%s%s'", f.long, eq, desc, value)
      end
    end
    if c.positional then
      specs[#specs + 1] = string.format("'1:%s:%s'", c.name == "run" and "script" or "argument",
                                        zsh_action(c.positional))
    end
    if c.name == "run" then specs[#specs + 1] = "'*::script arguments:_files'" end
    add("      words=(${words[1]} ${words[3,-1]}); (( CURRENT-- ))")
    add("      _arguments -s \\")
    for i, s in ipairs(specs) do add("        " .. s .. (i < #specs and " \\" or "")) end
    if #specs == 0 then add("        ''") end
    add("      ;;")
  end
  add("  esac")
  add("}")
  add("")
  add('if [[ $funcstack[1] == _rigelk8s ]]; then _rigelk8s "$@"; else compdef _rigelk8s rigelk8s; fi')
  return table.concat(out, "\n") .. "\n"
end

-------------------------------------------------------------------------------------------
-- fish
-------------------------------------------------------------------------------------------

local function fish_quote(s) return "'" .. s:gsub("\\", "\\\\"):gsub("'", "\\'") .. "'" end

local function fish()
  local cmds = model()
  local out = {}
  local function add(s) out[#out + 1] = s end
  local names = {}
  for _, c in ipairs(cmds) do names[#names + 1] = c.name end
  add("# fish completion for rigelk8s " .. core.version .. ", generated by `rigelk8s completion fish`.")
  add("# Install: rigelk8s completion fish > ~/.config/fish/completions/rigelk8s.fish")
  add([==[

# The value of a flag given earlier on the command line (-f FILE, --kubeconfig PATH).
function __rigelk8s_flag_value
    set -l words (commandline -opc)
    for i in (seq 2 (count $words))
        if contains -- $words[$i] $argv
            set -l j (math $i + 1)
            if test $j -le (count $words)
                echo $words[$j]
            end
            return
        end
        for f in $argv
            if string match -q -- "$f=*" $words[$i]
                string replace -- "$f=" "" $words[$i]
                return
            end
        end
    end
end
function __rigelk8s_dynamic
    set -l bin (commandline -opc)[1]
    switch $argv[1]
        case contexts
            set -l kc (__rigelk8s_flag_value --kubeconfig)
            if test -n "$kc"
                $bin __complete contexts --kubeconfig $kc 2>/dev/null
            else
                $bin __complete contexts 2>/dev/null
            end
        case jobs sequences
            set -l f (__rigelk8s_flag_value -f --file)
            if test -n "$f"
                $bin __complete $argv[1] --file $f 2>/dev/null
            else
                $bin __complete $argv[1] 2>/dev/null
            end
    end
end
]==])
  add("set -l __rigelk8s_commands " .. table.concat(names, " "))
  add("complete -c rigelk8s -f")
  add("complete -c rigelk8s -n \"not __fish_seen_subcommand_from $__rigelk8s_commands\" -l help -d 'print the help'")
  add("complete -c rigelk8s -n \"not __fish_seen_subcommand_from $__rigelk8s_commands\" -l version -d 'print the version'")
  for _, c in ipairs(cmds) do
    add(string.format("complete -c rigelk8s -n \"not __fish_seen_subcommand_from $__rigelk8s_commands\" -a %s -d %s",
                      c.name, fish_quote(c.summary)))
  end
  for _, c in ipairs(cmds) do
    local cond = "-n '__fish_seen_subcommand_from " .. c.name .. "'"
    for _, f in ipairs(c.flags) do
      local parts = {"complete -c rigelk8s", cond}
      if f.short then parts[#parts + 1] = "-s " .. f.short:sub(2) end
      parts[#parts + 1] = "-l " .. f.long:sub(3)
      if f.kind == "file" then
        parts[#parts + 1] = "-r -F"
      elseif f.kind == "contexts" or f.kind == "jobs" then
        parts[#parts + 1] = "-x -a '(__rigelk8s_dynamic " .. f.kind .. ")'"
      elseif type(f.kind) == "table" then
        parts[#parts + 1] = "-x -a " .. fish_quote(table.concat(f.kind, " "))
      elseif f.value then
        parts[#parts + 1] = "-x"
      end
      parts[#parts + 1] = "-d " .. fish_quote(f.help)
      add(table.concat(parts, " "))
    end
    local p = c.positional
    if p == "file" then
      add(string.format("complete -c rigelk8s %s -F", cond))
    elseif p == "sequences" then
      add(string.format("complete -c rigelk8s %s -x -a '(__rigelk8s_dynamic sequences)'", cond))
    elseif type(p) == "table" then
      add(string.format("complete -c rigelk8s %s -x -a %s", cond, fish_quote(table.concat(p, " "))))
    end
  end
  return table.concat(out, "\n") .. "\n"
end

M.SHELLS = {bash = bash, zsh = zsh, fish = fish}

function M.completion(shell)
  local gen = M.SHELLS[shell]
  return gen and gen()
end

return M
