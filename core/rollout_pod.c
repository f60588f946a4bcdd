/* The Pod readiness rule (rk_rollout_pod) and the classification of image pull errors
 * (rk_rollout_pull_error). Reason codes: rollout.c. */
#include "rollout.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rollout_internal.h"

/* ---- Pod ------------------------------------------------------------------------------ */

static const char *const fatal_waiting_reasons[] = {
    "CrashLoopBackOff",     "ErrImagePull",      "ImagePullBackOff",
    "ErrImageNeverPull",    "InvalidImageName",  "CreateContainerConfigError",
    "CreateContainerError", "RunContainerError", NULL,
};

static int is_fatal_waiting(const char *reason)
{
    for (const char *const *p = fatal_waiting_reasons; *p; p++)
        if (streq(reason, *p))
            return 1;
    return 0;
}

static int is_image_problem(const char *reason)
{
    return streq(reason, "ErrImagePull") || streq(reason, "ImagePullBackOff") ||
           streq(reason, "ErrImageNeverPull") || streq(reason, "InvalidImageName");
}

/* Pull error wording, matched case-insensitively as whole words (a digest's hex or a
 * port number never matches "503"). Real kubelet messages, e.g.:
 *   containerd  failed to pull and unpack image "x": failed to resolve reference "x": x:
 *               not found | pull access denied, repository does not exist or may require
 *               authorization: server message: insufficient_scope: authorization failed |
 *               failed to authorize: failed to fetch anonymous token: unexpected status
 *               from GET request to https://auth.docker.io/token?...: 401 Unauthorized |
 *               failed to copy: httpReadSeeker: failed open: unexpected status code
 *               https://...: 503 Service Unavailable | dial tcp 1.2.3.4:443: i/o timeout
 *   CRI-O       reading manifest x in docker.io/library/y: manifest unknown | requested
 *               access to the resource is denied | toomanyrequests: You have reached your
 *               pull rate limit
 *   kubelet     couldn't parse image reference "x": invalid reference format */
static const char *const transient_pull_words[] = {
    "i/o timeout",
    "timeout",
    "timed out",
    "deadline exceeded",
    "connection refused",
    "connection reset",
    "no route to host",
    "network is unreachable",
    "no such host",
    "temporary failure",
    "try again",
    "unexpected eof",
    "eof",
    "tls handshake",
    "too many requests",
    "toomanyrequests",
    "rate limit",
    "internal server error",
    "bad gateway",
    "service unavailable",
    "gateway timeout",
    "500",
    "502",
    "503",
    "504",
    "429",
    NULL,
};

static const char *const permanent_pull_words[] = {
    "not found",
    "manifest unknown",
    "name unknown",
    "repository does not exist",
    "pull access denied",
    "access to the resource is denied",
    "denied",
    "unauthorized",
    "authentication required",
    "authorization failed",
    "forbidden",
    "401",
    "403",
    "invalid reference format",
    "invalid reference",
    "couldn't parse image",
    NULL,
};

static int word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* Whether word occurs in s (case-insensitive) with no letter or digit either side. */
static int has_word(const char *s, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = s; *p; p++) {
        if (strncasecmp(p, word, n) != 0)
            continue;
        if ((p == s || !word_char(p[-1])) && !word_char(p[n]))
            return 1;
    }
    return 0;
}

rk_pull_class rk_rollout_pull_error(const char *message, const char **why)
{
    if (why)
        *why = "";
    if (is_empty(message))
        return RK_PULL_UNKNOWN;
    for (const char *const *w = transient_pull_words; *w; w++)
        if (has_word(message, *w)) {
            if (why)
                *why = *w;
            return RK_PULL_TRANSIENT;
        }
    for (const char *const *w = permanent_pull_words; *w; w++)
        if (has_word(message, *w)) {
            if (why)
                *why = *w;
            return RK_PULL_PERMANENT;
        }
    return RK_PULL_UNKNOWN;
}

/* ErrImagePull and ImagePullBackOff fail a pod only when the message says the image
 * cannot be had; otherwise the kubelet is retrying and the pod is progressing. */
static int is_retried_pull(const char *reason, const char *message)
{
    return (streq(reason, "ErrImagePull") || streq(reason, "ImagePullBackOff")) &&
           rk_rollout_pull_error(message, NULL) != RK_PULL_PERMANENT;
}

typedef struct {
    reader *r;
    const rk_value *pod;
    rk_verdict *v;
    int failures;
    /* The first container whose image pull the kubelet retries (not a failure). */
    const char *retry_container, *retry_reason, *retry_message, *retry_image;
    int retry_init;
} pod_check;

