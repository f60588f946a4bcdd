/* kube_internal.h — what kube.c shares with kube_discovery.c: the client's fields and the
 * two helpers both use to fill errors and read JSON. Not a public API. */
#ifndef RK_KUBE_INTERNAL_H
#define RK_KUBE_INTERNAL_H

#include <stdio.h>

#include "kube.h"
#include "value.h"

struct rk_kube {
    rk_kubeconfig *kc;
    rk_http *http;
    FILE *log;
    double timeout_s; /* of one request, for messages */
    int authenticated;
    /* discovery cache: built-ins are not copied here, only what the server told us */
    rk_kube_resource *res;
    size_t nres, capres;
    char **fetched; /* group/versions whose resource list was read */
    size_t nfetched, capfetched;
};

/* Fills kerr (cleared first) with an HTTP code (0: none), a reason and a message. */
void rk_kube_set_error(rk_kube_error *kerr, long code, const char *reason, int exit_code,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The string at key in a JSON map, or NULL. */
const char *rk_kube_str_field(const rk_value *map, const char *key);
/* Frees the discovery cache (kube_discovery.c). */
void rk_kube_discovery_free(rk_kube *k);

#endif
