#include "watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"

/* ---- frame splitter ---------------------------------------------------------------- */

void rk_frames_init(rk_frame_splitter *s, size_t max_frame)
{
    rk_buf_init(&s->pending);
    s->max_frame = max_frame ? max_frame : RK_WATCH_MAX_FRAME;
}

void rk_frames_free(rk_frame_splitter *s)
{
    rk_buf_free(&s->pending);
}

void rk_frames_reset(rk_frame_splitter *s)
{
    s->pending.len = 0;
    if (s->pending.data)
        s->pending.data[0] = '\0';
}

size_t rk_frames_pending(const rk_frame_splitter *s)
{
    return s->pending.len;
}

static int is_blank(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return 0;
    return 1;
}

static rk_status emit(const char *frame, size_t len, rk_frame_fn fn, void *ud)
{
    if (len && frame[len - 1] == '\r')
        len--;
    if (is_blank(frame, len))
        return RK_OK;
    return fn(ud, frame, len);
}

static rk_status too_long(const rk_frame_splitter *s, rk_error *err)
{
    return rk_error_set(err, RK_ERR_LIMIT,
                        "watch event longer than %zu bytes without a newline",
                        s->max_frame);
}

rk_status rk_frames_feed(rk_frame_splitter *s, const char *data, size_t len, rk_frame_fn fn,
                         void *ud, rk_error *err)
{
    /* Frames wholly inside the chunk are handed out in place; only a frame that spans
     * chunks is copied, so a stream of small events costs no copies at all. */
    while (len) {
        const char *nl = memchr(data, '\n', len);
        if (!nl) {
            if (s->pending.len + len > s->max_frame)
                return too_long(s, err);
            rk_buf_append(&s->pending, data, len);
            return rk_buf_status(&s->pending, err);
        }
        size_t part = (size_t)(nl - data);
        rk_status st;
        if (s->pending.len) {
            if (s->pending.len + part > s->max_frame)
                return too_long(s, err);
            rk_buf_append(&s->pending, data, part);
            if ((st = rk_buf_status(&s->pending, err)) != RK_OK)
                return st;
            st = emit(s->pending.data, s->pending.len, fn, ud);
            rk_frames_reset(s);
        } else {
            if (part > s->max_frame)
                return too_long(s, err);
            st = emit(data, part, fn, ud);
        }
        if (st != RK_OK)
            return st;
        data = nl + 1;
        len -= part + 1;
    }
    return RK_OK;
}

/* ---- log line splitter ------------------------------------------------------------- */

void rk_lines_init(rk_line_splitter *s, size_t max_line)
{
    rk_buf_init(&s->pending);
    s->max_line = max_line ? max_line : RK_LOG_MAX_LINE;
    s->dropped = 0;
}

void rk_lines_free(rk_line_splitter *s)
{
    rk_buf_free(&s->pending);
}

static void lines_reset(rk_line_splitter *s)
{
    s->pending.len = 0;
    if (s->pending.data)
        s->pending.data[0] = '\0';
    s->dropped = 0;
}

size_t rk_lines_pending(const rk_line_splitter *s)
{
    return s->pending.len;
}

static rk_status emit_line(const char *line, size_t len, size_t dropped, int partial,
                           rk_line_fn fn, void *ud)
{
    if (!dropped && len && line[len - 1] == '\r')
        len--;
    return fn(ud, line, len, dropped, partial);
}

rk_status rk_lines_feed(rk_line_splitter *s, const char *data, size_t len, rk_line_fn fn,
                        void *ud, rk_error *err)
{
    /* Lines wholly inside the chunk are handed out in place; a line spanning chunks is
     * kept up to max_line bytes, and whatever follows until its newline is only counted. */
    while (len) {
        const char *nl = memchr(data, '\n', len);
        size_t part = nl ? (size_t)(nl - data) : len;
        size_t room = s->max_line - s->pending.len;
        size_t take = part < room ? part : room;
        if (!nl) {
            rk_buf_append(&s->pending, data, take);
            s->dropped += part - take;
            return rk_buf_status(&s->pending, err);
        }
        rk_status st;
        if (!s->pending.len && !s->dropped && take == part) {
            st = emit_line(data, part, 0, 0, fn, ud);
        } else {
            rk_buf_append(&s->pending, data, take);
            if ((st = rk_buf_status(&s->pending, err)) != RK_OK)
                return st;
            st = emit_line(s->pending.data, s->pending.len, s->dropped + (part - take), 0, fn,
                           ud);
            lines_reset(s);
        }
        if (st != RK_OK)
            return st;
        data = nl + 1;
        len -= part + 1;
    }
    return RK_OK;
}