/* spec.containers[name] (or initContainers): for the image and the memory limit. */
static const rk_value *container_spec(pod_check *pc, int init, const char *name)
{
    const char *path = init ? "spec.initContainers" : "spec.containers";
    const rk_value *list = rk_ro_get_seq(pc->r, pc->pod, NULL, path);
    for (size_t i = 0; i < rk_value_len(list); i++) {
        const rk_value *c = rk_seq_get(list, i);
        if (c->type != RK_MAP)
            continue;
        const rk_value *n = rk_map_get_cstr(c, "name");
        if (n && n->type == RK_STRING && streq(n->as.str.ptr, name))
            return c;
    }
    return NULL;
}

/* ", memory limit 256Mi" when the container has one: the number an OOMKill is about. */
static void append_memory_limit(pod_check *pc, int init, const char *name)
{
    const rk_value *spec = container_spec(pc, init, name);
    const rk_value *limit =
        spec ? rk_ro_lookup(pc->r, spec, NULL, "resources.limits.memory") : NULL;
    int64_t bytes;
    if (limit && limit->type == RK_STRING)
        rk_ro_verdict_append(pc->v, ", memory limit %s", limit->as.str.ptr);
    else if (limit && rk_ro_as_integer(limit, &bytes))
        rk_ro_verdict_append(pc->v, ", memory limit %" PRId64, bytes);
}

static void append_restarts(rk_verdict *v, int64_t restarts, const char *sep)
{
    if (restarts > 0)
        rk_ro_verdict_append(v, "%srestarted %" PRId64 " time%s", sep, restarts,
                             restarts == 1 ? "" : "s");
}

/* Starts one failure: "pod P: " the first time, "; " after that. */
static void begin_failure(pod_check *pc, int init, const char *container)
{
    if (pc->failures++ == 0)
        rk_ro_verdict_append(pc->v, "pod %s: ", pc->r->name);
    else
        rk_ro_verdict_append(pc->v, "; ");
    rk_ro_verdict_append(pc->v, "%s %s: ", init ? "init container" : "container", container);
}

/* Reports the container status cs if it shows a failure; the pod is failed then. */
static void check_container(pod_check *pc, const rk_value *cs, const char *base, int init)
{
    reader *r = pc->r;
    rk_verdict *v = pc->v;
    const char *name = rk_ro_get_text(r, cs, base, "name");
    int64_t restarts = rk_ro_get_int(r, cs, base, "restartCount", 0);
    int ready = rk_ro_get_bool(r, cs, base, "ready");
    const rk_value *waiting = rk_ro_get_map(r, cs, base, "state.waiting");
    const rk_value *term = rk_ro_get_map(r, cs, base, "state.terminated");
    const rk_value *last = rk_ro_get_map(r, cs, base, "lastState.terminated");
    const char *w_reason = waiting ? rk_ro_get_str(r, waiting, base, "reason") : NULL;
    const char *w_message = waiting ? rk_ro_get_text(r, waiting, base, "message") : "";
    const char *t_reason = term ? rk_ro_get_text(r, term, base, "reason") : "";
    int64_t t_exit = term ? rk_ro_get_int(r, term, base, "exitCode", 0) : 0;
    const char *t_message = term ? rk_ro_get_text(r, term, base, "message") : "";
    const char *l_reason = last ? rk_ro_get_text(r, last, base, "reason") : "";
    int64_t l_exit = last ? rk_ro_get_int(r, last, base, "exitCode", 0) : 0;
    if (r->status != RK_OK)
        return;

    if (is_retried_pull(w_reason, w_message)) {
        if (!pc->retry_container) {
            const char *image = rk_ro_get_str(r, cs, base, "image");
            const rk_value *spec = container_spec(pc, init, name);
            if (is_empty(image) && spec) {
                const rk_value *img = rk_map_get_cstr(spec, "image");
                image = img && img->type == RK_STRING ? img->as.str.ptr : NULL;
            }
            pc->retry_container = name;
            pc->retry_reason = w_reason;
            pc->retry_message = w_message;
            pc->retry_image = image;
            pc->retry_init = init;
        }
    } else if (is_fatal_waiting(w_reason)) {
        begin_failure(pc, init, name);
        rk_ro_verdict_append(v, "%s", w_reason);
        rk_ro_verdict_reason(v, w_reason);
        if (strcmp(w_reason, "CrashLoopBackOff") == 0) {
            append_restarts(v, restarts, " (");
            if (restarts > 0)
                rk_ro_verdict_append(v, ")");
        } else if (is_image_problem(w_reason)) {
            const char *image = rk_ro_get_str(r, cs, base, "image");
            const rk_value *spec = container_spec(pc, init, name);
            if (is_empty(image) && spec) {
                const rk_value *img = rk_map_get_cstr(spec, "image");
                image = img && img->type == RK_STRING ? img->as.str.ptr : NULL;
            }
            if (!is_empty(image))
                rk_ro_verdict_append(v, " (image \"%s\")", image);
        }
        if (*w_message) {
            rk_ro_verdict_append(v, ": ");
            rk_ro_verdict_text(v, w_message);
        }
        if (last) {
            rk_ro_verdict_append(v, " (last exit: %s, code %" PRId64,
                                 *l_reason ? l_reason : "Error", l_exit);
            if (strcmp(l_reason, "OOMKilled") == 0) {
                append_memory_limit(pc, init, name);
                rk_ro_verdict_reason(v, "OOMKilled");
            }
            rk_ro_verdict_append(v, ")");
        }
    } else if (term && (t_exit != 0 || strcmp(t_reason, "OOMKilled") == 0)) {
        int oom = strcmp(t_reason, "OOMKilled") == 0;
        begin_failure(pc, init, name);
        rk_ro_verdict_append(v, "%s (exit code %" PRId64, *t_reason ? t_reason : "Error", t_exit);
        append_restarts(v, restarts, ", ");
        if (oom)
            append_memory_limit(pc, init, name);
        rk_ro_verdict_append(v, ")");
        if (*t_message) {
            rk_ro_verdict_append(v, ": ");
            rk_ro_verdict_text(v, t_message);
        }
        rk_ro_verdict_reason(v, oom    ? "OOMKilled"
                                : init ? "InitContainerFailed"
                                       : "ContainerFailed");
    } else if (last && !ready && strcmp(l_reason, "OOMKilled") == 0) {
        /* Restarted after running out of memory and not Ready again: it will happen again. */
        begin_failure(pc, init, name);
        rk_ro_verdict_append(v, "OOMKilled (last exit code %" PRId64, l_exit);
        append_restarts(v, restarts, ", ");
        append_memory_limit(pc, init, name);
        rk_ro_verdict_append(v, ")");
        rk_ro_verdict_reason(v, "OOMKilled");
    }
}

