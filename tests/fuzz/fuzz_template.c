/* The Rigelfile template renderer (lua/rigelk8s/template.lua, and PCRE2 behind
 * regex_replace: core/lua_regex.c), run in a Lua state set up as the rigelk8s host sets it up: the
 * C modules and the embedded Lua library in package.preload.
 *
 * Input layout: parts separated by NUL bytes: the template, then a regex pattern, a
 * replacement and a subject for `{{ vars.subj | regex_replace(vars.pat, vars.repl) }}`.
 * The template is rendered as a string, as a mapping key and inside a list, in one
 * context (as the templates of one Rigelfile are), with vars of every type (read from
 * YAML, as a Rigelfile's are) and a fixed environment.
 *
 * Acceptable outcomes: a rendered value, or a template error (the message a user sees).
 * Any other Lua error is a bug in the renderer (a user would see "attempt to index a
 * nil value"). So is running longer than FUZZ_TEMPLATE_MAX_INSTRUCTIONS Lua VM
 * instructions: a template must never hang a deploy (catastrophic regex backtracking
 * has to end in an error). */
#include <string.h>

#include "fuzz.h"
#include "fuzz_lua.h"

/* An input of libFuzzer's default size renders in well under a million instructions;
 * 150 million is about a second of a user's time. regex_replace runs in C (PCRE2), which
 * the instruction count does not see: PCRE2's match limit (regex.MATCH_LIMIT steps per
 * match) bounds it, and libFuzzer's -timeout catches anything else. */
#define FUZZ_TEMPLATE_MAX_INSTRUCTIONS 150000000L

static const char fuzz_template_harness[] =
    "local template = require 'rigelk8s.template'\n"
    "local yaml = require 'rigelk8s.yaml'\n"
    "local tpl, pat, repl, subj = ...\n"
    "local vars = yaml.load([[\n"
    "image: ros:noetic-ros-base\n"
    "name: my-app\n"
    "port: 11311\n"
    "ratio: 0.5\n"
    "big: 1e300\n"
    "enabled: true\n"
    "off: false\n"
    "nothing: null\n"
    "empty: ''\n"
    "list: [a, 1, {b: c}]\n"
    "nolist: []\n"
    "map: {a: 1, b: {c: d}, 'x-y': [1, 2]}\n"
    "dashed-name: dashed\n"
    "nested: '{{ vars.image | regex_replace(\"(\\\\w+):(.*)\", \"\\\\2-\\\\1\") | upper }}'\n"
    "self: '{{ vars.self }}'\n"
    "ping: '{{ vars.pong }}'\n"
    "pong: '{{ vars.ping }}'\n"
    "]])\n"
    "vars.tpl, vars.pat, vars.repl, vars.subj = tpl, pat, repl, subj\n"
    "local data = {build = '42', tags = {'latest', 'v1'}, n = 3}\n"
    "local env = function(k) if k == 'HOME' then return '/home/rigel' end end\n"
    "local function internal(e)\n"
    "  if template.is_error(e) then return e end\n"
    "  return debug.traceback(tostring(e), 2)\n"
    "end\n"
    "local function check(f, ...)\n"
    "  local ok, err = xpcall(f, internal, ...)\n"
    "  if ok or template.is_error(err) then return end\n"
    "  error(err, 0)\n"
    "end\n"
    "local ctx = template.context{vars = vars, data = data, env = env}\n"
    "check(template.render_string, tpl, ctx)\n"
    "check(function()\n"
    "  local _, problems = template.render({[tpl] = tpl, list = {tpl, 'plain', 1},\n"
    "                                       ['{{ vars.name }}'] = {tpl}},\n"
    "                                      {ctx = ctx, path = 'jobs.deploy.with'})\n"
    "  for _, p in ipairs(problems) do\n"
    "    assert(type(p.message) == 'string' and type(p.path) == 'string')\n"
    "  end\n"
    "end)\n"
    "if pat then\n"
    "  check(template.render_string, '{{ vars.subj | regex_replace(vars.pat, vars.repl) }}',\n"
    "        ctx)\n"
    "end\n";

int fuzz_template_one(const uint8_t *data, size_t size)
{
    lua_State *L = fuzz_lua_new();
    /* Up to four NUL-separated parts: template, pattern, replacement, subject. */
    const char *p = (const char *)data, *end = p + size;
    int nargs = 0;
    while (nargs < 4) {
        const char *nul = nargs < 3 ? memchr(p, '\0', (size_t)(end - p)) : NULL;
        lua_pushlstring(L, p, nul ? (size_t)(nul - p) : (size_t)(end - p));
        nargs++;
        if (!nul)
            break;
        p = nul + 1;
    }
    if (nargs == 2) { /* a pattern alone: replace with nothing */
        lua_pushliteral(L, "");
        nargs++;
    }
    if (nargs == 3) {
        lua_pushliteral(L, "ros:noetic-ros-base");
        nargs++;
    }
    const char *failure = fuzz_lua_call(L, fuzz_template_harness,
                                        sizeof fuzz_template_harness - 1, "=fuzz_template",
                                        nargs, FUZZ_TEMPLATE_MAX_INSTRUCTIONS);
    if (failure) {
        fuzz_dump("input", (const char *)data, size);
        fuzz_fail("the renderer raised an error that is not a template error:\n%s", failure);
    }
    lua_close(L);
    return 0;
}

RK_FUZZ_ENTRY(fuzz_template_one)
