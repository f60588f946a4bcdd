/* watch_logs.c — pod logs as streams of lines in a watch set: the log request, LINE
 * events from the line splitter, and the END event when the stream stops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watch_internal.h"

rk_status rk_watch_on_line(void *ud, const char *line, size_t len, size_t dropped, int partial)
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
    rk_watch_enqueue(w->set, ev);
    return RK_OK;
}

rk_status rk_watch_open_log(watch *w, rk_kube_error *kerr)
{
    rk_kube_call c;
    rk_kube_call_init(&c, RK_VERB_RAW);
    c.method = "GET";
    c.path = w->log_path;
    return rk_watch_open_call(w, &c, "text/plain, */*", kerr);
}

rk_status rk_watch_set_add_log(rk_watch_set *ws, const rk_log_spec *spec, int *id,
                               rk_kube_error *kerr)
{
    const char *ns =
        spec->namespace && *spec->namespace ? spec->namespace : rk_kube_config(ws->k)->namespace;
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
    rk_status st = rk_watch_open_stream(w, kerr);
    if (st != RK_OK) {
        rk_watch_free_one(w);
        return st;
    }
    w->next = ws->watches;
    ws->watches = w;
    *id = w->id;
    return RK_OK;
}

/* A log's stream has ended: the line without a newline, if any, then END. */
void rk_watch_log_end(watch *w)
{
    rk_watch_set *ws = w->set;
    const rk_http_response *r = rk_http_stream_response(w->stream);
    const rk_error *sink = rk_http_stream_sink_error(w->stream);
    int cut = rk_lines_pending(&w->lines) || w->lines.dropped;
    rk_lines_finish(&w->lines, rk_watch_on_line, w);
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
        rk_watch_enqueue(ws, ev);
    } else {
        free(ev);
        free(e);
    }
    rk_watch_close_stream(w);
    w->failures = -1; /* done: service() removes it */
}