static void check_containers(pod_check *pc, const char *path, int init)
{
    const rk_value *list = rk_ro_get_seq(pc->r, pc->pod, NULL, path);
    for (size_t i = 0; i < rk_value_len(list) && pc->r->status == RK_OK; i++) {
        char base[64];
        snprintf(base, sizeof base, "%s[%zu]", path, i);
        const rk_value *cs = rk_seq_get(list, i);
        if (cs->type == RK_MAP)
            check_container(pc, cs, base, init);
        else if (cs->type != RK_NULL)
            rk_ro_type_error(pc->r, NULL, base, strlen(base), RK_MAP, cs);
    }
}

/* The first init container that has not finished, as "name: running" or "name: Reason". */
static int pending_init_container(reader *r, const rk_value *pod, rk_verdict *v)
{
    const rk_value *list = rk_ro_get_seq(r, pod, NULL, "status.initContainerStatuses");
    for (size_t i = 0; i < rk_value_len(list); i++) {
        const rk_value *cs = rk_seq_get(list, i);
        if (cs->type != RK_MAP)
            continue;
        const rk_value *term = rk_ro_lookup(r, cs, NULL, "state.terminated");
        if (term || rk_ro_get_bool(r, cs, NULL, "ready"))
            continue; /* done, or a sidecar that is up */
        const char *name = rk_ro_get_text(r, cs, NULL, "name");
        const char *w_reason = rk_ro_get_str(r, cs, NULL, "state.waiting.reason");
        if (rk_ro_has(r, cs, "state.running"))
            rk_ro_verdict_append(v, " (init container %s: running)", name);
        else
            rk_ro_verdict_append(v, " (init container %s: %s)", name,
                                 is_empty(w_reason) ? "waiting" : w_reason);
        return 1;
    }
    return 0;
}

/* Lists containers (comma-separated) that are not ready; with waiting reasons when
 * with_reason. Returns how many. The first waiting reason goes to *first_reason. */
static size_t unready_containers(reader *r, const rk_value *pod, rk_verdict *v, int with_reason,
                                 const char **first_reason)
{
    const rk_value *list = rk_ro_get_seq(r, pod, NULL, "status.containerStatuses");
    size_t n = 0;
    for (size_t i = 0; i < rk_value_len(list); i++) {
        const rk_value *cs = rk_seq_get(list, i);
        if (cs->type != RK_MAP || rk_ro_get_bool(r, cs, NULL, "ready"))
            continue;
        const char *w_reason = rk_ro_get_str(r, cs, NULL, "state.waiting.reason");
        rk_ro_verdict_append(v, "%s%s", n++ ? ", " : "", rk_ro_get_text(r, cs, NULL, "name"));
        if (with_reason && !is_empty(w_reason))
            rk_ro_verdict_append(v, ": %s", w_reason);
        if (first_reason && !*first_reason && !is_empty(w_reason))
            *first_reason = w_reason;
    }
    return n;
}

