/* xmlrpc.c — XML-RPC calls out, responses in (see xmlrpc.h). expat does the XML; this
 * file keeps a stack of open arrays and structs while expat walks the document. */
#include "xmlrpc.h"

#include <errno.h>
#include <expat.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- encoding ------------------------------------------------------------------------ */

static void put_escaped(rk_buf *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '&': rk_buf_puts(b, "&amp;"); break;
        case '<': rk_buf_puts(b, "&lt;"); break;
        case '>': rk_buf_puts(b, "&gt;"); break;
        case '\r': rk_buf_puts(b, "&#13;"); break; /* XML would turn a bare CR into LF */
        default: rk_buf_putc(b, s[i]);
        }
    }
}

static rk_status encode_value(rk_buf *b, const rk_value *v, int depth, rk_error *err)
{
    if (depth > RK_MAX_DEPTH)
        return rk_error_set(err, RK_ERR_LIMIT, "xmlrpc: parameters nest deeper than %d",
                            RK_MAX_DEPTH);
    rk_buf_puts(b, "<value>");
    switch (v->type) {
    case RK_NULL: rk_buf_puts(b, "<nil/>"); break;
    case RK_BOOL: rk_buf_printf(b, "<boolean>%d</boolean>", v->as.boolean ? 1 : 0); break;
    case RK_INT:
        if (v->as.integer < INT32_MIN || v->as.integer > INT32_MAX)
            return rk_error_set(err, RK_ERR_INVALID,
                                "xmlrpc: %" PRId64 " does not fit the 32-bit <int> of XML-RPC",
                                v->as.integer);
        rk_buf_printf(b, "<int>%" PRId64 "</int>", v->as.integer);
        break;
    case RK_FLOAT: rk_buf_printf(b, "<double>%.17g</double>", v->as.number); break;
    case RK_STRING:
        rk_buf_puts(b, "<string>");
        put_escaped(b, v->as.str.ptr, v->as.str.len);
        rk_buf_puts(b, "</string>");
        break;
    case RK_SEQ:
        rk_buf_puts(b, "<array><data>");
        for (size_t i = 0; i < v->as.seq.len; i++) {
            rk_status st = encode_value(b, v->as.seq.items[i], depth + 1, err);
            if (st != RK_OK)
                return st;
        }
        rk_buf_puts(b, "</data></array>");
        break;
    case RK_MAP:
        rk_buf_puts(b, "<struct>");
        for (size_t i = 0; i < v->as.map.len; i++) {
            const rk_member *m = &v->as.map.items[i];
            rk_buf_puts(b, "<member><name>");
            put_escaped(b, m->key, m->key_len);
            rk_buf_puts(b, "</name>");
            rk_status st = encode_value(b, m->value, depth + 1, err);
            if (st != RK_OK)
                return st;
            rk_buf_puts(b, "</member>");
        }
        rk_buf_puts(b, "</struct>");
        break;
    }
    rk_buf_puts(b, "</value>");
    return RK_OK;
}

rk_status rk_xmlrpc_encode_call(rk_buf *out, const char *method, const rk_value *params,
                                rk_error *err)
{
    if (params && params->type != RK_SEQ)
        return rk_error_set(err, RK_ERR_INVALID, "xmlrpc: the parameters of %s must be a list",
                            method);
    rk_buf_puts(out, "<?xml version=\"1.0\"?>\n<methodCall><methodName>");
    put_escaped(out, method, strlen(method));
    rk_buf_puts(out, "</methodName><params>");
    for (size_t i = 0; params && i < params->as.seq.len; i++) {
        rk_buf_puts(out, "<param>");
        rk_status st = encode_value(out, params->as.seq.items[i], 1, err);
        if (st != RK_OK)
            return st;
        rk_buf_puts(out, "</param>");
    }
    rk_buf_puts(out, "</params></methodCall>\n");
    return rk_buf_status(out, err);
}

/* ---- decoding ------------------------------------------------------------------------ */

typedef enum { SC_NONE, SC_INT, SC_BOOL, SC_DOUBLE, SC_STRING, SC_NIL } scalar_kind;

