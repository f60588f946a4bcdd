/* watch.c — the watch set: its watches and logs on one curl multi handle, reconnection
 * with backoff, and the loop that hands out the next event (see watch.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "watch_internal.h"

#define DEFAULT_SERVER_TIMEOUT 290

double rk_watch_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void rk_watch_enqueue(rk_watch_set *ws, rk_watch_event *ev)
{
    ev->next = NULL;
    if (ws->tail)
        ws->tail->next = ev;
    else
        ws->head = ev;
    ws->tail = ev;
}

rk_status rk_watch_on_data(void *ud, const char *data, size_t len, rk_error *err)
{
    watch *w = ud;
    if (w->is_log)
        return rk_lines_feed(&w->lines, data, len, rk_watch_on_line, w, err);
    return rk_frames_feed(&w->split, data, len, rk_watch_on_frame, w, err);
}

void rk_watch_close_stream(watch *w)
{
    rk_http_stream_close(w->stream);
    w->stream = NULL;
    rk_frames_reset(&w->split);
}

void rk_watch_init_call(const watch *w, rk_kube_call *c, rk_kube_verb verb)
{
    rk_kube_call_init(c, verb);
    c->api_version = w->api_version;
    c->kind = w->kind;
    c->namespace = w->ns;
    c->all_namespaces = w->all_namespaces;
    c->q.label_selector = w->label_selector;
    c->q.field_selector = w->field_selector;
}

rk_status rk_watch_open_stream(watch *w, rk_kube_error *kerr)
{
    rk_watch_set *ws = w->set;
    if (w->is_log)
        return rk_watch_open_log(w, kerr);
    rk_kube_call c;
    rk_watch_init_call(w, &c, RK_VERB_WATCH);
    c.q.resource_version = w->rv;
    c.q.allow_bookmarks = 1;
    ws->seed = ws->seed * 1103515245u + 12345u;
    c.q.timeout_seconds = w->server_timeout ? w->server_timeout
                                            : DEFAULT_SERVER_TIMEOUT + (long)(ws->seed >> 16) % 60;
    return rk_watch_open_call(w, &c, NULL, kerr);
}

rk_status rk_watch_open_call(watch *w, const rk_kube_call *c, const char *accept,
                             rk_kube_error *kerr)
{
    rk_watch_set *ws = w->set;
    rk_kube_prepared p;
    rk_status st = rk_kube_authenticate(ws->k, 0, kerr);
    if (st == RK_OK)
        st = rk_kube_prepare(ws->k, c, &p, kerr);
    if (st != RK_OK)
        return st;
    if (accept)
        p.http.accept = accept;
    rk_error err;
    st = rk_http_stream_open(rk_kube_http(ws->k), &p.http, rk_watch_on_data, w, &w->stream, &err);
    rk_kube_prepared_free(&p);
    w->opened_at = rk_watch_now();
    if (st != RK_OK)
        rk_kube_error_from(kerr, &err, "InternalError", RK_EXIT_FAILED);
    return st;
}

void rk_watch_free_one(watch *w)
{
    rk_watch_close_stream(w);
    rk_frames_free(&w->split);
    rk_lines_free(&w->lines);
    free(w->log_path);
    free(w->log_what);
    rk_watch_known_free(&w->seen);
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
void rk_watch_fail(watch *w, const rk_kube_error *why)
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
    rk_watch_enqueue(w->set, ev);
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
        rk_watch_free_one(w);
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
            rk_watch_free_one(w);
        memset(kerr, 0, sizeof *kerr);
        snprintf(kerr->message, sizeof kerr->message, "out of memory");
        kerr->exit_code = RK_EXIT_FAILED;
        return RK_ERR_NOMEM;
    }
    rk_status st = rk_watch_open_stream(w, kerr);
    if (st != RK_OK) {
        rk_watch_free_one(w);
        return st;
    }
    w->id = ws->next_id++;
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
            rk_watch_free_one(w);
            break;
        }
    }
    drop_queued(ws, id);
}

static void retry_later(watch *w)
{
    rk_watch_set *ws = w->set;
    ws->seed = ws->seed * 1103515245u + 12345u;
    double delay = w->failures <= 1
                       ? 0
                       : rk_http_backoff(w->failures - 1, -1, ((ws->seed >> 8) & 0xffff) / 65535.0);
    w->retry_at = rk_watch_now() + delay;
}

/* The stream of w has ended: decide how to go on. */
static void handle_end(watch *w)
{
    rk_watch_set *ws = w->set;
    const rk_http_response *r = rk_http_stream_response(w->stream);
    const rk_error *sink = rk_http_stream_sink_error(w->stream);
    rk_kube_error kerr;
    if (w->failures < 0 || w->need_relist) {
        rk_watch_close_stream(w);
        return;
    }
    if (sink) {
        rk_watch_bad_stream(w, sink, &kerr);
        rk_watch_close_stream(w);
        rk_watch_fail(w, &kerr);
        return;
    }
    if (r->failure == RK_NET_OK) {
        long code = r->status;
        if (code >= 200 && code < 300) {
            /* The server ended the watch (timeoutSeconds): carry on from where we are.
             * A server that keeps ending watches at once gets backoff, not a busy loop. */
            if (rk_watch_now() - w->opened_at < 1.0)
                w->failures++;
            rk_watch_close_stream(w);
            retry_later(w);
            return;
        }
        if (code == 410) {
            rk_watch_close_stream(w);
            w->need_relist = 1;
            return;
        }
        if (code == 401 && !w->auth_refreshed && rk_kubeconfig_can_refresh(rk_kube_config(ws->k)) &&
            rk_kube_authenticate(ws->k, 1, &kerr) == RK_OK) {
            w->auth_refreshed = 1;
            rk_watch_close_stream(w);
            retry_later(w);
            return;
        }
        if ((code == 429 || code >= 500) && ++w->failures <= MAX_CONSECUTIVE_FAILURES) {
            rk_watch_close_stream(w);
            retry_later(w);
            return;
        }
        char what[300];
        snprintf(what, sizeof what, "watch %s", w->kind);
        rk_kube_status_decode(code, r->body.data ? r->body.data : "", r->body.len, what, &kerr);
        rk_watch_close_stream(w);
        rk_watch_fail(w, &kerr);
        return;
    }
    if (r->failure == RK_NET_INTERRUPTED || ++w->failures > MAX_CONSECUTIVE_FAILURES) {
        rk_kube_transport_error(ws->k, r, &kerr);
        rk_watch_close_stream(w);
        rk_watch_fail(w, &kerr);
        return;
    }
    rk_watch_close_stream(w);
    retry_later(w);
}