rk_status rk_lines_finish(rk_line_splitter *s, rk_line_fn fn, void *ud)
{
    if (!s->pending.len && !s->dropped)
        return RK_OK;
    rk_status st = emit_line(s->pending.data ? s->pending.data : "", s->pending.len,
                             s->dropped, 1, fn, ud);
    lines_reset(s);
    return st;
}

/* ---- events ------------------------------------------------------------------------ */

rk_status rk_watch_parse_event(const char *frame, size_t len, char *type, size_t type_size,
                               rk_value **root, rk_error *err)
{
    *root = NULL;
    rk_value *doc;
    rk_status st = rk_json_decode(frame, len, &doc, err);
    if (st != RK_OK) {
        rk_error_prefix(err, "watch event: ");
        return st;
    }
    const rk_value *t = rk_map_get_cstr(doc, "type");
    const rk_value *obj = rk_map_get_cstr(doc, "object");
    if (!t || t->type != RK_STRING || !obj || obj->type != RK_MAP) {
        rk_value_free(doc);
        return rk_error_set(err, RK_ERR_PARSE, "watch event without a type and an object");
    }
    snprintf(type, type_size, "%s", t->as.str.ptr);
    *root = doc;
    return RK_OK;
}

void rk_watch_event_free(rk_watch_event *ev)
{
    if (!ev)
        return;
    rk_value_free(ev->root);
    free(ev->error);
    free(ev->text);
    free(ev);
}

/* ---- what a watch has seen: "namespace/name" -> resourceVersion ---------------------- */

typedef struct known {
    char *key;
    char *rv;
    struct known *next;
} known;

typedef struct {
    known **buckets;
    size_t nbuckets, n;
} known_map;

static size_t hash_key(const char *s)
{
    size_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static void known_free(known_map *m)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        for (known *e = m->buckets[i], *n; e; e = n) {
            n = e->next;
            free(e->key);
            free(e->rv);
            free(e);
        }
    }
    free(m->buckets);
    memset(m, 0, sizeof *m);
}

