#include "yaml_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base64.h"

/* ------------------------------------------------------------------------------------
 * Loader: libyaml events -> rk_value, with an explicit stack (no recursion on input).
 * ---------------------------------------------------------------------------------- */

rk_status rk_yaml_fail_at(loader *ld, rk_status code, uint32_t line, uint32_t col, const char *fmt,
                          ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ld->filename)
        return rk_error_set(ld->err, code, "%s:%" PRIu32 ":%" PRIu32 ": %s", ld->filename, line,
                            col, msg);
    return rk_error_set(ld->err, code, "%" PRIu32 ":%" PRIu32 ": %s", line, col, msg);
}

rk_status rk_yaml_nomem(loader *ld)
{
    return rk_error_set(ld->err, RK_ERR_NOMEM, "%s%sout of memory while loading YAML",
                        ld->filename ? ld->filename : "", ld->filename ? ": " : "");
}

/* A key or value for messages: at most 60 bytes, control bytes shown as '?'. */
void rk_yaml_describe_text(const char *s, size_t n, char *out, size_t size)
{
    size_t k = 0, max = size - 4;
    for (size_t i = 0; i < n && k < max; i++)
        out[k++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    if (k < n && k >= max) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

static char *dup_cstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

rk_status rk_yaml_grave_add(loader *ld, rk_value *v)
{
    if (ld->ngrave == ld->grave_cap) {
        size_t cap = ld->grave_cap ? ld->grave_cap * 2 : 16;
        rk_value **p = realloc(ld->grave, cap * sizeof *p);
        if (!p) {
            rk_value_free(v);
            return rk_yaml_nomem(ld);
        }
        ld->grave = p;
        ld->grave_cap = cap;
    }
    ld->grave[ld->ngrave++] = v;
    return RK_OK;
}

static void reset_document(loader *ld)
{
    for (size_t i = 0; i < ld->nanchor_names; i++)
        free(ld->anchor_names[i]);
    ld->nanchor_names = 0;
    rk_keyset_free(&ld->anchors);
    for (size_t i = 0; i < ld->ngrave; i++)
        rk_value_free(ld->grave[i]);
    ld->ngrave = 0;
}

static rk_status register_anchor(loader *ld, char *name, rk_value *node)
{
    size_t *slot = rk_keyset_find(&ld->anchors, name, strlen(name));
    if (slot) {
        *slot = (size_t)(uintptr_t)node;
        free(name);
        return RK_OK;
    }
    if (ld->nanchor_names == ld->anchor_names_cap) {
        size_t cap = ld->anchor_names_cap ? ld->anchor_names_cap * 2 : 8;
        char **p = realloc(ld->anchor_names, cap * sizeof *p);
        if (!p) {
            free(name);
            return rk_yaml_nomem(ld);
        }
        ld->anchor_names = p;
        ld->anchor_names_cap = cap;
    }
    ld->anchor_names[ld->nanchor_names++] = name;
    if (rk_keyset_add(&ld->anchors, name, strlen(name), (size_t)(uintptr_t)node) != 0)
        return rk_yaml_nomem(ld);
    return RK_OK;
}

static rk_status binary_value(loader *ld, const char *s, size_t n, uint32_t line, uint32_t col,
                              rk_value **out)
{
    unsigned char *bytes;
    size_t len;
    rk_error why;
    rk_status st = rk_base64_decode(s, n, &bytes, &len, &why);
    if (st == RK_ERR_PARSE)
        return rk_yaml_fail_at(ld, RK_ERR_PARSE, line, col,
                               "!!binary value is not valid base64: %s", why.msg);
    if (st != RK_OK)
        return rk_yaml_nomem(ld);
    *out = rk_string_new((const char *)bytes, len);
    free(bytes);
    return *out ? RK_OK : rk_yaml_nomem(ld);
}

static const char *short_tag(const char *tag, char *buf, size_t size)
{
    if (strncmp(tag, TAG_PREFIX, sizeof TAG_PREFIX - 1) == 0)
        snprintf(buf, size, "!!%s", tag + sizeof TAG_PREFIX - 1);
    else
        snprintf(buf, size, "%s", tag);
    return buf;
}

static rk_value *value_from_res(const scalar_res *r, const char *s, size_t n)
{
    switch (r->type) {
    case RK_NULL: return rk_null_new();
    case RK_BOOL: return rk_bool_new(r->boolean);
    case RK_INT: return rk_int_new(r->integer);
    case RK_FLOAT: return rk_float_new(r->number);
    default: return rk_string_new(s, n);
    }
}

static void resolve_scalar(const loader *ld, const char *s, size_t n, scalar_res *r)
{
    if (ld->pyyaml)
        rk_yaml_resolve_pyyaml(ld->pyyaml, s, n, r);
    else
        rk_yaml_resolve_plain(s, n, r);
}

static rk_status make_scalar(loader *ld, const yaml_event_t *ev, rk_value **out)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    uint32_t line = (uint32_t)ev->start_mark.line + 1, col = (uint32_t)ev->start_mark.column + 1;
    scalar_res r;
    rk_status st = RK_OK;

    if (!tag) {
        if (ev->data.scalar.plain_implicit)
            resolve_scalar(ld, s, n, &r);
        else
            r.type = RK_STRING;
        *out = value_from_res(&r, s, n);
    } else if (strncmp(tag, TAG_PREFIX, sizeof TAG_PREFIX - 1) != 0) {
        *out = rk_string_new(s, n); /* local and unknown tags: kept as text */
    } else {
        const char *name = tag + sizeof TAG_PREFIX - 1;
        char tagbuf[64], text[64];
        if (strcmp(name, "str") == 0 || strcmp(name, "merge") == 0) {
            *out = rk_string_new(s, n);
        } else if (strcmp(name, "binary") == 0) {
            return binary_value(ld, s, n, line, col, out);
        } else if (strcmp(name, "timestamp") == 0) {
            *out = rk_string_new(s, n);
        } else if (strcmp(name, "int") == 0 || strcmp(name, "float") == 0 ||
                   strcmp(name, "bool") == 0 || strcmp(name, "null") == 0) {
            resolve_scalar(ld, s, n, &r);
            int ok;
            if (name[0] == 'i')
                ok = r.via_int;
            else if (name[0] == 'f')
                ok = r.type == RK_FLOAT || r.type == RK_INT;
            else if (name[0] == 'b')
                ok = r.type == RK_BOOL;
            else
                ok = r.type == RK_NULL;
            if (!ok) {
                rk_yaml_describe_text(s, n, text, sizeof text);
                const char *rtag = r.type == RK_INT     ? "!!int"
                                   : r.type == RK_FLOAT ? "!!float"
                                   : r.type == RK_BOOL  ? "!!bool"
                                   : r.type == RK_NULL  ? "!!null"
                                                        : "!!str";
                return rk_yaml_fail_at(ld, RK_ERR_PARSE, line, col, "cannot decode %s `%s` as a %s",
                                       rtag, text, short_tag(tag, tagbuf, sizeof tagbuf));
            }
            if (name[0] == 'f' && r.type == RK_INT) {
                r.type = RK_FLOAT;
                r.number = (double)r.integer;
            }
            *out = value_from_res(&r, s, n);
        } else {
            *out = rk_string_new(s, n); /* !!map/!!seq on a scalar, !!omap, ...: text */
        }
    }
    if (!*out)
        return rk_yaml_nomem(ld);
    (*out)->line = line;
    (*out)->col = col;
    return st;
}

static void frame_clear(frame *fr)
{
    rk_value_free(fr->node);
    free(fr->anchor);
    free(fr->key);
    for (size_t i = 0; i < fr->nmerges; i++)
        rk_value_free(fr->merges[i].src);
    free(fr->merges);
    rk_keyset_free(&fr->index);
    memset(fr, 0, sizeof *fr);
}

static rk_status push_frame(loader *ld, rk_value *node, const yaml_char_t *anchor)
{
    if (ld->nframes >= (size_t)ld->max_depth) {
        rk_status st = rk_yaml_fail_at(ld, RK_ERR_LIMIT, node->line, node->col,
                                       "nesting deeper than %d levels", ld->max_depth);
        rk_value_free(node);
        return st;
    }
    if (ld->nframes == ld->frames_cap) {
        size_t cap = ld->frames_cap ? ld->frames_cap * 2 : 16;
        frame *p = realloc(ld->frames, cap * sizeof *p);
        if (!p) {
            rk_value_free(node);
            return rk_yaml_nomem(ld);
        }
        ld->frames = p;
        ld->frames_cap = cap;
    }
    frame *fr = &ld->frames[ld->nframes];
    memset(fr, 0, sizeof *fr);
    fr->node = node;
    if (anchor) {
        fr->anchor = dup_cstr((const char *)anchor);
        if (!fr->anchor) {
            rk_value_free(node);
            fr->node = NULL;
            return rk_yaml_nomem(ld);
        }
    }
    ld->nframes++;
    return RK_OK;
}

static rk_status pop_frame(loader *ld)
{
    frame *fr = &ld->frames[ld->nframes - 1];
    rk_status st = RK_OK;
    if (fr->nmerges)
        st = rk_yaml_apply_merges(ld, fr);
    if (st != RK_OK)
        return st; /* the frame stays on the stack and is freed by cleanup */
    rk_value *node = fr->node;
    char *anchor = fr->anchor;
    fr->node = NULL;
    fr->anchor = NULL;
    frame_clear(fr);
    ld->nframes--;
    if (anchor && (st = register_anchor(ld, anchor, node)) != RK_OK) {
        rk_value_free(node);
        return st;
    }
    return rk_yaml_attach(ld, node, anchor != NULL, 0, 0);
}

static int expecting_key(const loader *ld)
{
    if (ld->nframes == 0)
        return 0;
    const frame *fr = &ld->frames[ld->nframes - 1];
    return fr->node->type == RK_MAP && !fr->have_key;
}

static rk_status on_alias(loader *ld, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    uint32_t line = (uint32_t)ev->start_mark.line + 1, col = (uint32_t)ev->start_mark.column + 1;
    size_t *slot = rk_keyset_find(&ld->anchors, name, strlen(name));
    if (!slot) {
        for (size_t i = 0; i < ld->nframes; i++)
            if (ld->frames[i].anchor && strcmp(ld->frames[i].anchor, name) == 0)
                return rk_yaml_fail_at(ld, RK_ERR_PARSE, line, col,
                                       "anchor '%s' value contains itself", name);
        return rk_yaml_fail_at(ld, RK_ERR_PARSE, line, col, "unknown anchor '%s' referenced", name);
    }
    rk_status st = RK_OK;
    ld->copy_line = line;
    ld->copy_col = col;
    rk_value *copy = rk_yaml_copy_limited(ld, (rk_value *)(uintptr_t)*slot, ld->nframes + 1, &st);
    if (!copy)
        return st;
    copy->line = line;
    copy->col = col;
    return rk_yaml_attach(ld, copy, 0, 1, 0);
}

static rk_status on_scalar(loader *ld, const yaml_event_t *ev)
{
    int merge_key = 0;
    if (expecting_key(ld) && ev->data.scalar.length == 2 &&
        memcmp(ev->data.scalar.value, "<<", 2) == 0) {
        const char *tag = (const char *)ev->data.scalar.tag;
        merge_key = tag ? strcmp(tag, TAG_PREFIX "merge") == 0 : ev->data.scalar.plain_implicit;
    }
    rk_value *v;
    rk_status st = make_scalar(ld, ev, &v);
    if (st != RK_OK)
        return st;
    int anchored = ev->data.scalar.anchor != NULL;
    if (anchored) {
        char *name = dup_cstr((const char *)ev->data.scalar.anchor);
        if (!name) {
            rk_value_free(v);
            return rk_yaml_nomem(ld);
        }
        if ((st = register_anchor(ld, name, v)) != RK_OK) {
            rk_value_free(v);
            return st;
        }
    }
    return rk_yaml_attach(ld, v, anchored, 0, merge_key);
}

static rk_status end_document(loader *ld)
{
    rk_value *doc = ld->root;
    ld->root = NULL;
    rk_status st = RK_OK;
    if (doc && (doc->type != RK_NULL || ld->keep_null_docs)) {
        if (rk_seq_push(ld->docs, doc) != RK_OK)
            st = rk_yaml_nomem(ld);
    } else {
        rk_value_free(doc);
    }
    reset_document(ld);
    return st;
}

static uint32_t count_line_col(const char *buf, size_t len, size_t offset, uint32_t *col)
{
    uint32_t line = 1, c = 1;
    if (offset > len)
        offset = len;
    for (size_t i = 0; i < offset; i++) {
        unsigned char ch = (unsigned char)buf[i];
        if (ch == '\n') {
            line++;
            c = 1;
        } else if ((ch & 0xC0) != 0x80) {
            c++;
        }
    }
    *col = c;
    return line;
}

static rk_status parser_error(loader *ld, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->error == YAML_MEMORY_ERROR)
        return rk_yaml_nomem(ld);
    if (p->error == YAML_READER_ERROR) {
        uint32_t col, line = count_line_col(ld->buf, ld->len, p->problem_offset, &col);
        if (p->problem_value != -1)
            return rk_yaml_fail_at(ld, RK_ERR_PARSE, line, col, "%s (byte 0x%02X)", problem,
                                   (unsigned)p->problem_value);
        return rk_yaml_fail_at(ld, RK_ERR_PARSE, line, col, "%s", problem);
    }
    uint32_t line = (uint32_t)p->problem_mark.line + 1;
    uint32_t col = (uint32_t)p->problem_mark.column + 1;
    const char *hint = "";
    if (p->problem_mark.index < ld->len && ld->buf[p->problem_mark.index] == '\t')
        hint = "; YAML does not allow tabs for indentation, use spaces";
    if (p->context)
        return rk_yaml_fail_at(ld, RK_ERR_PARSE, line, col, "%s (%s at line %zu, column %zu)%s",
                               problem, p->context, p->context_mark.line + 1,
                               p->context_mark.column + 1, hint);
    return rk_yaml_fail_at(ld, RK_ERR_PARSE, line, col, "%s%s", problem, hint);
}