typedef struct {
    rk_value *container; /* an open array (RK_SEQ) or struct (RK_MAP) */
    char *name;          /* struct: the <name> of the member being read */
} frame;

typedef struct {
    XML_Parser xp;
    frame *stack;
    size_t depth, cap;
    rk_value *done;   /* the finished value of the innermost open <value> */
    rk_value *result; /* the <param> value or the <fault> struct */
    scalar_kind scalar;
    int in_value, in_name, fault, params, typed;
    rk_buf text;
    rk_error *err;
    rk_status st;
} decoder;

static void fail(decoder *d, rk_status code, const char *what)
{
    if (d->st != RK_OK)
        return;
    d->st = code;
    rk_error_set(d->err, code, "xmlrpc response, line %lu column %lu: %s",
                 (unsigned long)XML_GetCurrentLineNumber(d->xp),
                 (unsigned long)XML_GetCurrentColumnNumber(d->xp) + 1, what);
    XML_StopParser(d->xp, XML_FALSE);
}

static void push_frame(decoder *d, rk_value *container)
{
    if (!container) {
        fail(d, RK_ERR_NOMEM, "out of memory");
        return;
    }
    if (d->depth >= RK_MAX_DEPTH) {
        rk_value_free(container);
        fail(d, RK_ERR_LIMIT, "arrays and structs nest too deep");
        return;
    }
    if (d->depth == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        frame *s = realloc(d->stack, cap * sizeof *s);
        if (!s) {
            rk_value_free(container);
            fail(d, RK_ERR_NOMEM, "out of memory");
            return;
        }
        d->stack = s;
        d->cap = cap;
    }
    d->stack[d->depth].container = container;
    d->stack[d->depth].name = NULL;
    d->depth++;
}

static void XMLCALL on_start(void *ud, const XML_Char *el, const XML_Char **attrs)
{
    (void)attrs;
    decoder *d = ud;
    if (strcmp(el, "value") == 0) {
        if (d->done) {
            fail(d, RK_ERR_PARSE, "<value> holds two values");
            return;
        }
        d->in_value = 1;
        d->typed = 0;
        d->scalar = SC_NONE;
        d->text.len = 0;
    } else if (d->done && strcmp(el, "name") != 0 && strcmp(el, "data") != 0 &&
               strcmp(el, "member") != 0) {
        fail(d, RK_ERR_PARSE, "<value> holds two values");
    } else if (strcmp(el, "array") == 0) {
        d->typed = 1;
        push_frame(d, rk_seq_new());
    } else if (strcmp(el, "struct") == 0) {
        d->typed = 1;
        push_frame(d, rk_map_new());
    } else if (strcmp(el, "name") == 0) {
        d->in_name = 1;
        d->text.len = 0;
    } else if (strcmp(el, "i4") == 0 || strcmp(el, "int") == 0 || strcmp(el, "i8") == 0) {
        d->typed = 1, d->scalar = SC_INT, d->text.len = 0;
    } else if (strcmp(el, "boolean") == 0) {
        d->typed = 1, d->scalar = SC_BOOL, d->text.len = 0;
    } else if (strcmp(el, "double") == 0) {
        d->typed = 1, d->scalar = SC_DOUBLE, d->text.len = 0;
    } else if (strcmp(el, "string") == 0 || strcmp(el, "base64") == 0 ||
               strcmp(el, "dateTime.iso8601") == 0) {
        d->typed = 1, d->scalar = SC_STRING, d->text.len = 0;
    } else if (strcmp(el, "nil") == 0) {
        d->typed = 1, d->scalar = SC_NIL;
    } else if (strcmp(el, "fault") == 0) {
        d->fault = 1;
    } else if (strcmp(el, "params") == 0) {
        d->params = 1;
    } else if (strcmp(el, "methodResponse") != 0 && strcmp(el, "param") != 0 &&
               strcmp(el, "data") != 0 && strcmp(el, "member") != 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "unexpected element <%.100s>", el);
        fail(d, RK_ERR_PARSE, msg);
    }
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    decoder *d = ud;
    if (d->in_name || (d->in_value && !d->done))
        rk_buf_append(&d->text, s, (size_t)len);
}