static known *known_find(const known_map *m, const char *key)
{
    if (!m->nbuckets)
        return NULL;
    for (known *e = m->buckets[hash_key(key) % m->nbuckets]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

static int known_grow(known_map *m)
{
    size_t nb = m->nbuckets ? m->nbuckets * 2 : 64;
    known **b = calloc(nb, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i < m->nbuckets; i++) {
        for (known *e = m->buckets[i], *n; e; e = n) {
            n = e->next;
            size_t j = hash_key(e->key) % nb;
            e->next = b[j];
            b[j] = e;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = nb;
    return 0;
}

/* Records key at rv; returns the previous rv in *old (caller frees), NULL when new. */
static int known_put(known_map *m, const char *key, const char *rv, char **old)
{
    *old = NULL;
    known *e = known_find(m, key);
    char *r = strdup(rv);
    if (!r)
        return -1;
    if (e) {
        *old = e->rv;
        e->rv = r;
        return 0;
    }
    if (m->n >= m->nbuckets && known_grow(m) != 0) {
        free(r);
        return -1;
    }
    e = malloc(sizeof *e);
    if (!e || !(e->key = strdup(key))) {
        free(e);
        free(r);
        return -1;
    }
    e->rv = r;
    size_t j = hash_key(key) % m->nbuckets;
    e->next = m->buckets[j];
    m->buckets[j] = e;
    m->n++;
    return 0;
}

static void known_remove(known_map *m, const char *key)
{
    if (!m->nbuckets)
        return;
    for (known **p = &m->buckets[hash_key(key) % m->nbuckets]; *p; p = &(*p)->next) {
        if (strcmp((*p)->key, key) == 0) {
            known *e = *p;
            *p = e->next;
            free(e->key);
            free(e->rv);
            free(e);
            m->n--;
            return;
        }
    }
}

/* ---- watch sets -------------------------------------------------------------------- */

#define DEFAULT_SERVER_TIMEOUT 290
#define MAX_CONSECUTIVE_FAILURES 8
#define RELIST_PAGE 500

typedef struct watch {
    int id;
    rk_watch_set *set;
    char *api_version, *kind, *ns, *label_selector, *field_selector;
    int all_namespaces, bookmarks;
    long server_timeout;
    char *rv;
    rk_http_stream *stream;
    rk_frame_splitter split;
    known_map seen;
    int need_relist, failures, auth_refreshed;
    double retry_at, opened_at;
    /* logs: the request path, and the line splitter of the body */
    int is_log;
    char *log_path, *log_what;
    rk_line_splitter lines;
    struct watch *next;
} watch;

struct rk_watch_set {
    rk_kube *k;
    watch *watches;
    int next_id;
    rk_watch_event *head, *tail;
    unsigned int seed;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void enqueue(rk_watch_set *ws, rk_watch_event *ev)
{
    ev->next = NULL;
    if (ws->tail)
        ws->tail->next = ev;
    else
        ws->head = ev;
    ws->tail = ev;
}

static const char *meta_str(const rk_value *obj, const char *key)
{
    const rk_value *md = rk_map_get_cstr(obj, "metadata");
    const rk_value *v = rk_map_get_cstr(md, key);
    return v && v->type == RK_STRING ? v->as.str.ptr : NULL;
}

static void object_key(const rk_value *obj, char *buf, size_t size)
{
    const char *ns = meta_str(obj, "namespace"), *name = meta_str(obj, "name");
    snprintf(buf, size, "%s/%s", ns ? ns : "", name ? name : "");
}

static void set_rv(watch *w, const char *rv)
{
    if (!rv || !*rv)
        return;
    char *n = strdup(rv);
    if (!n)
        return;
    free(w->rv);
    w->rv = n;
}

static void fail_watch(watch *w, const rk_kube_error *why);

/* An answer that is not a watch stream: say which watch, and who sent it. */
static void bad_stream(watch *w, const rk_error *err, rk_kube_error *kerr)
{
    rk_kube_error_from(kerr, err, "InvalidResponse", RK_EXIT_FAILED);
    char msg[sizeof kerr->message];
    memcpy(msg, kerr->message, sizeof msg);
    const char *ns = w->ns ? w->ns : "";
    int n = snprintf(kerr->message, sizeof kerr->message, "watch %s%s%s from %s: ", w->kind,
                     *ns ? " in namespace " : "", ns, rk_http_server(rk_kube_http(w->set->k)));
    if (n > 0 && (size_t)n < sizeof kerr->message)
        memcpy(kerr->message + n, msg, strnlen(msg, sizeof kerr->message - (size_t)n - 1) + 1);
    kerr->message[sizeof kerr->message - 1] = '\0';
}

/* Decides what an object event means to the consumer, given what this watch has seen:
 * repeats (after a reconnect without a resourceVersion) are dropped, and an ADDED for
 * a known object is a MODIFIED. Returns 0 to drop the event. */
static int track(watch *w, char *type, const rk_value *obj)
{
    char key[600];
    object_key(obj, key, sizeof key);
    const char *rv = meta_str(obj, "resourceVersion");
    if (strcmp(type, "DELETED") == 0) {
        known_remove(&w->seen, key);
        return 1;
    }
    char *old = NULL;
    if (known_put(&w->seen, key, rv ? rv : "", &old) != 0)
        return 1;
    int keep = 1;
    if (old && rv && strcmp(old, rv) == 0)
        keep = 0;
    else if (old && strcmp(type, "ADDED") == 0)
        strcpy(type, "MODIFIED");
    free(old);
    return keep;
}

static rk_status on_frame(void *ud, const char *frame, size_t len)
{
    watch *w = ud;
    char type[16];
    rk_value *root;
    rk_error err;
    if (rk_watch_parse_event(frame, len, type, sizeof type, &root, &err) != RK_OK) {
        rk_kube_error kerr;
        bad_stream(w, &err, &kerr);
        fail_watch(w, &kerr);
        return RK_ERR_PARSE;
    }
    rk_value *obj = rk_map_get_cstr(root, "object");
    w->failures = 0;
    if (strcmp(type, "ERROR") == 0) {
        rk_kube_error kerr;
        rk_buf b = RK_BUF_INIT;
        rk_json_encode(obj, 0, &b, NULL);
        rk_kube_status_decode(500, b.data ? b.data : "", b.len, "watch", &kerr);
        rk_buf_free(&b);
        rk_value_free(root);
        if (kerr.code == 410)
            w->need_relist = 1;
        else if (kerr.code >= 500 || kerr.code == 429)
            w->failures++; /* the stream ends; handle_end reconnects */
        else
            fail_watch(w, &kerr);
        return RK_OK;
    }
    set_rv(w, meta_str(obj, "resourceVersion"));
    if (strcmp(type, "BOOKMARK") == 0 && !w->bookmarks) {
        rk_value_free(root);
        return RK_OK;
    }
    if (strcmp(type, "BOOKMARK") != 0 && !track(w, type, obj)) {
        rk_value_free(root);
        return RK_OK;
    }
    rk_watch_event *ev = calloc(1, sizeof *ev);
    if (!ev) {
        rk_value_free(root);
        return RK_ERR_NOMEM;
    }
    ev->watch_id = w->id;
    snprintf(ev->type, sizeof ev->type, "%s", type);
    ev->root = root;
    ev->object = obj;
    enqueue(w->set, ev);
    return RK_OK;
}

static rk_status on_line(void *ud, const char *line, size_t len, size_t dropped, int partial)
{
    watch *w = ud;
    rk_watch_event *ev = calloc(1, sizeof *ev);
    char *text = malloc(len + 1);
    if (!ev || !text) {
        free(ev);
        free(text);
        return RK_ERR_NOMEM;
    }
    memcpy(text, line, len);
    text[len] = '\0';
    ev->watch_id = w->id;
    snprintf(ev->type, sizeof ev->type, "LINE");
    ev->text = text;
    ev->text_len = len;
    ev->dropped = dropped;
    ev->partial = partial;
    enqueue(w->set, ev);
    return RK_OK;
}

static rk_status on_data(void *ud, const char *data, size_t len, rk_error *err)
{
    watch *w = ud;
    if (w->is_log)
        return rk_lines_feed(&w->lines, data, len, on_line, w, err);
    return rk_frames_feed(&w->split, data, len, on_frame, w, err);
}

static void close_stream(watch *w)
{
    rk_http_stream_close(w->stream);
    w->stream = NULL;
    rk_frames_reset(&w->split);
}

static void init_call(const watch *w, rk_kube_call *c, rk_kube_verb verb)
{
    rk_kube_call_init(c, verb);
    c->api_version = w->api_version;
    c->kind = w->kind;
    c->namespace = w->ns;
    c->all_namespaces = w->all_namespaces;
    c->q.label_selector = w->label_selector;
    c->q.field_selector = w->field_selector;
}

static rk_status open_log(watch *w, rk_kube_error *kerr)
{
    rk_watch_set *ws = w->set;
    rk_kube_call c;
    rk_kube_call_init(&c, RK_VERB_RAW);
    c.method = "GET";
    c.path = w->log_path;
    rk_kube_prepared p;
    rk_status st = rk_kube_authenticate(ws->k, 0, kerr);
    if (st == RK_OK)
        st = rk_kube_prepare(ws->k, &c, &p, kerr);
    if (st != RK_OK)
        return st;
    p.http.accept = "text/plain, */*";
    rk_error err;
    st = rk_http_stream_open(rk_kube_http(ws->k), &p.http, on_data, w, &w->stream, &err);
    rk_kube_prepared_free(&p);
    w->opened_at = now_s();
    if (st != RK_OK)
        rk_kube_error_from(kerr, &err, "InternalError", RK_EXIT_FAILED);
    return st;
}

static rk_status open_stream(watch *w, rk_kube_error *kerr)
{
    rk_watch_set *ws = w->set;
    if (w->is_log)
        return open_log(w, kerr);
    rk_kube_call c;
    init_call(w, &c, RK_VERB_WATCH);
    c.q.resource_version = w->rv;
    c.q.allow_bookmarks = 1;
    ws->seed = ws->seed * 1103515245u + 12345u;
    c.q.timeout_seconds = w->server_timeout ? w->server_timeout
                                            : DEFAULT_SERVER_TIMEOUT + (long)(ws->seed >> 16) % 60;
    rk_kube_prepared p;
    rk_status st = rk_kube_authenticate(ws->k, 0, kerr);
    if (st == RK_OK)
        st = rk_kube_prepare(ws->k, &c, &p, kerr);
    if (st != RK_OK)
        return st;
    rk_error err;
    st = rk_http_stream_open(rk_kube_http(ws->k), &p.http, on_data, w, &w->stream, &err);
    rk_kube_prepared_free(&p);
    w->opened_at = now_s();
    if (st != RK_OK)
        rk_kube_error_from(kerr, &err, "InternalError", RK_EXIT_FAILED);
    return st;
}

static void free_watch(watch *w)
{
    close_stream(w);
    rk_frames_free(&w->split);
    rk_lines_free(&w->lines);
    free(w->log_path);
    free(w->log_what);
    known_free(&w->seen);
    free(w->api_version);
    free(w->kind);
    free(w->ns);
    free(w->label_selector);
    free(w->field_selector);
    free(w->rv);
    free(w);
}

static void drop_queued(rk_watch_set *ws, int id)
{
    rk_watch_event **p = &ws->head;
    ws->tail = NULL;
    while (*p) {
        if ((*p)->watch_id == id && strcmp((*p)->type, "ERROR") != 0) {
            rk_watch_event *ev = *p;
            *p = ev->next;
            rk_watch_event_free(ev);
        } else {
            ws->tail = *p;
            p = &(*p)->next;
        }
    }
}

/* Queues an ERROR event and removes the watch (its memory goes once the loop is safe:
 * it is only unlinked here when not streaming, otherwise on the next service pass). */
static void fail_watch(watch *w, const rk_kube_error *why)
{
    rk_watch_event *ev = calloc(1, sizeof *ev);
    rk_kube_error *e = malloc(sizeof *e);
    if (!ev || !e) {
        free(ev);
        free(e);
        return;
    }
    *e = *why;
    ev->watch_id = w->id;
    snprintf(ev->type, sizeof ev->type, "ERROR");
    ev->error = e;
    enqueue(w->set, ev);
    w->failures = -1; /* marks the watch dead; service() removes it */
}

rk_status rk_watch_set_new(rk_kube *k, rk_watch_set **out)
{
    rk_watch_set *ws = calloc(1, sizeof *ws);
    *out = ws;
    if (!ws)
        return RK_ERR_NOMEM;
    ws->k = k;
    ws->next_id = 1;
    ws->seed = (unsigned int)time(NULL) ^ (unsigned int)(size_t)ws;
    return RK_OK;
}

void rk_watch_set_free(rk_watch_set *ws)
{
    if (!ws)
        return;
    for (watch *w = ws->watches, *n; w; w = n) {
        n = w->next;
        free_watch(w);
    }
    for (rk_watch_event *ev = ws->head, *n; ev; ev = n) {
        n = ev->next;
        rk_watch_event_free(ev);
    }
    free(ws);
}

size_t rk_watch_set_count(const rk_watch_set *ws)
{
    size_t n = 0;
    for (const watch *w = ws->watches; w; w = w->next)
        n += w->failures >= 0;
    return n;
}

static char *dup_opt(const char *s, int *failed)
{
    if (!s || !*s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *failed = 1;
    return d;
}

rk_status rk_watch_set_add(rk_watch_set *ws, const rk_watch_spec *spec, int *id,
                           rk_kube_error *kerr)
{
    watch *w = calloc(1, sizeof *w);
    int failed = !w;
    if (w) {
        w->set = ws;
        w->api_version = dup_opt(spec->api_version, &failed);
        w->kind = dup_opt(spec->kind, &failed);
        w->ns = dup_opt(spec->namespace, &failed);
        w->label_selector = dup_opt(spec->label_selector, &failed);
        w->rv = dup_opt(spec->resource_version, &failed);
        w->all_namespaces = spec->all_namespaces;
        w->bookmarks = spec->bookmarks;
        w->server_timeout = spec->server_timeout;
        rk_frames_init(&w->split, 0);
        if (spec->name && *spec->name) {
            rk_buf fs = RK_BUF_INIT;
            rk_buf_printf(&fs, "metadata.name=%s", spec->name);
            if (spec->field_selector && *spec->field_selector)
                rk_buf_printf(&fs, ",%s", spec->field_selector);
            w->field_selector = rk_buf_detach(&fs, NULL);
            failed |= !w->field_selector;
        } else {
            w->field_selector = dup_opt(spec->field_selector, &failed);
        }
    }
    if (failed) {
        if (w)
            free_watch(w);
        memset(kerr, 0, sizeof *kerr);
        snprintf(kerr->message, sizeof kerr->message, "out of memory");
        kerr->exit_code = RK_EXIT_FAILED;
        return RK_ERR_NOMEM;
    }
    rk_status st = open_stream(w, kerr);
    if (st != RK_OK) {
        free_watch(w);
        return st;
    }
    w->id = ws->next_id++;
    w->next = ws->watches;
    ws->watches = w;
    *id = w->id;
    return RK_OK;
}

rk_status rk_watch_set_add_log(rk_watch_set *ws, const rk_log_spec *spec, int *id,
                               rk_kube_error *kerr)
{
    const char *ns = spec->namespace && *spec->namespace
                         ? spec->namespace
                         : rk_kube_config(ws->k)->namespace;
    watch *w = calloc(1, sizeof *w);
    rk_buf path = RK_BUF_INIT, what = RK_BUF_INIT;
    if (!spec->pod || !*spec->pod) {
        free(w);
        memset(kerr, 0, sizeof *kerr);
        snprintf(kerr->reason, sizeof kerr->reason, "BadRequest");
        snprintf(kerr->message, sizeof kerr->message, "logs: no pod name given");
        kerr->exit_code = RK_EXIT_USAGE;
        return RK_ERR_INVALID;
    }
    rk_buf_puts(&path, "/api/v1/namespaces/");
    rk_url_escape(&path, ns ? ns : "default");
    rk_buf_puts(&path, "/pods/");
    rk_url_escape(&path, spec->pod);
    rk_buf_puts(&path, "/log");
    char sep = '?';
    if (spec->container && *spec->container) {
        rk_buf_printf(&path, "%ccontainer=", sep);
        rk_url_escape(&path, spec->container);
        sep = '&';
    }
    if (spec->follow)
        rk_buf_printf(&path, "%cfollow=true", sep), sep = '&';
    if (spec->previous)
        rk_buf_printf(&path, "%cprevious=true", sep), sep = '&';
    if (spec->since_seconds > 0)
        rk_buf_printf(&path, "%csinceSeconds=%ld", sep, spec->since_seconds), sep = '&';
    if (spec->tail_lines >= 0)
        rk_buf_printf(&path, "%ctailLines=%ld", sep, spec->tail_lines), sep = '&';
    if (spec->timestamps)
        rk_buf_printf(&path, "%ctimestamps=true", sep);
    rk_buf_printf(&what, "logs of pod %s/%s", ns ? ns : "default", spec->pod);
    if (spec->container && *spec->container)
        rk_buf_printf(&what, " container %s", spec->container);
    if (!w || rk_buf_status(&path, NULL) != RK_OK || rk_buf_status(&what, NULL) != RK_OK) {
        free(w);
        rk_buf_free(&path);
        rk_buf_free(&what);
        memset(kerr, 0, sizeof *kerr);
        snprintf(kerr->message, sizeof kerr->message, "out of memory");
        kerr->exit_code = RK_EXIT_FAILED;
        return RK_ERR_NOMEM;
    }
    w->set = ws;
    w->is_log = 1;
    w->log_path = rk_buf_detach(&path, NULL);
    w->log_what = rk_buf_detach(&what, NULL);
    w->kind = strdup("Pod");
    rk_frames_init(&w->split, 0);
    rk_lines_init(&w->lines, spec->max_line);
    w->id = ws->next_id++;
    rk_status st = open_stream(w, kerr);
    if (st != RK_OK) {
        free_watch(w);
        return st;
    }
    w->next = ws->watches;
    ws->watches = w;
    *id = w->id;
    return RK_OK;
}

void rk_watch_set_remove(rk_watch_set *ws, int id)
{
    for (watch **p = &ws->watches; *p; p = &(*p)->next) {
        if ((*p)->id == id) {
            watch *w = *p;
            *p = w->next;
            free_watch(w);
            break;
        }
    }
    drop_queued(ws, id);
}

static rk_watch_event *synthetic(watch *w, const char *type, rk_value *obj)
{
    rk_watch_event *ev = calloc(1, sizeof *ev);
    if (!ev) {
        rk_value_free(obj);
        return NULL;
    }
    ev->watch_id = w->id;
    snprintf(ev->type, sizeof ev->type, "%s", type);
    ev->root = obj;
    ev->object = obj;
    return ev;
}

/* A stand-in for an object that vanished while we could not watch. */
static rk_value *deleted_stub(const watch *w, const char *key)
{
    const char *slash = strchr(key, '/');
    rk_value *o = rk_map_new(), *md = rk_map_new();
    if (!o || !md) {
        rk_value_free(o);
        rk_value_free(md);
        return NULL;
    }
    rk_map_append(o, "apiVersion", 10, rk_string_new_cstr(w->api_version));
    rk_map_append(o, "kind", 4, rk_string_new_cstr(w->kind));
    rk_map_append(md, "name", 4, rk_string_new_cstr(slash ? slash + 1 : key));
    if (slash && slash != key)
        rk_map_append(md, "namespace", 9, rk_string_new(key, (size_t)(slash - key)));
    rk_map_append(o, "metadata", 8, md);
    return o;
}

/* After 410 Gone: lists the current state, reports the difference with what the watch
 * had seen, and continues from the list's resourceVersion. */
static rk_status relist(watch *w, rk_kube_error *kerr)
{
    rk_watch_set *ws = w->set;
    known_map now = {0};
    char *cont = NULL, *list_rv = NULL;
    rk_status st = RK_OK;
    rk_watch_event *first = NULL, **last = &first;
    do {
        rk_kube_call c;
        init_call(w, &c, RK_VERB_LIST);
        c.q.limit = RELIST_PAGE;
        c.q.continue_token = cont;
        rk_kube_prepared p;
        rk_http_response resp;
        rk_http_response_init(&resp);
        if ((st = rk_kube_prepare(ws->k, &c, &p, kerr)) != RK_OK)
            break;
        st = rk_kube_send(ws->k, &p, &resp, kerr);
        rk_kube_prepared_free(&p);
        rk_value *doc = NULL;
        rk_error err;
        if (st == RK_OK && (st = rk_json_decode(resp.body.data, resp.body.len, &doc, &err)) != RK_OK)
            rk_kube_error_from(kerr, &err, "InvalidResponse", RK_EXIT_FAILED);
        rk_http_response_free(&resp);
        if (st != RK_OK)
            break;
        const rk_value *md = rk_map_get_cstr(doc, "metadata");
        const rk_value *v = rk_map_get_cstr(md, "continue");
        char *prev = cont;
        cont = NULL;
        if (v && v->type == RK_STRING && v->as.str.len) {
            /* A server that hands out the token it was given would page forever. */
            if (prev && strcmp(prev, v->as.str.ptr) == 0) {
                free(prev);
                rk_value_free(doc);
                memset(kerr, 0, sizeof *kerr);
                snprintf(kerr->reason, sizeof kerr->reason, "InvalidResponse");
                snprintf(kerr->message, sizeof kerr->message, "list %s: the server answered "
                         "a page with the same continue token it was asked for", w->kind);
                kerr->exit_code = RK_EXIT_FAILED;
                st = RK_ERR_PARSE;
                break;
            }
            cont = strdup(v->as.str.ptr);
        }
        free(prev);
        v = rk_map_get_cstr(md, "resourceVersion");
        if (v && v->type == RK_STRING && !list_rv)
            list_rv = strdup(v->as.str.ptr);
        rk_value *items = rk_map_get_cstr(doc, "items");
        for (size_t i = 0; items && items->type == RK_SEQ && i < items->as.seq.len; i++) {
            const rk_value *it = items->as.seq.items[i];
            char key[600], *old = NULL;
            object_key(it, key, sizeof key);
            const char *rv = meta_str(it, "resourceVersion");
            known_put(&now, key, rv ? rv : "", &old);
            free(old);
            known *k = known_find(&w->seen, key);
            if (k && rv && strcmp(k->rv, rv) == 0)
                continue;
            rk_value *copy = rk_value_copy(it);
            /* List items carry no apiVersion/kind of their own. */
            if (copy && !rk_map_get_cstr(copy, "kind")) {
                rk_map_set(copy, "apiVersion", 10, rk_string_new_cstr(w->api_version));
                rk_map_set(copy, "kind", 4, rk_string_new_cstr(w->kind));
            }
            rk_watch_event *ev = copy ? synthetic(w, k ? "MODIFIED" : "ADDED", copy) : NULL;
            if (ev) {
                *last = ev;
                last = &ev->next;
            }
        }
        rk_value_free(doc);
    } while (cont);
    free(cont);
    if (st != RK_OK) {
        known_free(&now);
        free(list_rv);
        for (rk_watch_event *ev = first, *n; ev; ev = n) {
            n = ev->next;
            rk_watch_event_free(ev);
        }
        return st;
    }
    for (size_t i = 0; i < w->seen.nbuckets; i++) {
        for (known *e = w->seen.buckets[i]; e; e = e->next) {
            if (known_find(&now, e->key))
                continue;
            rk_value *stub = deleted_stub(w, e->key);
            rk_watch_event *ev = stub ? synthetic(w, "DELETED", stub) : NULL;
            if (ev) {
                *last = ev;
                last = &ev->next;
            }
        }
    }
    for (rk_watch_event *ev = first, *n; ev; ev = n) {
        n = ev->next;
        enqueue(ws, ev);
    }
    known_free(&w->seen);
    w->seen = now;
    free(w->rv);
    w->rv = list_rv;
    return RK_OK;
}

static void retry_later(watch *w)
{
    rk_watch_set *ws = w->set;
    ws->seed = ws->seed * 1103515245u + 12345u;
    double delay = w->failures <= 1 ? 0 : rk_http_backoff(w->failures - 1, -1,
                                                         ((ws->seed >> 8) & 0xffff) / 65535.0);
    w->retry_at = now_s() + delay;
}

/* The stream of w has ended: decide how to go on. */
static void handle_end(watch *w)
{
    rk_watch_set *ws = w->set;
    const rk_http_response *r = rk_http_stream_response(w->stream);
    const rk_error *sink = rk_http_stream_sink_error(w->stream);
    rk_kube_error kerr;
    if (w->failures < 0 || w->need_relist) {
        close_stream(w);
        return;
    }
    if (sink) {
        bad_stream(w, sink, &kerr);
        close_stream(w);
        fail_watch(w, &kerr);
        return;
    }
    if (r->failure == RK_NET_OK) {
        long code = r->status;
        if (code >= 200 && code < 300) {
            /* The server ended the watch (timeoutSeconds): carry on from where we are.
             * A server that keeps ending watches at once gets backoff, not a busy loop. */
            if (now_s() - w->opened_at < 1.0)
                w->failures++;
            close_stream(w);
            retry_later(w);
            return;
        }
        if (code == 410) {
            close_stream(w);
            w->need_relist = 1;
            return;
        }
        if (code == 401 && !w->auth_refreshed &&
            rk_kubeconfig_can_refresh(rk_kube_config(ws->k)) &&
            rk_kube_authenticate(ws->k, 1, &kerr) == RK_OK) {
            w->auth_refreshed = 1;
            close_stream(w);
            retry_later(w);
            return;
        }
        if ((code == 429 || code >= 500) && ++w->failures <= MAX_CONSECUTIVE_FAILURES) {
            close_stream(w);
            retry_later(w);
            return;
        }
        char what[300];
        snprintf(what, sizeof what, "watch %s", w->kind);
        rk_kube_status_decode(code, r->body.data ? r->body.data : "", r->body.len, what, &kerr);
        close_stream(w);
        fail_watch(w, &kerr);
        return;
    }
    if (r->failure == RK_NET_INTERRUPTED || ++w->failures > MAX_CONSECUTIVE_FAILURES) {
        rk_kube_transport_error(ws->k, r, &kerr);
        close_stream(w);
        fail_watch(w, &kerr);
        return;
    }
    close_stream(w);
    retry_later(w);
}

/* A log's stream has ended: the line without a newline, if any, then END. */
static void handle_log_end(watch *w)
{
    rk_watch_set *ws = w->set;
    const rk_http_response *r = rk_http_stream_response(w->stream);
    const rk_error *sink = rk_http_stream_sink_error(w->stream);
    int cut = rk_lines_pending(&w->lines) || w->lines.dropped;
    rk_lines_finish(&w->lines, on_line, w);
    rk_kube_error kerr;
    int failed = 1;
    if (sink) {
        rk_kube_error_from(&kerr, sink, "InternalError", RK_EXIT_FAILED);
    } else if (r->failure == RK_NET_OK) {
        if (r->status >= 200 && r->status < 300)
            failed = 0;
        else
            rk_kube_status_decode(r->status, r->body.data ? r->body.data : "", r->body.len,
                                  w->log_what, &kerr);
    } else {
        rk_kube_transport_error(ws->k, r, &kerr);
        if (r->failure == RK_NET_BROKEN || r->failure == RK_NET_OTHER)
            cut = 1;
    }
    rk_watch_event *ev = calloc(1, sizeof *ev);
    rk_kube_error *e = failed ? malloc(sizeof *e) : NULL;
    if (ev && (!failed || e)) {
        if (e)
            *e = kerr;
        ev->watch_id = w->id;
        snprintf(ev->type, sizeof ev->type, "END");
        ev->cut = cut;
        ev->error = e;
        enqueue(ws, ev);
    } else {
        free(ev);
        free(e);
    }
    close_stream(w);
    w->failures = -1; /* done: service() removes it */
}

/* Moves every watch along: ended streams, relists, reconnections, dead watches. Returns
 * the earliest time a reconnection is due (0: none). */
static double service(rk_watch_set *ws)
{
    double due = 0, t = now_s();
    for (watch **p = &ws->watches; *p;) {
        watch *w = *p;
        if (w->is_log && w->stream && rk_http_stream_done(w->stream))
            handle_log_end(w);
        else if (w->stream && (rk_http_stream_done(w->stream) || w->need_relist))
            handle_end(w);
        if (w->failures >= 0 && w->need_relist && !w->stream) {
            rk_kube_error kerr;
            w->need_relist = 0;
            if (relist(w, &kerr) != RK_OK) {
                if (strcmp(kerr.reason, "Interrupted") == 0 ||
                    ++w->failures > MAX_CONSECUTIVE_FAILURES)
                    fail_watch(w, &kerr);
                else
                    w->need_relist = 1, retry_later(w);
            } else {
                w->retry_at = t;
            }
        }
        if (w->failures >= 0 && !w->stream && !w->need_relist && w->retry_at <= now_s()) {
            rk_kube_error kerr;
            if (open_stream(w, &kerr) != RK_OK) {
                if (++w->failures > MAX_CONSECUTIVE_FAILURES)
                    fail_watch(w, &kerr);
                else
                    retry_later(w);
            }
        }
        if (w->failures < 0) {
            *p = w->next;
            free_watch(w);
            continue;
        }
        if (!w->stream && (!due || w->retry_at < due))
            due = w->retry_at;
        p = &w->next;
    }
    return due;
}

rk_status rk_watch_set_next(rk_watch_set *ws, double timeout, rk_watch_event **out,
                            rk_kube_error *kerr)
{
    *out = NULL;
    double deadline = timeout >= 0 ? now_s() + timeout : -1;
    for (;;) {
        double due = service(ws);
        if (ws->head) {
            rk_watch_event *ev = ws->head;
            ws->head = ev->next;
            if (!ws->head)
                ws->tail = NULL;
            ev->next = NULL;
            *out = ev;
            return RK_OK;
        }
        /* With nothing to watch, a bounded wait still waits (callers loop on it). */
        if (!ws->watches && deadline < 0)
            return RK_OK;
        double t = now_s();
        if (deadline >= 0 && t >= deadline)
            return RK_OK;
        double wait = deadline >= 0 ? deadline - t : 1.0;
        if (due && due - t < wait)
            wait = due - t;
        if (wait < 0)
            wait = 0;
        rk_error err;
        if (rk_http_wait(rk_kube_http(ws->k), (long)(wait * 1000) + 1, &err) != RK_OK) {
            memset(kerr, 0, sizeof *kerr);
            snprintf(kerr->reason, sizeof kerr->reason, "Interrupted");
            snprintf(kerr->message, sizeof kerr->message, "interrupted");
            kerr->exit_code = RK_EXIT_INTERRUPTED;
            return RK_ERR_NETWORK;
        }
    }
}
