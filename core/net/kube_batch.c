/* kube_batch.c — sending prepared requests (kube.h, "calls"): rk_kube_send_many, and the
 * same in steps (rk_kube_send_start / step / finish) for a fleet that drives many
 * clients from one loop. Both authenticate first and send the requests refused with 401
 * once more after a credential refresh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"

static void set_kerr(rk_kube_error *kerr, const char *reason, int exit_code, const char *msg)
{
    memset(kerr, 0, sizeof *kerr);
    kerr->exit_code = exit_code;
    snprintf(kerr->reason, sizeof kerr->reason, "%s", reason);
    snprintf(kerr->message, sizeof kerr->message, "%s", msg);
}

static int is_2xx(long status)
{
    return status >= 200 && status < 300;
}

static rk_status interrupted(rk_kube_error *kerr)
{
    set_kerr(kerr, "Interrupted", RK_EXIT_INTERRUPTED, "interrupted");
    return RK_ERR_NETWORK;
}

struct rk_kube_batch {
    rk_kube *k;
    rk_kube_prepared *ps;
    rk_http_response *resps;
    rk_http_request *reqs;
    size_t n, concurrency;
    rk_http_batch *hb;
};

void rk_kube_send_abandon(rk_kube_batch *b)
{
    if (!b)
        return;
    rk_http_batch_free(b->hb);
    free(b->reqs);
    free(b);
}

rk_status rk_kube_send_start(rk_kube *k, rk_kube_prepared *ps, rk_http_response *resps, size_t n,
                             size_t concurrency, rk_kube_batch **out, rk_kube_error *kerr)
{
    *out = NULL;
    for (size_t i = 0; i < n; i++)
        rk_http_response_init(&resps[i]);
    rk_status st = rk_kube_authenticate(k, 0, kerr);
    if (st != RK_OK)
        return st;
    rk_kube_batch *b = calloc(1, sizeof *b);
    rk_http_request *reqs = calloc(n ? n : 1, sizeof *reqs);
    rk_error err;
    if (!b || !reqs) {
        free(b);
        free(reqs);
        set_kerr(kerr, "InternalError", RK_EXIT_FAILED, "out of memory");
        return RK_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        reqs[i] = ps[i].http;
    *b = (rk_kube_batch){k, ps, resps, reqs, n, concurrency, NULL};
    if ((st = rk_http_batch_start(rk_kube_http(k), reqs, resps, n, concurrency, &b->hb, &err)) !=
        RK_OK) {
        rk_kube_send_abandon(b);
        set_kerr(kerr, "InternalError", RK_EXIT_FAILED, "out of memory");
        return st;
    }
    *out = b;
    return RK_OK;
}

int rk_kube_send_step(rk_kube_batch *b, double *wake)
{
    return rk_http_batch_step(b->hb, wake);
}

rk_status rk_kube_send_finish(rk_kube_batch *b, rk_status *statuses, rk_kube_error *kerr)
{
    rk_kube *k = b->k;
    rk_http_response *resps = b->resps;
    size_t n = b->n;
    rk_status st = rk_http_batch_interrupted(b->hb) ? RK_ERR_NETWORK : RK_OK;
    rk_http_batch_free(b->hb);
    b->hb = NULL;
    size_t *redo = malloc((n ? n : 1) * sizeof *redo);
    if (!redo) {
        rk_kube_send_abandon(b);
        set_kerr(kerr, "InternalError", RK_EXIT_FAILED, "out of memory");
        return RK_ERR_NOMEM;
    }
    rk_error err;
    /* Expired credentials: refresh once, then send the refused requests again. */
    size_t nredo = 0;
    for (size_t i = 0; i < n && st == RK_OK; i++)
        if (resps[i].failure == RK_NET_OK && resps[i].status == 401)
            redo[nredo++] = i;
    rk_kube_error auth_err;
    if (nredo && rk_kubeconfig_can_refresh(rk_kube_config(k)) &&
        rk_kube_authenticate(k, 1, &auth_err) == RK_OK) {
        rk_http_request *again = malloc(nredo * sizeof *again);
        rk_http_response *ar = malloc(nredo * sizeof *ar);
        if (again && ar) {
            for (size_t j = 0; j < nredo; j++)
                again[j] = b->ps[redo[j]].http;
            st = rk_http_do_many(rk_kube_http(k), again, ar, nredo, b->concurrency, &err);
            for (size_t j = 0; j < nredo; j++) {
                rk_http_response_free(&resps[redo[j]]);
                resps[redo[j]] = ar[j];
            }
        }
        free(again);
        free(ar);
    }
    free(redo);
    rk_kube_send_abandon(b);
    if (st != RK_OK)
        return interrupted(kerr);
    for (size_t i = 0; i < n; i++) {
        if (resps[i].failure == RK_NET_OK && is_2xx(resps[i].status))
            statuses[i] = RK_OK;
        else if (resps[i].failure == RK_NET_OK)
            statuses[i] = RK_ERR_HTTP;
        else
            statuses[i] = resps[i].failure == RK_NET_TIMEOUT ? RK_ERR_TIMEOUT : RK_ERR_NETWORK;
    }
    return RK_OK;
}

rk_status rk_kube_send_many(rk_kube *k, rk_kube_prepared *ps, rk_http_response *resps,
                            rk_status *statuses, size_t n, size_t concurrency, rk_kube_error *kerr)
{
    rk_kube_batch *b;
    rk_status st = rk_kube_send_start(k, ps, resps, n, concurrency, &b, kerr);
    if (st != RK_OK)
        return st;
    rk_error err;
    rk_http_batch_run(b->hb, &err);
    return rk_kube_send_finish(b, statuses, kerr);
}