static int text_is(const rk_buf *t, const char *word)
{
    return t->len == strlen(word) && memcmp(t->data, word, t->len) == 0;
}

static rk_value *scalar_of(decoder *d)
{
    rk_buf *t = &d->text;
    const char *s = t->data ? t->data : "";
    char *end = NULL;
    switch (d->scalar) {
    case SC_NIL: return rk_null_new();
    case SC_STRING:
    case SC_NONE: return rk_string_new(s, t->len);
    case SC_BOOL:
        if (text_is(t, "1") || text_is(t, "0"))
            return rk_bool_new(s[0] == '1');
        fail(d, RK_ERR_PARSE, "a <boolean> must be 0 or 1");
        return NULL;
    case SC_INT: {
        errno = 0;
        long long n = strtoll(s, &end, 10);
        while (end && (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r'))
            end++;
        if (t->len == 0 || errno || !end || *end) {
            fail(d, RK_ERR_PARSE, "an <int> is not a whole number");
            return NULL;
        }
        return rk_int_new((int64_t)n);
    }
    case SC_DOUBLE: {
        errno = 0;
        double x = strtod(s, &end);
        while (end && (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r'))
            end++;
        if (t->len == 0 || errno || !end || *end) {
            fail(d, RK_ERR_PARSE, "a <double> is not a number");
            return NULL;
        }
        return rk_float_new(x);
    }
    }
    return NULL;
}

static void attach(decoder *d, rk_value *v)
{
    if (d->depth == 0) {
        if (d->result) {
            rk_value_free(v);
            fail(d, RK_ERR_PARSE, "the response holds more than one value");
            return;
        }
        d->result = v;
        return;
    }
    frame *f = &d->stack[d->depth - 1];
    if (f->container->type == RK_SEQ) {
        if (rk_seq_push(f->container, v) != RK_OK)
            fail(d, RK_ERR_NOMEM, "out of memory");
        return;
    }
    if (!f->name) {
        rk_value_free(v);
        fail(d, RK_ERR_PARSE, "a struct <member> has a <value> but no <name> before it");
        return;
    }
    if (rk_map_set(f->container, f->name, strlen(f->name), v) != RK_OK)
        fail(d, RK_ERR_NOMEM, "out of memory");
    free(f->name);
    f->name = NULL;
}

static void set_done(decoder *d, rk_value *v)
{
    if (!v) {
        if (d->st == RK_OK)
            fail(d, RK_ERR_NOMEM, "out of memory");
        return;
    }
    if (d->done) {
        rk_value_free(v);
        fail(d, RK_ERR_PARSE, "<value> holds two values");
        return;
    }
    d->done = v;
}

static void XMLCALL on_end(void *ud, const XML_Char *el)
{
    decoder *d = ud;
    if (d->st != RK_OK)
        return;
    if (strcmp(el, "value") == 0) {
        rk_value *v = d->done;
        d->done = NULL;
        if (!v && !d->typed)
            v = rk_string_new(d->text.data ? d->text.data : "", d->text.len);
        if (!v) {
            fail(d, RK_ERR_PARSE, "empty <value>");
            return;
        }
        d->typed = 1; /* text after a nested value belongs to no one */
        attach(d, v);
    } else if (strcmp(el, "array") == 0 || strcmp(el, "struct") == 0) {
        if (d->depth == 0) {
            fail(d, RK_ERR_PARSE, "unbalanced array or struct");
            return;
        }
        frame *f = &d->stack[--d->depth];
        free(f->name);
        if (f->container->type != (strcmp(el, "array") == 0 ? RK_SEQ : RK_MAP)) {
            rk_value_free(f->container);
            fail(d, RK_ERR_PARSE, "mismatched array and struct");
            return;
        }
        set_done(d, f->container);
    } else if (strcmp(el, "name") == 0) {
        d->in_name = 0;
        if (d->depth == 0 || d->stack[d->depth - 1].container->type != RK_MAP) {
            fail(d, RK_ERR_PARSE, "<name> outside a struct member");
            return;
        }
        frame *f = &d->stack[d->depth - 1];
        free(f->name);
        f->name = strndup(d->text.data ? d->text.data : "", d->text.len);
        if (!f->name)
            fail(d, RK_ERR_NOMEM, "out of memory");
    } else if (d->scalar != SC_NONE &&
               (strcmp(el, "i4") == 0 || strcmp(el, "int") == 0 || strcmp(el, "i8") == 0 ||
                strcmp(el, "boolean") == 0 || strcmp(el, "double") == 0 ||
                strcmp(el, "string") == 0 || strcmp(el, "base64") == 0 ||
                strcmp(el, "dateTime.iso8601") == 0 || strcmp(el, "nil") == 0)) {
        rk_value *v = scalar_of(d);
        d->scalar = SC_NONE;
        if (d->st == RK_OK)
            set_done(d, v);
    }
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    fail(ud, RK_ERR_PARSE, "a DOCTYPE is not allowed in an XML-RPC response");
}

static const char *member_text(const rk_value *m, const char *key, char *buf, size_t n)
{
    const rk_value *v = rk_map_get_cstr(m, key);
    if (v && v->type == RK_STRING)
        return v->as.str.ptr;
    if (v && v->type == RK_INT) {
        snprintf(buf, n, "%" PRId64, v->as.integer);
        return buf;
    }
    return "?";
}

rk_status rk_xmlrpc_decode_response(const char *body, size_t len, rk_value **out, rk_error *err)
{
    *out = NULL;
    decoder d;
    memset(&d, 0, sizeof d);
    rk_buf_init(&d.text);
    d.err = err;
    d.st = RK_OK;
    d.xp = XML_ParserCreate("UTF-8");
    if (!d.xp)
        return rk_error_set(err, RK_ERR_NOMEM, "xmlrpc: out of memory");
    XML_SetUserData(d.xp, &d);
    XML_SetElementHandler(d.xp, on_start, on_end);
    XML_SetCharacterDataHandler(d.xp, on_text);
    XML_SetStartDoctypeDeclHandler(d.xp, on_doctype);
    if (len > (size_t)INT32_MAX) {
        fail(&d, RK_ERR_LIMIT, "the response is larger than 2 GiB");
    } else if (XML_Parse(d.xp, body ? body : "", (int)len, XML_TRUE) == XML_STATUS_ERROR &&
               d.st == RK_OK) {
        char msg[200];
        snprintf(msg, sizeof msg, "not well-formed XML: %s",
                 XML_ErrorString(XML_GetErrorCode(d.xp)));
        fail(&d, RK_ERR_PARSE, msg);
    }
    if (d.st == RK_OK && rk_buf_status(&d.text, NULL) != RK_OK)
        fail(&d, RK_ERR_NOMEM, "out of memory");
    if (d.st == RK_OK && !d.result)
        rk_error_set(err, d.st = RK_ERR_PARSE,
                     "xmlrpc response: no <params><param><value> and no <fault> in it");
    if (d.st == RK_OK && d.fault) {
        char a[32], b[32];
        if (d.result->type != RK_MAP) {
            rk_error_set(err, d.st = RK_ERR_PARSE, "xmlrpc response: a <fault> must hold a struct");
        } else {
            rk_error_set(err, d.st = RK_ERR_HTTP, "XML-RPC fault %s: %s",
                         member_text(d.result, "faultCode", a, sizeof a),
                         member_text(d.result, "faultString", b, sizeof b));
            *out = d.result;
            d.result = NULL;
        }
    }
    if (d.st == RK_OK) {
        *out = d.result;
        d.result = NULL;
    }
    for (size_t i = 0; i < d.depth; i++) {
        rk_value_free(d.stack[i].container);
        free(d.stack[i].name);
    }
    free(d.stack);
    rk_value_free(d.done);
    rk_value_free(d.result);
    rk_buf_free(&d.text);
    XML_ParserFree(d.xp);
    return d.st;
}