/* Moves every watch along: ended streams, relists, reconnections, dead watches. Returns
 * the earliest time a reconnection is due (0: none). */
static double service(rk_watch_set *ws)
{
    double due = 0, t = rk_watch_now();
    for (watch **p = &ws->watches; *p;) {
        watch *w = *p;
        if (w->is_log && w->stream && rk_http_stream_done(w->stream))
            rk_watch_log_end(w);
        else if (w->stream && (rk_http_stream_done(w->stream) || w->need_relist))
            handle_end(w);
        if (w->failures >= 0 && w->need_relist && !w->stream) {
            rk_kube_error kerr;
            w->need_relist = 0;
            if (rk_watch_relist(w, &kerr) != RK_OK) {
                if (strcmp(kerr.reason, "Interrupted") == 0 ||
                    ++w->failures > MAX_CONSECUTIVE_FAILURES)
                    rk_watch_fail(w, &kerr);
                else
                    w->need_relist = 1, retry_later(w);
            } else {
                w->retry_at = t;
            }
        }
        if (w->failures >= 0 && !w->stream && !w->need_relist && w->retry_at <= rk_watch_now()) {
            rk_kube_error kerr;
            if (rk_watch_open_stream(w, &kerr) != RK_OK) {
                if (++w->failures > MAX_CONSECUTIVE_FAILURES)
                    rk_watch_fail(w, &kerr);
                else
                    retry_later(w);
            }
        }
        if (w->failures < 0) {
            *p = w->next;
            rk_watch_free_one(w);
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
    double deadline = timeout >= 0 ? rk_watch_now() + timeout : -1;
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
        double t = rk_watch_now();
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