rk_status rk_yaml_load(const char *buf, size_t len, const char *filename, const rk_yaml_opts *opts,
                       rk_value **docs_out, rk_error *err)
{
    loader ld;
    memset(&ld, 0, sizeof ld);
    ld.buf = buf;
    ld.len = len;
    ld.filename = filename;
    ld.err = err;
    ld.max_alias_nodes = RK_YAML_DEFAULT_MAX_ALIAS_NODES;
    ld.max_depth = RK_MAX_DEPTH;
    if (opts) {
        if (opts->max_alias_nodes)
            ld.max_alias_nodes = opts->max_alias_nodes;
        if (opts->max_depth > 0 && opts->max_depth < RK_MAX_DEPTH)
            ld.max_depth = opts->max_depth;
        ld.keep_null_docs = opts->keep_null_docs;
        ld.pyyaml = opts->pyyaml;
    }
    *docs_out = NULL;
    ld.docs = rk_seq_new();
    if (!ld.docs)
        return rk_yaml_nomem(&ld);

    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        rk_value_free(ld.docs);
        return rk_yaml_nomem(&ld);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)(len ? buf : ""), len);

    rk_status st = RK_OK;
    int done = 0;
    while (st == RK_OK && !done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            st = parser_error(&ld, &parser);
            break;
        }
        uint32_t line = (uint32_t)ev.start_mark.line + 1;
        uint32_t col = (uint32_t)ev.start_mark.column + 1;
        rk_value *node;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT: done = 1; break;
        case YAML_DOCUMENT_START_EVENT: ld.root = NULL; break;
        case YAML_DOCUMENT_END_EVENT: st = end_document(&ld); break;
        case YAML_SCALAR_EVENT: st = on_scalar(&ld, &ev); break;
        case YAML_ALIAS_EVENT: st = on_alias(&ld, &ev); break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            node = ev.type == YAML_SEQUENCE_START_EVENT ? rk_seq_new() : rk_map_new();
            if (!node) {
                st = rk_yaml_nomem(&ld);
                break;
            }
            node->line = line;
            node->col = col;
            if (expecting_key(&ld)) {
                rk_value_free(node);
                st = rk_yaml_fail_at(&ld, RK_ERR_PARSE, line, col,
                                     "a %s cannot be used as a map key",
                                     ev.type == YAML_SEQUENCE_START_EVENT ? "sequence" : "mapping");
                break;
            }
            st = push_frame(&ld, node,
                            ev.type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.anchor
                                                                 : ev.data.mapping_start.anchor);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: st = pop_frame(&ld); break;
        default: break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);

    while (ld.nframes)
        frame_clear(&ld.frames[--ld.nframes]);
    free(ld.frames);
    rk_value_free(ld.root);
    reset_document(&ld);
    free(ld.grave);
    free(ld.anchor_names);
    if (st != RK_OK) {
        rk_value_free(ld.docs);
        return st;
    }
    *docs_out = ld.docs;
    return RK_OK;
}
