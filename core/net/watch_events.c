/* watch_events.c — decoding watch event streams: frames to events, what each watch has
 * seen (repeats dropped, ADDED after a reconnect made MODIFIED), and the relist that
 * reports the difference after 410 Gone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "watch_internal.h"

#define RELIST_PAGE 500

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

static size_t hash_key(const char *s)
{
    size_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

void rk_watch_known_free(known_map *m)
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

/* ---- frames to events ----------------------------------------------------------- */

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

/* An answer that is not a watch stream: say which watch, and who sent it. */
void rk_watch_bad_stream(watch *w, const rk_error *err, rk_kube_error *kerr)
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

rk_status rk_watch_on_frame(void *ud, const char *frame, size_t len)
{
    watch *w = ud;
    char type[16];
    rk_value *root;
    rk_error err;
    if (rk_watch_parse_event(frame, len, type, sizeof type, &root, &err) != RK_OK) {
        rk_kube_error kerr;
        rk_watch_bad_stream(w, &err, &kerr);
        rk_watch_fail(w, &kerr);
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
            rk_watch_fail(w, &kerr);
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
    rk_watch_enqueue(w->set, ev);
    return RK_OK;
}

/* ---- relist after 410 Gone -------------------------------------------------------- */

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
rk_status rk_watch_relist(watch *w, rk_kube_error *kerr)
{
    rk_watch_set *ws = w->set;
    known_map now = {0};
    char *cont = NULL, *list_rv = NULL;
    rk_status st = RK_OK;
    rk_watch_event *first = NULL, **last = &first;
    do {
        rk_kube_call c;
        rk_watch_init_call(w, &c, RK_VERB_LIST);
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
        if (st == RK_OK &&
            (st = rk_json_decode(resp.body.data, resp.body.len, &doc, &err)) != RK_OK)
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
                snprintf(kerr->message, sizeof kerr->message,
                         "list %s: the server answered "
                         "a page with the same continue token it was asked for",
                         w->kind);
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
        rk_watch_known_free(&now);
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
        rk_watch_enqueue(ws, ev);
    }
    rk_watch_known_free(&w->seen);
    w->seen = now;
    free(w->rv);
    w->rv = list_rv;
    return RK_OK;
}
