/* http_group.c — the transport's non-blocking batches and client groups (http.h,
 * "groups and non-blocking batches"): rk_http_do_many in steps, and many clients on
 * one curl multi handle with one wait for all of them, for a fleet that updates many
 * clusters from one process without threads. */
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

struct rk_http_batch {
    rk_http *h;
    xfer *xs;
    size_t n, next, active, done, concurrency;
    int interrupted;
};

double rk_http_now(void)
{
    return rk_http_x_now();
}

rk_status rk_http_batch_start(rk_http *h, const rk_http_request *reqs, rk_http_response *resps,
                              size_t n, size_t concurrency, rk_http_batch **out, rk_error *err)
{
    *out = NULL;
    rk_http_batch *b = calloc(1, sizeof *b);
    xfer *xs = calloc(n ? n : 1, sizeof *xs);
    if (!b || !xs) {
        free(b);
        free(xs);
        return rk_error_set(err, RK_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        xs[i].h = h;
        xs[i].req = &reqs[i];
        xs[i].resp = &resps[i];
        xs[i].state = XF_IDLE;
        rk_http_response_init(&resps[i]);
    }
    b->h = h;
    b->xs = xs;
    b->n = n;
    b->concurrency = concurrency ? concurrency : DEFAULT_CONCURRENCY;
    *out = b;
    return RK_OK;
}

static void batch_interrupt(rk_http_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->xs[i].state != XF_DONE)
            rk_http_x_interrupt(&b->xs[i]);
    b->interrupted = 1;
    b->done = b->n;
}

int rk_http_batch_step(rk_http_batch *b, double *wake)
{
    xfer *xs = b->xs;
    *wake = 0;
    if (b->done >= b->n)
        return 1;
    if (rk_http_interrupted()) {
        batch_interrupt(b);
        return 1;
    }
    for (size_t i = 0; i < b->next; i++) {
        if (xs[i].state == XF_DONE && !xs[i].counted) {
            xs[i].counted = 1;
            rk_http_x_release(&xs[i]);
            b->active--;
            b->done++;
        }
    }
    double t = rk_http_x_now();
    for (size_t i = 0; i < b->next; i++) {
        if (xs[i].state == XF_WAITING) {
            if (xs[i].not_before <= t)
                rk_http_x_start(&xs[i]);
            else if (!*wake || xs[i].not_before < *wake)
                *wake = xs[i].not_before;
        }
    }
    while (b->active < b->concurrency && b->next < b->n) {
        rk_http_x_start(&xs[b->next++]);
        b->active++;
    }
    /* start_attempt may have failed at once (out of memory): count those now. */
    for (size_t i = 0; i < b->next; i++) {
        if (xs[i].state == XF_DONE && !xs[i].counted) {
            xs[i].counted = 1;
            rk_http_x_release(&xs[i]);
            b->active--;
            b->done++;
        }
    }
    return b->done >= b->n;
}

rk_status rk_http_batch_run(rk_http_batch *b, rk_error *err)
{
    for (;;) {
        double wake;
        if (rk_http_batch_step(b, &wake))
            break;
        double t = rk_http_x_now(), soonest = t + POLL_SLICE_MS / 1000.0;
        if (wake && wake < soonest)
            soonest = wake;
        rk_http_x_pump(b->h, (long)((soonest - t) * 1000) + 1, 0);
    }
    if (b->interrupted)
        return rk_error_set(err, RK_ERR_NETWORK, "interrupted");
    return RK_OK;
}

int rk_http_batch_interrupted(const rk_http_batch *b)
{
    return b->interrupted;
}

void rk_http_batch_free(rk_http_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++) {
        if (b->xs[i].state != XF_DONE && b->xs[i].state != XF_IDLE)
            rk_http_x_interrupt(&b->xs[i]);
        rk_http_x_release(&b->xs[i]);
    }
    free(b->xs);
    free(b);
}

rk_status rk_http_do_many(rk_http *h, const rk_http_request *reqs, rk_http_response *resps,
                          size_t n, size_t concurrency, rk_error *err)
{
    rk_http_batch *b;
    rk_status st = rk_http_batch_start(h, reqs, resps, n, concurrency, &b, err);
    if (st != RK_OK)
        return st;
    st = rk_http_batch_run(b, err);
    rk_http_batch_free(b);
    return st;
}

/* ---- groups ----------------------------------------------------------------------- */

rk_status rk_http_group_new(rk_http_group **out, rk_error *err)
{
    *out = NULL;
    rk_status st = rk_http_x_global_init(err);
    if (st != RK_OK)
        return st;
    rk_http_group *g = calloc(1, sizeof *g);
    if (!g || !(g->multi = curl_multi_init())) {
        free(g);
        return rk_error_set(err, RK_ERR_NOMEM, "out of memory");
    }
    g->refs = 1;
    curl_multi_setopt(g->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    /* Connections to the same API server are shared by the clients whose TLS settings
     * match (libcurl compares them); room for a few per client of a large fleet. */
    curl_multi_setopt(g->multi, CURLMOPT_MAXCONNECTS, 1024L);
    *out = g;
    return RK_OK;
}

void rk_http_group_free(rk_http_group *g)
{
    rk_http_x_group_release(g);
}

unsigned long rk_http_news(const rk_http *h)
{
    return h->news;
}

rk_status rk_http_group_wait(rk_http_group *g, long timeout_ms, rk_error *err)
{
    if (rk_http_interrupted())
        return rk_error_set(err, RK_ERR_NETWORK, "interrupted");
    if (timeout_ms > POLL_SLICE_MS)
        timeout_ms = POLL_SLICE_MS;
    int running = 0;
    unsigned long before = g->news;
    curl_multi_perform(g->multi, &running);
    rk_http_x_collect(g->multi);
    if (g->news == before && timeout_ms > 0) {
        curl_multi_poll(g->multi, NULL, 0, (int)timeout_ms, NULL);
        curl_multi_perform(g->multi, &running);
        rk_http_x_collect(g->multi);
    }
    return RK_OK;
}