rk_status rk_rollout_pod(const rk_value *obj, rk_verdict *out, rk_error *err)
{
    reader r;
    if (!rk_ro_reader_start(&r, obj, "pod", out, err))
        return r.status;
    const char *name = r.name;
    const char *phase = rk_ro_get_text(&r, obj, NULL, "status.phase");
    int deleting = rk_ro_has(&r, obj, "metadata.deletionTimestamp");
    const rk_value *ready_cond = rk_ro_find_condition(&r, obj, "Ready");
    const rk_value *scheduled = rk_ro_find_condition(&r, obj, "PodScheduled");
    const rk_value *initialized = rk_ro_find_condition(&r, obj, "Initialized");
    const char *node = rk_ro_get_str(&r, obj, NULL, "spec.nodeName");
    if (r.status != RK_OK)
        return rk_ro_reader_finish(&r, out);

    if (deleting) {
        rk_ro_verdict_set(out, RK_ROLLOUT_PROGRESSING, "Terminating", "pod %s is terminating",
                          name);
        return RK_OK;
    }
    if (strcmp(phase, "Succeeded") == 0) {
        rk_ro_verdict_set(out, RK_ROLLOUT_READY, "PodCompleted", "pod %s has completed", name);
        return RK_OK;
    }
    if (strcmp(phase, "Failed") == 0) {
        const char *reason = rk_ro_get_text(&r, obj, NULL, "status.reason");
        const char *message = rk_ro_get_text(&r, obj, NULL, "status.message");
        pod_check pc = {.r = &r, .pod = obj, .v = out, .failures = 1};
        out->state = RK_ROLLOUT_FAILED;
        rk_ro_verdict_append(out, "pod %s: Failed", name);
        if (*reason)
            rk_ro_verdict_append(out, ": %s", reason);
        if (*message) {
            rk_ro_verdict_append(out, ": ");
            rk_ro_verdict_text(out, message);
        }
        rk_ro_verdict_reason(out, *reason ? reason : "PodFailed");
        check_containers(&pc, "status.initContainerStatuses", 1);
        check_containers(&pc, "status.containerStatuses", 0);
        return rk_ro_reader_finish(&r, out);
    }
    if (rk_ro_condition_true(&r, ready_cond)) {
        rk_ro_verdict_set(out, RK_ROLLOUT_READY, "PodReady", "pod %s is ready", name);
        return rk_ro_reader_finish(&r, out);
    }
    const char *sched_reason =
        scheduled ? rk_ro_get_text(&r, scheduled, "condition", "reason") : "";
    const char *sched_message =
        scheduled ? rk_ro_get_text(&r, scheduled, "condition", "message") : "";
    if (streq(rk_ro_get_str(&r, scheduled, "condition", "status"), "False") &&
        strcmp(sched_reason, "Unschedulable") == 0) {
        if (strstr(sched_message, "unbound immediate PersistentVolumeClaims")) {
            /* Every dynamically provisioned claim passes through this for a few seconds.
             * A claim that never binds shows up on the claim (and its events) instead. */
            rk_ro_verdict_set(out, RK_ROLLOUT_PROGRESSING, "WaitingForVolumeBinding",
                              "pod %s: waiting for its PersistentVolumeClaims to be bound (", name);
            rk_ro_verdict_text(out, sched_message);
            rk_ro_verdict_append(out, ")");
            return rk_ro_reader_finish(&r, out);
        }
        /* A claim that does not exist is a missing object, like a missing ConfigMap: failed.
         * Anything else may change (a cluster autoscaler adds a node, someone labels or
         * uncordons one): progressing with reason Unschedulable, and the caller decides
         * how long to wait, from the nodes, the autoscaler's events and the time
         * (rigelk8s.rollout: --unschedulable-grace). */
        int missing_claim = strstr(sched_message, "persistentvolumeclaim \"") &&
                            strstr(sched_message, "\" not found");
        rk_ro_verdict_set(out, missing_claim ? RK_ROLLOUT_FAILED : RK_ROLLOUT_PROGRESSING,
                          "Unschedulable", "pod %s: Unschedulable", name);
        if (*sched_message) {
            rk_ro_verdict_append(out, ": ");
            rk_ro_verdict_text(out, sched_message);
        }
        return rk_ro_reader_finish(&r, out);
    }

    pod_check pc = {.r = &r, .pod = obj, .v = out, .failures = 0};
    out->state = RK_ROLLOUT_FAILED;
    check_containers(&pc, "status.initContainerStatuses", 1);
    check_containers(&pc, "status.containerStatuses", 0);
    if (r.status != RK_OK || pc.failures > 0)
        return rk_ro_reader_finish(&r, out);

    out->state = RK_ROLLOUT_PROGRESSING;
    if (pc.retry_container) {
        rk_ro_verdict_set(out, RK_ROLLOUT_PROGRESSING, "ImagePullRetrying", "pod %s: %s %s: %s",
                          name, pc.retry_init ? "init container" : "container", pc.retry_container,
                          pc.retry_reason);
        if (!is_empty(pc.retry_image))
            rk_ro_verdict_append(out, " (image \"%s\")", pc.retry_image);
        rk_ro_verdict_append(out, ", retrying");
        if (*pc.retry_message) {
            int said = rk_rollout_pull_error(pc.retry_message, NULL) == RK_PULL_TRANSIENT;
            rk_ro_verdict_append(out, said ? " (registry said: " : " (");
            rk_ro_verdict_text(out, pc.retry_message);
            rk_ro_verdict_append(out, ")");
        }
        rk_ro_verdict_reason(out, pc.retry_reason);
        return rk_ro_reader_finish(&r, out);
    }
    if (!rk_ro_condition_true(&r, scheduled) && is_empty(node)) {
        rk_ro_verdict_set(out, RK_ROLLOUT_PROGRESSING, "WaitingToBeScheduled",
                          "pod %s: waiting to be scheduled", name);
        if (*sched_reason || *sched_message) {
            rk_ro_verdict_append(out, " (%s%s", sched_reason,
                                 *sched_reason && *sched_message ? ": " : "");
            rk_ro_verdict_text(out, sched_message);
            rk_ro_verdict_append(out, ")");
        }
    } else if (initialized && !rk_ro_condition_true(&r, initialized)) {
        rk_ro_verdict_set(out, RK_ROLLOUT_PROGRESSING, "PodInitializing", "pod %s: initializing",
                          name);
        pending_init_container(&r, obj, out);
    } else if (strcmp(phase, "Running") == 0) {
        rk_ro_verdict_set(out, RK_ROLLOUT_PROGRESSING, NULL, "pod %s: running, not ready (", name);
        size_t mark = strlen(out->message);
        rk_ro_verdict_append(out, "containers not ready: ");
        if (unready_containers(&r, obj, out, 0, NULL) > 0) {
            rk_ro_verdict_reason(out, "ContainersNotReady");
        } else {
            /* Every container is ready, so something else (usually a readiness gate)
             * holds the pod back: the Ready condition says what. */
            out->message[mark] = '\0';
            const char *reason = rk_ro_get_text(&r, ready_cond, "condition", "reason");
            const char *message = rk_ro_get_text(&r, ready_cond, "condition", "message");
            rk_ro_verdict_append(out, "%s%s", *reason ? reason : "Ready condition is not True",
                                 *reason && *message ? ": " : "");
            rk_ro_verdict_text(out, message);
            rk_ro_verdict_reason(out, *reason ? reason : "PodNotReady");
        }
        rk_ro_verdict_append(out, ")");
    } else if (strcmp(phase, "Pending") == 0 || *phase == '\0') {
        const char *first = NULL;
        rk_ro_verdict_set(out, RK_ROLLOUT_PROGRESSING, NULL, "pod %s: starting containers", name);
        size_t mark = strlen(out->message);
        rk_ro_verdict_append(out, " (");
        if (unready_containers(&r, obj, out, 1, &first) > 0)
            rk_ro_verdict_append(out, ")");
        else
            out->message[mark] = '\0';
        rk_ro_verdict_reason(out, first ? first : "ContainersStarting");
    } else {
        const char *reason = rk_ro_get_text(&r, obj, NULL, "status.reason");
        const char *message = rk_ro_get_text(&r, obj, NULL, "status.message");
        rk_ro_verdict_set(out, RK_ROLLOUT_PROGRESSING, "PodStatusUnknown", "pod %s: phase %s", name,
                          phase);
        if (*reason)
            rk_ro_verdict_append(out, ": %s", reason);
        if (*message) {
            rk_ro_verdict_append(out, ": ");
            rk_ro_verdict_text(out, message);
        }
    }
    return rk_ro_reader_finish(&r, out);
}
