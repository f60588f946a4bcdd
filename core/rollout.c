/* Readiness verdicts and rollout history over Kubernetes objects.
 *
 * Reason codes (rk_verdict.reasons), by kind:
 *   Deployment   RolledOut | SpecUpdateNotObserved ReplicasNotUpdated
 *                OldReplicasPendingTermination ReplicasNotAvailable (+ the ReplicaFailure
 *                condition's reason, e.g. FailedCreate) | ProgressDeadlineExceeded
 *   StatefulSet  RolledOut | SpecUpdateNotObserved PodsNotReady
 *                PartitionedRolloutInProgress RevisionUpdateInProgress;
 *                UpdateStrategyNotTracked beside RolledOut for OnDelete
 *   DaemonSet    RolledOut | SpecUpdateNotObserved PodsNotUpdated PodsNotAvailable;
 *                UpdateStrategyNotTracked for OnDelete
 *   Pod          PodReady PodCompleted | Terminating WaitingToBeScheduled PodInitializing
 *                ContainersStarting (or the waiting reason, e.g. ContainerCreating)
 *                ContainersNotReady, the Ready condition's reason when every container
 *                is ready (ReadinessGatesNotReady) or PodNotReady, WaitingForVolumeBinding
 *                (unschedulable only until its claims bind), PodStatusUnknown,
 *                Unschedulable (no node fits now: the caller decides how long to wait),
 *                ImagePullRetrying + ErrImagePull|ImagePullBackOff (a pull error that is
 *                not permanent: rk_rollout_pull_error) |
 *                Unschedulable (a claim that does not exist) CrashLoopBackOff
 *                ErrImagePull ImagePullBackOff (permanent pull errors)
 *                ErrImageNeverPull InvalidImageName CreateContainerConfigError
 *                CreateContainerError RunContainerError OOMKilled InitContainerFailed
 *                ContainerFailed, and for phase Failed the pod's status.reason
 *                (e.g. Evicted) or PodFailed
 *   PVC          ClaimBound | ClaimPending | ClaimLost
 *   Job          JobComplete | JobSuspended JobRunning | the Failed condition's reason
 *                (e.g. BackoffLimitExceeded, DeadlineExceeded) or JobFailed
 *   Service      ServiceReady LoadBalancerReady | LoadBalancerPending
 *   Namespace    Present | Terminating
 *   others       Present (known built-in kinds) or NoReadinessRule */
#include "rollout.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rfc3339.h"

#define REVISION_ANNOTATION "deployment.kubernetes.io/revision"
#define CHANGE_CAUSE_ANNOTATION "kubernetes.io/change-cause"
#define POD_TEMPLATE_HASH_LABEL "pod-template-hash"

/* ---- reading objects ---------------------------------------------------------------- */

/* Getters never fail outright: a field of the wrong type records the first error here
 * and reads as absent, so each rule reads its fields in one go and checks once. */
typedef struct {
    rk_error *err;
    rk_status status;
    const char *kind; /* lower-case, for messages: "deployment" */
    const char *name;
} reader;

static const char *type_article(rk_type t)
{
    switch (t) {
    case RK_INT: return "an integer";
    case RK_MAP: return "a map";
    case RK_SEQ: return "a list";
    case RK_STRING: return "a string";
    case RK_BOOL: return "a boolean";
    default: return rk_type_name(t);
    }
}

static void type_error(reader *r, const char *base, const char *path, size_t path_len, rk_type want,
                       const rk_value *got)
{
    if (r->status != RK_OK)
        return;
    r->status = rk_error_set(r->err, RK_ERR_INVALID, "%s \"%s\": %s%s%.*s: expected %s, got %s",
                             r->kind, r->name, base ? base : "", base ? "." : "", (int)path_len,
                             path, type_article(want), rk_type_name(got->type));
}

/* Walks a dotted path ("status.replicas") from node. NULL when absent or null; an
 * intermediate that is not a map is a type error. base names node in messages. */
static const rk_value *lookup(reader *r, const rk_value *node, const char *base, const char *path)
{
    const char *p = path;
    while (node) {
        if (node->type != RK_MAP) {
            type_error(r, base, path, p > path ? (size_t)(p - path - 1) : 0, RK_MAP, node);
            return NULL;
        }
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        node = rk_map_get(node, p, n);
        if (!node || node->type == RK_NULL)
            return NULL;
        if (!dot)
            return node;
        p = dot + 1;
    }
    return NULL;
}

static const rk_value *get_typed(reader *r, const rk_value *node, const char *base,
                                 const char *path, rk_type want)
{
    const rk_value *v = lookup(r, node, base, path);
    if (v && v->type != want) {
        type_error(r, base, path, strlen(path), want, v);
        return NULL;
    }
    return v;
}

static const rk_value *get_map(reader *r, const rk_value *node, const char *base, const char *path)
{
    return get_typed(r, node, base, path, RK_MAP);
}

static const rk_value *get_seq(reader *r, const rk_value *node, const char *base, const char *path)
{
    return get_typed(r, node, base, path, RK_SEQ);
}

static const char *get_str(reader *r, const rk_value *node, const char *base, const char *path)
{
    const rk_value *v = get_typed(r, node, base, path, RK_STRING);
    return v ? v->as.str.ptr : NULL;
}

/* Like get_str, but "" for absent, so it can go straight into a message. */
static const char *get_text(reader *r, const rk_value *node, const char *base, const char *path)
{
    const char *s = get_str(r, node, base, path);
    return s ? s : "";
}

static int get_bool(reader *r, const rk_value *node, const char *base, const char *path)
{
    const rk_value *v = get_typed(r, node, base, path, RK_BOOL);
    return v ? v->as.boolean : 0;
}

/* Integers written as 3.0 (Lua floats, some encoders) are integers too. */
static int as_integer(const rk_value *v, int64_t *out)
{
    if (v->type == RK_INT) {
        *out = v->as.integer;
        return 1;
    }
    if (v->type == RK_FLOAT && v->as.number >= -9.2e18 && v->as.number <= 9.2e18 &&
        v->as.number == (double)(int64_t)v->as.number) {
        *out = (int64_t)v->as.number;
        return 1;
    }
    return 0;
}

static int64_t get_int(reader *r, const rk_value *node, const char *base, const char *path,
                       int64_t dflt)
{
    const rk_value *v = lookup(r, node, base, path);
    int64_t i;
    if (!v)
        return dflt;
    if (!as_integer(v, &i)) {
        type_error(r, base, path, strlen(path), RK_INT, v);
        return dflt;
    }
    return i;
}

static int has(reader *r, const rk_value *node, const char *path)
{
    return lookup(r, node, NULL, path) != NULL;
}

static int streq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

static int is_empty(const char *s) { return !s || !*s; }

/* The items of a *List object or a plain sequence (*items NULL when there are none). */
static rk_status list_items(const rk_value *list, const char *what, const rk_value **items,
                            rk_error *err)
{
    *items = NULL;
    if (list && list->type == RK_MAP)
        list = rk_map_get_cstr(list, "items");
    if (!list || list->type == RK_NULL)
        return RK_OK;
    if (list->type != RK_SEQ)
        return rk_error_set(err, RK_ERR_INVALID,
                            "%s: expected a list (or a List object with items), got %s", what,
                            rk_type_name(list->type));
    *items = list;
    return RK_OK;
}

/* Finds status.conditions[type == want]; base names the conditions list in messages. */
static const rk_value *find_condition(reader *r, const rk_value *obj, const char *want)
{
    const rk_value *conds = get_seq(r, obj, NULL, "status.conditions");
    for (size_t i = 0; i < rk_value_len(conds); i++) {
        const rk_value *c = rk_seq_get(conds, i);
        char base[64];
        snprintf(base, sizeof base, "status.conditions[%zu]", i);
        if (c->type != RK_MAP) {
            if (c->type != RK_NULL)
                type_error(r, NULL, base, strlen(base), RK_MAP, c);
            continue;
        }
        if (streq(get_str(r, c, base, "type"), want))
            return c;
    }
    return NULL;
}

static int condition_true(reader *r, const rk_value *cond)
{
    return cond && streq(get_str(r, cond, "condition", "status"), "True");
}

/* ---- building verdicts ---------------------------------------------------------------- */

static void verdict_init(rk_verdict *v)
{
    v->state = RK_ROLLOUT_PROGRESSING;
    v->message[0] = '\0';
    v->nreasons = 0;
}

/* Appends n bytes; newlines and tabs become spaces so the message stays one line.
 * When the buffer is full the end becomes "..." and later appends are dropped. */
static void verdict_put(rk_verdict *v, const char *s, size_t n)
{
    size_t len = strlen(v->message);
    size_t room = sizeof v->message - 1 - len;
    size_t take = n < room ? n : room;
    for (size_t i = 0; i < take; i++) {
        char c = s[i];
        v->message[len + i] = (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
    }
    v->message[len + take] = '\0';
    if (take < n)
        memcpy(v->message + sizeof v->message - 4, "...", 3);
}

/* Free text from the cluster (a container's message): trailing blanks dropped. */
static void verdict_text(rk_verdict *v, const char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    verdict_put(v, s, n);
}

static void verdict_vappend(rk_verdict *v, const char *fmt, va_list ap)
{
    char tmp[RK_VERDICT_MESSAGE_MAX + 1];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    if (n < 0)
        return;
    /* One byte past the message buffer's room is enough to trigger the "..." mark. */
    verdict_put(v, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

#if defined(__GNUC__)
#define RK_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define RK_PRINTF(a, b)
#endif

static void verdict_append(rk_verdict *v, const char *fmt, ...) RK_PRINTF(2, 3);
static void verdict_append(rk_verdict *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verdict_vappend(v, fmt, ap);
    va_end(ap);
}

static void verdict_reason(rk_verdict *v, const char *reason)
{
    if (is_empty(reason) || v->nreasons == RK_VERDICT_REASONS_MAX)
        return;
    for (size_t i = 0; i < v->nreasons; i++)
        if (strcmp(v->reasons[i], reason) == 0)
            return;
    snprintf(v->reasons[v->nreasons++], RK_VERDICT_REASON_MAX, "%s", reason);
}

static void verdict_set(rk_verdict *v, rk_rollout_state state, const char *reason, const char *fmt,
                        ...) RK_PRINTF(4, 5);
static void verdict_set(rk_verdict *v, rk_rollout_state state, const char *reason, const char *fmt,
                        ...)
{
    v->state = state;
    v->message[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    verdict_vappend(v, fmt, ap);
    va_end(ap);
    verdict_reason(v, reason);
}

const char *rk_rollout_state_name(rk_rollout_state state)
{
    switch (state) {
    case RK_ROLLOUT_READY: return "ready";
    case RK_ROLLOUT_FAILED: return "failed";
    case RK_ROLLOUT_PROGRESSING: return "progressing";
    }
    return "progressing";
}

/* Common start of every rule: obj must be a map; reads metadata.name for messages. */
static int reader_start(reader *r, const rk_value *obj, const char *kind, rk_verdict *out,
                        rk_error *err)
{
    r->err = err;
    r->status = RK_OK;
    r->kind = kind;
    r->name = "";
    verdict_init(out);
    if (!obj || obj->type != RK_MAP) {
        r->status = rk_error_set(err, RK_ERR_INVALID, "%s: expected an object (a map), got %s",
                                 kind, obj ? rk_type_name(obj->type) : "nothing");
        return 0;
    }
    r->name = get_text(r, obj, NULL, "metadata.name");
    return r->status == RK_OK;
}

/* A rule that hit a type error leaves no half-made verdict behind. */
static rk_status reader_finish(reader *r, rk_verdict *out)
{
    if (r->status != RK_OK)
        verdict_init(out);
    return r->status;
}

/* ---- Deployment, StatefulSet, DaemonSet (kubectl rollout status) ---------------------- */

rk_status rk_rollout_deployment(const rk_value *obj, rk_verdict *out, rk_error *err)
{
    reader r;
    if (!reader_start(&r, obj, "deployment", out, err))
        return r.status;
    int64_t generation = get_int(&r, obj, NULL, "metadata.generation", 0);
    int64_t observed = get_int(&r, obj, NULL, "status.observedGeneration", 0);
    int64_t spec_replicas = get_int(&r, obj, NULL, "spec.replicas", 1);
    int64_t replicas = get_int(&r, obj, NULL, "status.replicas", 0);
    int64_t updated = get_int(&r, obj, NULL, "status.updatedReplicas", 0);
    int64_t available = get_int(&r, obj, NULL, "status.availableReplicas", 0);
    const rk_value *progressing = find_condition(&r, obj, "Progressing");
    const char *progress_reason =
        progressing ? get_str(&r, progressing, "condition", "reason") : NULL;
    const rk_value *replica_failure = find_condition(&r, obj, "ReplicaFailure");
    int failing = condition_true(&r, replica_failure);
    if (r.status != RK_OK)
        return reader_finish(&r, out);

    const char *name = r.name;
    if (generation > observed) {
        verdict_set(out, RK_ROLLOUT_PROGRESSING, "SpecUpdateNotObserved",
                    "Waiting for deployment spec update to be observed...");
    } else if (streq(progress_reason, "ProgressDeadlineExceeded")) {
        verdict_set(out, RK_ROLLOUT_FAILED, "ProgressDeadlineExceeded",
                    "deployment \"%s\" exceeded its progress deadline", name);
        return RK_OK;
    } else if (updated < spec_replicas) {
        verdict_set(out, RK_ROLLOUT_PROGRESSING, "ReplicasNotUpdated",
                    "Waiting for deployment \"%s\" rollout to finish: %" PRId64 " out of %" PRId64
                    " new replicas have been updated...",
                    name, updated, spec_replicas);
    } else if (replicas > updated) {
        verdict_set(out, RK_ROLLOUT_PROGRESSING, "OldReplicasPendingTermination",
                    "Waiting for deployment \"%s\" rollout to finish: %" PRId64
                    " old replicas are pending termination...",
                    name, replicas - updated);
    } else if (available < updated) {
        verdict_set(out, RK_ROLLOUT_PROGRESSING, "ReplicasNotAvailable",
                    "Waiting for deployment \"%s\" rollout to finish: %" PRId64 " of %" PRId64
                    " updated replicas are available...",
                    name, available, updated);
    } else {
        verdict_set(out, RK_ROLLOUT_READY, "RolledOut", "deployment \"%s\" successfully rolled out",
                    name);
        return RK_OK;
    }
    /* kubectl is silent about pods the ReplicaSet cannot create (quota, admission); the
     * controller retries until the deadline, but the user should see why meanwhile. */
    if (failing) {
        const char *reason = get_text(&r, replica_failure, "condition", "reason");
        const char *message = get_text(&r, replica_failure, "condition", "message");
        verdict_append(out, " (ReplicaFailure: %s%s", reason, *reason && *message ? ": " : "");
        verdict_text(out, message);
        verdict_append(out, ")");
        verdict_reason(out, is_empty(reason) ? "ReplicaFailure" : reason);
    }
    return reader_finish(&r, out);
}

/* The API server defaults updateStrategy.type to RollingUpdate. */
static const char *update_strategy(reader *r, const rk_value *obj)
{
    const char *type = get_str(r, obj, NULL, "spec.updateStrategy.type");
    return is_empty(type) ? "RollingUpdate" : type;
}

rk_status rk_rollout_statefulset(const rk_value *obj, rk_verdict *out, rk_error *err)
{
    reader r;
    if (!reader_start(&r, obj, "statefulset", out, err))
        return r.status;
    const char *strategy = update_strategy(&r, obj);
    int64_t generation = get_int(&r, obj, NULL, "metadata.generation", 0);
    int64_t observed = get_int(&r, obj, NULL, "status.observedGeneration", 0);
    int64_t spec_replicas = get_int(&r, obj, NULL, "spec.replicas", 1);
    int64_t ready = get_int(&r, obj, NULL, "status.readyReplicas", 0);
    int64_t updated = get_int(&r, obj, NULL, "status.updatedReplicas", 0);
    int64_t current = get_int(&r, obj, NULL, "status.currentReplicas", 0);
    const rk_value *rolling = get_map(&r, obj, NULL, "spec.updateStrategy.rollingUpdate");
    int partitioned = rolling && has(&r, rolling, "partition");
    int64_t partition = get_int(&r, obj, NULL, "spec.updateStrategy.rollingUpdate.partition", 0);
    const char *update_revision = get_text(&r, obj, NULL, "status.updateRevision");
    const char *current_revision = get_text(&r, obj, NULL, "status.currentRevision");
    if (r.status != RK_OK)
        return reader_finish(&r, out);

    int rolling_update = strcmp(strategy, "RollingUpdate") == 0;
    if (observed == 0 || generation > observed) {
        verdict_set(out, RK_ROLLOUT_PROGRESSING, "SpecUpdateNotObserved",
                    "Waiting for statefulset spec update to be observed...");
    } else if (ready < spec_replicas) {
        verdict_set(out, RK_ROLLOUT_PROGRESSING, "PodsNotReady",
                    "Waiting for %" PRId64 " pods to be ready...", spec_replicas - ready);
    } else if (!rolling_update) {
        /* kubectl stops here with an error; the pods being Ready is all there is to wait
         * for, since OnDelete replaces pods only when someone deletes them. */
        verdict_set(out, RK_ROLLOUT_READY, "RolledOut",
                    "statefulset \"%s\" has %" PRId64 " ready pods (%s update strategy: rollout "
                    "status is only available for RollingUpdate strategy type)",
                    r.name, ready, strategy);
        verdict_reason(out, "UpdateStrategyNotTracked");
    } else if (rolling) {
        if (partitioned && updated < spec_replicas - partition)
            verdict_set(out, RK_ROLLOUT_PROGRESSING, "PartitionedRolloutInProgress",
                        "Waiting for partitioned roll out to finish: %" PRId64 " out of %" PRId64
                        " new pods have been updated...",
                        updated, spec_replicas - partition);
        else
            verdict_set(out, RK_ROLLOUT_READY, "RolledOut",
                        "partitioned roll out complete: %" PRId64 " new pods have been updated...",
                        updated);
    } else if (strcmp(update_revision, current_revision) != 0) {
        verdict_set(out, RK_ROLLOUT_PROGRESSING, "RevisionUpdateInProgress",
                    "waiting for statefulset rolling update to complete %" PRId64
                    " pods at revision %s...",
                    updated, update_revision);
    } else {
        verdict_set(out, RK_ROLLOUT_READY, "RolledOut",
                    "statefulset rolling update complete %" PRId64 " pods at revision %s...",
                    current, current_revision);
    }
    return RK_OK;
}

rk_status rk_rollout_daemonset(const rk_value *obj, rk_verdict *out, rk_error *err)
{
    reader r;
    if (!reader_start(&r, obj, "daemonset", out, err))
        return r.status;
    const char *strategy = update_strategy(&r, obj);
    int64_t generation = get_int(&r, obj, NULL, "metadata.generation", 0);
    int64_t observed = get_int(&r, obj, NULL, "status.observedGeneration", 0);
    int64_t desired = get_int(&r, obj, NULL, "status.desiredNumberScheduled", 0);
    int64_t updated = get_int(&r, obj, NULL, "status.updatedNumberScheduled", 0);
    int64_t available = get_int(&r, obj, NULL, "status.numberAvailable", 0);
    if (r.status != RK_OK)
        return reader_finish(&r, out);

    const char *name = r.name;
    int rolling_update = strcmp(strategy, "RollingUpdate") == 0;
    if (generation > observed) {
        verdict_set(out, RK_ROLLOUT_PROGRESSING, "SpecUpdateNotObserved",
                    "Waiting for daemon set spec update to be observed...");
    } else if (!rolling_update) {
        /* As for StatefulSets: kubectl refuses; available pods are what can be waited for. */
        if (available < desired)
            verdict_set(out, RK_ROLLOUT_PROGRESSING, "PodsNotAvailable",
                        "Waiting for daemon set \"%s\": %" PRId64 " of %" PRId64
                        " pods are available (%s update strategy)...",
                        name, available, desired, strategy);
        else
            verdict_set(out, RK_ROLLOUT_READY, "RolledOut",
                        "daemon set \"%s\" has %" PRId64 " of %" PRId64 " pods available (%s "
                        "update strategy: rollout status is only available for RollingUpdate "
                        "strategy type)",
                        name, available, desired, strategy);
        verdict_reason(out, "UpdateStrategyNotTracked");
    } else if (updated < desired) {
        verdict_set(out, RK_ROLLOUT_PROGRESSING, "PodsNotUpdated",
                    "Waiting for daemon set \"%s\" rollout to finish: %" PRId64 " out of %" PRId64
                    " new pods have been updated...",
                    name, updated, desired);
    } else if (available < desired) {
        verdict_set(out, RK_ROLLOUT_PROGRESSING, "PodsNotAvailable",
                    "Waiting for daemon set \"%s\" rollout to finish: %" PRId64 " of %" PRId64
                    " updated pods are available...",
                    name, available, desired);
    } else {
        verdict_set(out, RK_ROLLOUT_READY, "RolledOut", "daemon set \"%s\" successfully rolled out",
                    name);
    }
    return RK_OK;
}

/* ---- Pod ------------------------------------------------------------------------------ */

static const char *const fatal_waiting_reasons[] = {
    "CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull",
    "InvalidImageName", "CreateContainerConfigError", "CreateContainerError",
    "RunContainerError", NULL,
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
    "i/o timeout", "timeout", "timed out", "deadline exceeded", "connection refused",
    "connection reset", "no route to host", "network is unreachable", "no such host",
    "temporary failure", "try again", "unexpected eof", "eof", "tls handshake",
    "too many requests", "toomanyrequests", "rate limit", "internal server error",
    "bad gateway", "service unavailable", "gateway timeout", "500", "502", "503", "504",
    "429", NULL,
};

static const char *const permanent_pull_words[] = {
    "not found", "manifest unknown", "name unknown", "repository does not exist",
    "pull access denied", "access to the resource is denied", "denied", "unauthorized",
    "authentication required", "authorization failed", "forbidden", "401", "403",
    "invalid reference format", "invalid reference", "couldn't parse image", NULL,
};

static int word_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

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
    const rk_value *list = get_seq(pc->r, pc->pod, NULL, path);
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
    const rk_value *limit = spec ? lookup(pc->r, spec, NULL, "resources.limits.memory") : NULL;
    int64_t bytes;
    if (limit && limit->type == RK_STRING)
        verdict_append(pc->v, ", memory limit %s", limit->as.str.ptr);
    else if (limit && as_integer(limit, &bytes))
        verdict_append(pc->v, ", memory limit %" PRId64, bytes);
}

static void append_restarts(rk_verdict *v, int64_t restarts, const char *sep)
{
    if (restarts > 0)
        verdict_append(v, "%srestarted %" PRId64 " time%s", sep, restarts,
                       restarts == 1 ? "" : "s");
}

/* Starts one failure: "pod P: " the first time, "; " after that. */
static void begin_failure(pod_check *pc, int init, const char *container)
{
    if (pc->failures++ == 0)
        verdict_append(pc->v, "pod %s: ", pc->r->name);
    else
        verdict_append(pc->v, "; ");
    verdict_append(pc->v, "%s %s: ", init ? "init container" : "container", container);
}

/* Reports the container status cs if it shows a failure; the pod is failed then. */
static void check_container(pod_check *pc, const rk_value *cs, const char *base, int init)
{
    reader *r = pc->r;
    rk_verdict *v = pc->v;
    const char *name = get_text(r, cs, base, "name");
    int64_t restarts = get_int(r, cs, base, "restartCount", 0);
    int ready = get_bool(r, cs, base, "ready");
    const rk_value *waiting = get_map(r, cs, base, "state.waiting");
    const rk_value *term = get_map(r, cs, base, "state.terminated");
    const rk_value *last = get_map(r, cs, base, "lastState.terminated");
    const char *w_reason = waiting ? get_str(r, waiting, base, "reason") : NULL;
    const char *w_message = waiting ? get_text(r, waiting, base, "message") : "";
    const char *t_reason = term ? get_text(r, term, base, "reason") : "";
    int64_t t_exit = term ? get_int(r, term, base, "exitCode", 0) : 0;
    const char *t_message = term ? get_text(r, term, base, "message") : "";
    const char *l_reason = last ? get_text(r, last, base, "reason") : "";
    int64_t l_exit = last ? get_int(r, last, base, "exitCode", 0) : 0;
    if (r->status != RK_OK)
        return;

    if (is_retried_pull(w_reason, w_message)) {
        if (!pc->retry_container) {
            const char *image = get_str(r, cs, base, "image");
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
        verdict_append(v, "%s", w_reason);
        verdict_reason(v, w_reason);
        if (strcmp(w_reason, "CrashLoopBackOff") == 0) {
            append_restarts(v, restarts, " (");
            if (restarts > 0)
                verdict_append(v, ")");
        } else if (is_image_problem(w_reason)) {
            const char *image = get_str(r, cs, base, "image");
            const rk_value *spec = container_spec(pc, init, name);
            if (is_empty(image) && spec) {
                const rk_value *img = rk_map_get_cstr(spec, "image");
                image = img && img->type == RK_STRING ? img->as.str.ptr : NULL;
            }
            if (!is_empty(image))
                verdict_append(v, " (image \"%s\")", image);
        }
        if (*w_message) {
            verdict_append(v, ": ");
            verdict_text(v, w_message);
        }
        if (last) {
            verdict_append(v, " (last exit: %s, code %" PRId64, *l_reason ? l_reason : "Error",
                           l_exit);
            if (strcmp(l_reason, "OOMKilled") == 0) {
                append_memory_limit(pc, init, name);
                verdict_reason(v, "OOMKilled");
            }
            verdict_append(v, ")");
        }
    } else if (term && (t_exit != 0 || strcmp(t_reason, "OOMKilled") == 0)) {
        int oom = strcmp(t_reason, "OOMKilled") == 0;
        begin_failure(pc, init, name);
        verdict_append(v, "%s (exit code %" PRId64, *t_reason ? t_reason : "Error", t_exit);
        append_restarts(v, restarts, ", ");
        if (oom)
            append_memory_limit(pc, init, name);
        verdict_append(v, ")");
        if (*t_message) {
            verdict_append(v, ": ");
            verdict_text(v, t_message);
        }
        verdict_reason(v, oom ? "OOMKilled" : init ? "InitContainerFailed" : "ContainerFailed");
    } else if (last && !ready && strcmp(l_reason, "OOMKilled") == 0) {
        /* Restarted after running out of memory and not Ready again: it will happen again. */
        begin_failure(pc, init, name);
        verdict_append(v, "OOMKilled (last exit code %" PRId64, l_exit);
        append_restarts(v, restarts, ", ");
        append_memory_limit(pc, init, name);
        verdict_append(v, ")");
        verdict_reason(v, "OOMKilled");
    }
}

static void check_containers(pod_check *pc, const char *path, int init)
{
    const rk_value *list = get_seq(pc->r, pc->pod, NULL, path);
    for (size_t i = 0; i < rk_value_len(list) && pc->r->status == RK_OK; i++) {
        char base[64];
        snprintf(base, sizeof base, "%s[%zu]", path, i);
        const rk_value *cs = rk_seq_get(list, i);
        if (cs->type == RK_MAP)
            check_container(pc, cs, base, init);
        else if (cs->type != RK_NULL)
            type_error(pc->r, NULL, base, strlen(base), RK_MAP, cs);
    }
}

/* The first init container that has not finished, as "name: running" or "name: Reason". */
static int pending_init_container(reader *r, const rk_value *pod, rk_verdict *v)
{
    const rk_value *list = get_seq(r, pod, NULL, "status.initContainerStatuses");
    for (size_t i = 0; i < rk_value_len(list); i++) {
        const rk_value *cs = rk_seq_get(list, i);
        if (cs->type != RK_MAP)
            continue;
        const rk_value *term = lookup(r, cs, NULL, "state.terminated");
        if (term || get_bool(r, cs, NULL, "ready"))
            continue; /* done, or a sidecar that is up */
        const char *name = get_text(r, cs, NULL, "name");
        const char *w_reason = get_str(r, cs, NULL, "state.waiting.reason");
        if (has(r, cs, "state.running"))
            verdict_append(v, " (init container %s: running)", name);
        else
            verdict_append(v, " (init container %s: %s)", name,
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
    const rk_value *list = get_seq(r, pod, NULL, "status.containerStatuses");
    size_t n = 0;
    for (size_t i = 0; i < rk_value_len(list); i++) {
        const rk_value *cs = rk_seq_get(list, i);
        if (cs->type != RK_MAP || get_bool(r, cs, NULL, "ready"))
            continue;
        const char *w_reason = get_str(r, cs, NULL, "state.waiting.reason");
        verdict_append(v, "%s%s", n++ ? ", " : "", get_text(r, cs, NULL, "name"));
        if (with_reason && !is_empty(w_reason))
            verdict_append(v, ": %s", w_reason);
        if (first_reason && !*first_reason && !is_empty(w_reason))
            *first_reason = w_reason;
    }
    return n;
}

rk_status rk_rollout_pod(const rk_value *obj, rk_verdict *out, rk_error *err)
{
    reader r;
    if (!reader_start(&r, obj, "pod", out, err))
        return r.status;
    const char *name = r.name;
    const char *phase = get_text(&r, obj, NULL, "status.phase");
    int deleting = has(&r, obj, "metadata.deletionTimestamp");
    const rk_value *ready_cond = find_condition(&r, obj, "Ready");
    const rk_value *scheduled = find_condition(&r, obj, "PodScheduled");
    const rk_value *initialized = find_condition(&r, obj, "Initialized");
    const char *node = get_str(&r, obj, NULL, "spec.nodeName");
    if (r.status != RK_OK)
        return reader_finish(&r, out);

    if (deleting) {
        verdict_set(out, RK_ROLLOUT_PROGRESSING, "Terminating", "pod %s is terminating", name);
        return RK_OK;
    }
    if (strcmp(phase, "Succeeded") == 0) {
        verdict_set(out, RK_ROLLOUT_READY, "PodCompleted", "pod %s has completed", name);
        return RK_OK;
    }
    if (strcmp(phase, "Failed") == 0) {
        const char *reason = get_text(&r, obj, NULL, "status.reason");
        const char *message = get_text(&r, obj, NULL, "status.message");
        pod_check pc = {.r = &r, .pod = obj, .v = out, .failures = 1};
        out->state = RK_ROLLOUT_FAILED;
        verdict_append(out, "pod %s: Failed", name);
        if (*reason)
            verdict_append(out, ": %s", reason);
        if (*message) {
            verdict_append(out, ": ");
            verdict_text(out, message);
        }
        verdict_reason(out, *reason ? reason : "PodFailed");
        check_containers(&pc, "status.initContainerStatuses", 1);
        check_containers(&pc, "status.containerStatuses", 0);
        return reader_finish(&r, out);
    }
    if (condition_true(&r, ready_cond)) {
        verdict_set(out, RK_ROLLOUT_READY, "PodReady", "pod %s is ready", name);
        return reader_finish(&r, out);
    }
    const char *sched_reason = scheduled ? get_text(&r, scheduled, "condition", "reason") : "";
    const char *sched_message = scheduled ? get_text(&r, scheduled, "condition", "message") : "";
    if (streq(get_str(&r, scheduled, "condition", "status"), "False") &&
        strcmp(sched_reason, "Unschedulable") == 0) {
        if (strstr(sched_message, "unbound immediate PersistentVolumeClaims")) {
            /* Every dynamically provisioned claim passes through this for a few seconds.
             * A claim that never binds shows up on the claim (and its events) instead. */
            verdict_set(out, RK_ROLLOUT_PROGRESSING, "WaitingForVolumeBinding",
                        "pod %s: waiting for its PersistentVolumeClaims to be bound (", name);
            verdict_text(out, sched_message);
            verdict_append(out, ")");
            return reader_finish(&r, out);
        }
        /* A claim that does not exist is a missing object, like a missing ConfigMap: failed.
         * Anything else may change (a cluster autoscaler adds a node, someone labels or
         * uncordons one): progressing with reason Unschedulable, and the caller decides
         * how long to wait, from the nodes, the autoscaler's events and the time
         * (rigelk8s.rollout: --unschedulable-grace). */
        int missing_claim = strstr(sched_message, "persistentvolumeclaim \"") &&
                            strstr(sched_message, "\" not found");
        verdict_set(out, missing_claim ? RK_ROLLOUT_FAILED : RK_ROLLOUT_PROGRESSING,
                    "Unschedulable", "pod %s: Unschedulable", name);
        if (*sched_message) {
            verdict_append(out, ": ");
            verdict_text(out, sched_message);
        }
        return reader_finish(&r, out);
    }

    pod_check pc = {.r = &r, .pod = obj, .v = out, .failures = 0};
    out->state = RK_ROLLOUT_FAILED;
    check_containers(&pc, "status.initContainerStatuses", 1);
    check_containers(&pc, "status.containerStatuses", 0);
    if (r.status != RK_OK || pc.failures > 0)
        return reader_finish(&r, out);

    out->state = RK_ROLLOUT_PROGRESSING;
    if (pc.retry_container) {
        verdict_set(out, RK_ROLLOUT_PROGRESSING, "ImagePullRetrying",
                    "pod %s: %s %s: %s", name, pc.retry_init ? "init container" : "container",
                    pc.retry_container, pc.retry_reason);
        if (!is_empty(pc.retry_image))
            verdict_append(out, " (image \"%s\")", pc.retry_image);
        verdict_append(out, ", retrying");
        if (*pc.retry_message) {
            int said = rk_rollout_pull_error(pc.retry_message, NULL) == RK_PULL_TRANSIENT;
            verdict_append(out, said ? " (registry said: " : " (");
            verdict_text(out, pc.retry_message);
            verdict_append(out, ")");
        }
        verdict_reason(out, pc.retry_reason);
        return reader_finish(&r, out);
    }
    if (!condition_true(&r, scheduled) && is_empty(node)) {
        verdict_set(out, RK_ROLLOUT_PROGRESSING, "WaitingToBeScheduled",
                    "pod %s: waiting to be scheduled", name);
        if (*sched_reason || *sched_message) {
            verdict_append(out, " (%s%s", sched_reason,
                           *sched_reason && *sched_message ? ": " : "");
            verdict_text(out, sched_message);
            verdict_append(out, ")");
        }
    } else if (initialized && !condition_true(&r, initialized)) {
        verdict_set(out, RK_ROLLOUT_PROGRESSING, "PodInitializing", "pod %s: initializing", name);
        pending_init_container(&r, obj, out);
    } else if (strcmp(phase, "Running") == 0) {
        verdict_set(out, RK_ROLLOUT_PROGRESSING, NULL, "pod %s: running, not ready (", name);
        size_t mark = strlen(out->message);
        verdict_append(out, "containers not ready: ");
        if (unready_containers(&r, obj, out, 0, NULL) > 0) {
            verdict_reason(out, "ContainersNotReady");
        } else {
            /* Every container is ready, so something else (usually a readiness gate)
             * holds the pod back: the Ready condition says what. */
            out->message[mark] = '\0';
            const char *reason = get_text(&r, ready_cond, "condition", "reason");
            const char *message = get_text(&r, ready_cond, "condition", "message");
            verdict_append(out, "%s%s", *reason ? reason : "Ready condition is not True",
                           *reason && *message ? ": " : "");
            verdict_text(out, message);
            verdict_reason(out, *reason ? reason : "PodNotReady");
        }
        verdict_append(out, ")");
    } else if (strcmp(phase, "Pending") == 0 || *phase == '\0') {
        const char *first = NULL;
        verdict_set(out, RK_ROLLOUT_PROGRESSING, NULL, "pod %s: starting containers", name);
        size_t mark = strlen(out->message);
        verdict_append(out, " (");
        if (unready_containers(&r, obj, out, 1, &first) > 0)
            verdict_append(out, ")");
        else
            out->message[mark] = '\0';
        verdict_reason(out, first ? first : "ContainersStarting");
    } else {
        const char *reason = get_text(&r, obj, NULL, "status.reason");
        const char *message = get_text(&r, obj, NULL, "status.message");
        verdict_set(out, RK_ROLLOUT_PROGRESSING, "PodStatusUnknown", "pod %s: phase %s", name,
                    phase);
        if (*reason)
            verdict_append(out, ": %s", reason);
        if (*message) {
            verdict_append(out, ": ");
            verdict_text(out, message);
        }
    }
    return reader_finish(&r, out);
}

/* ---- PersistentVolumeClaim, Job, Service, Namespace ------------------------------------ */

rk_status rk_rollout_pvc(const rk_value *obj, rk_verdict *out, rk_error *err)
{
    reader r;
    if (!reader_start(&r, obj, "persistentvolumeclaim", out, err))
        return r.status;
    const char *phase = get_text(&r, obj, NULL, "status.phase");
    const char *volume = get_text(&r, obj, NULL, "spec.volumeName");
    const char *storage_class = get_str(&r, obj, NULL, "spec.storageClassName");
    if (r.status != RK_OK)
        return reader_finish(&r, out);

    const char *name = r.name;
    if (strcmp(phase, "Bound") == 0) {
        verdict_set(out, RK_ROLLOUT_READY, "ClaimBound", "persistentvolumeclaim \"%s\" is bound",
                    name);
        if (*volume)
            verdict_append(out, " to volume \"%s\"", volume);
    } else if (strcmp(phase, "Lost") == 0) {
        verdict_set(out, RK_ROLLOUT_FAILED, "ClaimLost",
                    "persistentvolumeclaim \"%s\" lost its volume%s%s%s: the PersistentVolume "
                    "is gone; the data is unreachable until the volume is restored or the claim "
                    "is recreated",
                    name, *volume ? " \"" : "", volume, *volume ? "\"" : "");
    } else {
        verdict_set(out, RK_ROLLOUT_PROGRESSING, "ClaimPending",
                    "persistentvolumeclaim \"%s\" is pending", name);
        if (!storage_class)
            verdict_append(out, " (default storage class)");
        else if (*storage_class)
            verdict_append(out, " (storage class \"%s\")", storage_class);
        else
            verdict_append(out, " (no storage class: waiting for a matching PersistentVolume)");
    }
    return RK_OK;
}

rk_status rk_rollout_job(const rk_value *obj, rk_verdict *out, rk_error *err)
{
    reader r;
    if (!reader_start(&r, obj, "job", out, err))
        return r.status;
    const rk_value *complete = find_condition(&r, obj, "Complete");
    const rk_value *failed = find_condition(&r, obj, "Failed");
    const rk_value *failure_target = find_condition(&r, obj, "FailureTarget");
    int64_t succeeded = get_int(&r, obj, NULL, "status.succeeded", 0);
    int64_t active = get_int(&r, obj, NULL, "status.active", 0);
    int64_t failures = get_int(&r, obj, NULL, "status.failed", 0);
    int has_completions = has(&r, obj, "spec.completions");
    int64_t completions = get_int(&r, obj, NULL, "spec.completions", 1);
    int work_queue = !has_completions && has(&r, obj, "spec.parallelism");
    int suspended = get_bool(&r, obj, NULL, "spec.suspend");
    if (!condition_true(&r, failed) && condition_true(&r, failure_target))
        failed = failure_target; /* terminal already; Failed follows once pods are gone */
    if (r.status != RK_OK)
        return reader_finish(&r, out);

    const char *name = r.name;
    if (condition_true(&r, complete)) {
        verdict_set(out, RK_ROLLOUT_READY, "JobComplete", "job \"%s\" completed", name);
        if (work_queue)
            verdict_append(out, ": %" PRId64 " completions", succeeded);
        else
            verdict_append(out, ": %" PRId64 "/%" PRId64 " completions", succeeded, completions);
    } else if (condition_true(&r, failed)) {
        const char *reason = get_text(&r, failed, "condition", "reason");
        const char *message = get_text(&r, failed, "condition", "message");
        verdict_set(out, RK_ROLLOUT_FAILED, *reason ? reason : "JobFailed", "job \"%s\" failed",
                    name);
        if (*reason)
            verdict_append(out, ": %s", reason);
        if (*message) {
            verdict_append(out, ": ");
            verdict_text(out, message);
        }
    } else if (suspended) {
        verdict_set(out, RK_ROLLOUT_PROGRESSING, "JobSuspended", "job \"%s\" is suspended", name);
    } else {
        verdict_set(out, RK_ROLLOUT_PROGRESSING, "JobRunning", "job \"%s\": ", name);
        if (work_queue)
            verdict_append(out, "%" PRId64 " completions", succeeded);
        else
            verdict_append(out, "%" PRId64 "/%" PRId64 " completions", succeeded, completions);
        if (active > 0)
            verdict_append(out, ", %" PRId64 " active", active);
        if (failures > 0)
            verdict_append(out, ", %" PRId64 " failed", failures);
    }
    return reader_finish(&r, out);
}

rk_status rk_rollout_service(const rk_value *obj, rk_verdict *out, rk_error *err)
{
    reader r;
    if (!reader_start(&r, obj, "service", out, err))
        return r.status;
    const char *type = get_str(&r, obj, NULL, "spec.type");
    const char *cluster_ip = get_text(&r, obj, NULL, "spec.clusterIP");
    const char *external = get_text(&r, obj, NULL, "spec.externalName");
    const rk_value *ingress = get_seq(&r, obj, NULL, "status.loadBalancer.ingress");
    const rk_value *first = rk_seq_get(ingress, 0);
    const char *address = "";
    if (first && first->type == RK_MAP) {
        address = get_text(&r, first, "status.loadBalancer.ingress[0]", "ip");
        if (!*address)
            address = get_text(&r, first, "status.loadBalancer.ingress[0]", "hostname");
    }
    if (r.status != RK_OK)
        return reader_finish(&r, out);

    const char *name = r.name;
    if (is_empty(type))
        type = "ClusterIP";
    if (strcmp(type, "ExternalName") == 0) {
        verdict_set(out, RK_ROLLOUT_READY, "ServiceReady",
                    "service \"%s\" is ready (ExternalName %s)", name, external);
    } else if (strcmp(type, "LoadBalancer") == 0) {
        if (rk_value_len(ingress) > 0)
            verdict_set(out, RK_ROLLOUT_READY, "LoadBalancerReady",
                        "service \"%s\" is ready (load balancer %s)", name,
                        *address ? address : "provisioned");
        else
            verdict_set(out, RK_ROLLOUT_PROGRESSING, "LoadBalancerPending",
                        "service \"%s\": waiting for the load balancer to get an external address",
                        name);
    } else if (strcmp(cluster_ip, "None") == 0) {
        verdict_set(out, RK_ROLLOUT_READY, "ServiceReady", "service \"%s\" is ready (headless)",
                    name);
    } else if (*cluster_ip) {
        verdict_set(out, RK_ROLLOUT_READY, "ServiceReady", "service \"%s\" is ready (%s %s)", name,
                    type, cluster_ip);
    } else {
        verdict_set(out, RK_ROLLOUT_READY, "ServiceReady", "service \"%s\" is ready (%s)", name,
                    type);
    }
    return RK_OK;
}

static rk_status namespace_status(const rk_value *obj, rk_verdict *out, rk_error *err)
{
    reader r;
    if (!reader_start(&r, obj, "namespace", out, err))
        return r.status;
    const char *phase = get_text(&r, obj, NULL, "status.phase");
    if (r.status != RK_OK)
        return reader_finish(&r, out);
    if (strcmp(phase, "Terminating") == 0)
        verdict_set(out, RK_ROLLOUT_PROGRESSING, "Terminating",
                    "namespace \"%s\" is terminating: objects cannot be created in it until it "
                    "is gone",
                    r.name);
    else
        verdict_set(out, RK_ROLLOUT_READY, "Present", "namespace \"%s\" exists", r.name);
    return RK_OK;
}

/* ---- dispatch ------------------------------------------------------------------------- */

typedef rk_status (*rule_fn)(const rk_value *, rk_verdict *, rk_error *);

static const struct {
    const char *kind;
    const char *groups; /* API groups that own the kind, '|'-separated; "" is core */
    rule_fn rule;
} rules[] = {
    {"Deployment", "apps|extensions", rk_rollout_deployment},
    {"StatefulSet", "apps", rk_rollout_statefulset},
    {"DaemonSet", "apps|extensions", rk_rollout_daemonset},
    {"Pod", "", rk_rollout_pod},
    {"PersistentVolumeClaim", "", rk_rollout_pvc},
    {"Job", "batch", rk_rollout_job},
    {"Service", "", rk_rollout_service},
    {"Namespace", "", namespace_status},
};

/* Built-in kinds that are ready as soon as they exist. */
static const char *const present_kinds[] = {
    "ConfigMap", "Secret", "ServiceAccount", "Role", "RoleBinding", "ClusterRole",
    "ClusterRoleBinding", "NetworkPolicy", "ResourceQuota", "LimitRange", "PersistentVolume",
    "StorageClass", "PodDisruptionBudget", "Ingress", "IngressClass", "Endpoints",
    "EndpointSlice", "HorizontalPodAutoscaler", "PriorityClass", "CronJob", "ReplicaSet",
    "CustomResourceDefinition", NULL,
};

static int group_matches(const char *groups, const char *api_version)
{
    const char *slash = api_version ? strchr(api_version, '/') : NULL;
    size_t n = slash ? (size_t)(slash - api_version) : 0;
    if (!api_version)
        return 1; /* no apiVersion: trust the kind */
    for (const char *g = groups;;) {
        const char *bar = strchr(g, '|');
        size_t len = bar ? (size_t)(bar - g) : strlen(g);
        if (len == n && strncmp(g, api_version, n) == 0)
            return 1;
        if (!bar)
            return 0;
        g = bar + 1;
    }
}

rk_status rk_rollout_evaluate(const rk_value *obj, rk_verdict *out, rk_error *err)
{
    reader r;
    if (!reader_start(&r, obj, "object", out, err))
        return r.status;
    const char *kind = get_str(&r, obj, NULL, "kind");
    const char *api_version = get_str(&r, obj, NULL, "apiVersion");
    if (r.status != RK_OK)
        return r.status;
    if (is_empty(kind))
        return rk_error_set(err, RK_ERR_INVALID,
                            "object \"%s\": no kind: cannot tell how to judge its readiness",
                            r.name);
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (strcmp(kind, rules[i].kind) == 0 && group_matches(rules[i].groups, api_version))
            return rules[i].rule(obj, out, err);

    char lower[64];
    size_t n = 0;
    for (; kind[n] && n < sizeof lower - 1; n++)
        lower[n] = (char)tolower((unsigned char)kind[n]);
    lower[n] = '\0';
    for (const char *const *k = present_kinds; *k; k++) {
        if (strcmp(kind, *k) == 0) {
            verdict_set(out, RK_ROLLOUT_READY, "Present", "%s \"%s\" exists", lower, r.name);
            return RK_OK;
        }
    }
    verdict_set(out, RK_ROLLOUT_READY, "NoReadinessRule",
                "%s \"%s\" exists (no readiness rule for kind %s%s%s: present counts as ready)",
                lower, r.name, kind, api_version ? " in " : "", api_version ? api_version : "");
    return RK_OK;
}

/* ---- events --------------------------------------------------------------------------- */

/* An RFC 3339 time to nanoseconds since the epoch; 0 when s is not such a time, which
 * sorts it as the oldest. */
static int64_t parse_time(const char *s)
{
    int64_t secs;
    long nanos;
    return rk_rfc3339_parse(s, &secs, &nanos) == RK_OK ? secs * 1000000000 + nanos : 0;
}

static int64_t event_time(reader *r, const rk_value *ev)
{
    static const char *const fields[] = {
        "series.lastObservedTime", "eventTime", "lastTimestamp", "deprecatedLastTimestamp",
        "firstTimestamp", "deprecatedFirstTimestamp", "metadata.creationTimestamp", NULL,
    };
    int64_t best = 0;
    for (const char *const *f = fields; *f; f++) {
        int64_t t = parse_time(get_str(r, ev, NULL, *f));
        if (t > best)
            best = t;
    }
    return best;
}

static int event_about(reader *r, const rk_value *ev, const char *kind, const char *name,
                       const char *ns, const char *uid)
{
    const rk_value *ref = get_map(r, ev, NULL, "involvedObject");
    if (!ref)
        ref = get_map(r, ev, NULL, "regarding");
    if (!ref)
        return 0;
    const char *ref_uid = get_str(r, ref, "involvedObject", "uid");
    if (!is_empty(uid) && !is_empty(ref_uid))
        return strcmp(uid, ref_uid) == 0;
    const char *ref_ns = get_str(r, ref, "involvedObject", "namespace");
    if (!is_empty(ns) && !is_empty(ref_ns) && strcmp(ns, ref_ns) != 0)
        return 0;
    const char *ref_kind = get_str(r, ref, "involvedObject", "kind");
    if (!is_empty(kind) && !is_empty(ref_kind) && strcmp(kind, ref_kind) != 0)
        return 0;
    return !is_empty(name) && streq(name, get_str(r, ref, "involvedObject", "name"));
}

rk_status rk_rollout_event_for(const rk_value *obj, const rk_value *events,
                               const rk_value **event_out, rk_error *err)
{
    rk_verdict scratch;
    reader r;
    *event_out = NULL;
    if (!reader_start(&r, obj, "object", &scratch, err))
        return r.status;
    const char *kind = get_str(&r, obj, NULL, "kind");
    const char *ns = get_str(&r, obj, NULL, "metadata.namespace");
    const char *uid = get_str(&r, obj, NULL, "metadata.uid");
    const char *name = r.name;
    if (r.status != RK_OK)
        return r.status;
    const rk_value *list;
    if (list_items(events, "events", &list, err) != RK_OK)
        return RK_ERR_INVALID;

    int64_t best_time = -1;
    for (size_t i = 0; i < rk_value_len(list); i++) {
        const rk_value *ev = rk_seq_get(list, i);
        if (ev->type != RK_MAP)
            continue;
        reader er = {err, RK_OK, "event", ""};
        er.name = get_text(&er, ev, NULL, "metadata.name");
        int warning = streq(get_str(&er, ev, NULL, "type"), "Warning");
        int about = warning && event_about(&er, ev, kind, name, ns, uid);
        int64_t t = about ? event_time(&er, ev) : 0;
        if (er.status != RK_OK)
            return er.status;
        if (about && t >= best_time) {
            best_time = t;
            *event_out = ev;
        }
    }
    return RK_OK;
}

size_t rk_rollout_event_text(const rk_value *event, char *buf, size_t size)
{
    const rk_value *reason = event ? rk_map_get_cstr(event, "reason") : NULL;
    const rk_value *message = event ? rk_map_get_cstr(event, "message") : NULL;
    if (!message || message->type != RK_STRING)
        message = event ? rk_map_get_cstr(event, "note") : NULL;
    const char *rs = reason && reason->type == RK_STRING ? reason->as.str.ptr : "";
    const char *ms = message && message->type == RK_STRING ? message->as.str.ptr : "";
    size_t mlen = strlen(ms);
    while (mlen && isspace((unsigned char)ms[mlen - 1]))
        mlen--;
    int n = snprintf(buf, size, "%s%s%.*s", rs, *rs && mlen ? ": " : "", (int)mlen, ms);
    for (size_t i = 0; buf && i < size && buf[i]; i++)
        if (buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t')
            buf[i] = ' ';
    return n < 0 ? 0 : (size_t)n;
}

/* ---- history and undo ----------------------------------------------------------------- */

/* Go's strconv.ParseInt(s, 10, 64): optional sign, decimal digits, nothing else. */
static int parse_revision(const char *s, int64_t *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (!isdigit((unsigned char)*p))
        return 0;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q))
            return 0;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end)
        return 0;
    *out = (int64_t)v;
    return 1;
}

/* The revision annotation of obj: 1 with *rev set (0 when absent), 0 when not a number. */
static int object_revision(reader *r, const rk_value *obj, int64_t *rev)
{
    const rk_value *annotations = get_map(r, obj, NULL, "metadata.annotations");
    const rk_value *v = annotations ? rk_map_get_cstr(annotations, REVISION_ANNOTATION) : NULL;
    *rev = 0;
    if (!v || v->type == RK_NULL)
        return 1;
    if (v->type != RK_STRING) {
        if (r->status == RK_OK)
            r->status = rk_error_set(r->err, RK_ERR_INVALID,
                                     "%s \"%s\": metadata.annotations[\"%s\"]: expected a string, "
                                     "got %s",
                                     r->kind, r->name, REVISION_ANNOTATION, rk_type_name(v->type));
        return 0;
    }
    return parse_revision(v->as.str.ptr, rev);
}

typedef struct {
    const rk_value *rs;
    int64_t revision;
    size_t index;
} owned_rs;

static int owned_by(reader *r, const rk_value *rs, const char *uid, const char *name)
{
    const rk_value *refs = get_seq(r, rs, NULL, "metadata.ownerReferences");
    for (size_t i = 0; i < rk_value_len(refs); i++) {
        const rk_value *ref = rk_seq_get(refs, i);
        if (ref->type != RK_MAP)
            continue;
        const rk_value *controller = rk_map_get_cstr(ref, "controller");
        if (controller && controller->type == RK_BOOL && !controller->as.boolean)
            continue;
        if (!is_empty(uid)) {
            if (streq(get_str(r, ref, "ownerReferences[]", "uid"), uid))
                return 1;
        } else if (streq(get_str(r, ref, "ownerReferences[]", "kind"), "Deployment") &&
                   streq(get_str(r, ref, "ownerReferences[]", "name"), name)) {
            return 1;
        }
    }
    return 0;
}

/* The owned ReplicaSets with a readable revision, in list order. *out is malloc'd. */
static rk_status collect_owned(const rk_value *deploy, const rk_value *replicasets, reader *dr,
                               owned_rs **out, size_t *count, rk_error *err)
{
    *out = NULL;
    *count = 0;
    const char *uid = get_str(dr, deploy, NULL, "metadata.uid");
    if (dr->status != RK_OK)
        return dr->status;
    const rk_value *list;
    if (list_items(replicasets, "replicasets", &list, err) != RK_OK)
        return RK_ERR_INVALID;
    size_t n = rk_value_len(list);
    if (n == 0)
        return RK_OK;
    owned_rs *items = calloc(n, sizeof *items);
    if (!items)
        return rk_error_set(err, RK_ERR_NOMEM, "out of memory reading replicasets");
    for (size_t i = 0; i < n; i++) {
        const rk_value *rs = rk_seq_get(list, i);
        if (rs->type != RK_MAP)
            continue;
        reader rr = {err, RK_OK, "replicaset", ""};
        rr.name = get_text(&rr, rs, NULL, "metadata.name");
        int64_t rev;
        int mine = owned_by(&rr, rs, uid, dr->name);
        int numbered = mine && object_revision(&rr, rs, &rev);
        if (rr.status != RK_OK) {
            free(items);
            return rr.status;
        }
        if (numbered)
            items[(*count)++] = (owned_rs){rs, rev, i};
    }
    *out = items;
    return RK_OK;
}

static int compare_owned(const void *a, const void *b)
{
    const owned_rs *x = a, *y = b;
    if (x->revision != y->revision)
        return x->revision < y->revision ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static rk_status deploy_reader(reader *r, const rk_value *deploy, rk_error *err)
{
    rk_verdict scratch;
    reader_start(r, deploy, "deployment", &scratch, err);
    return r->status;
}

rk_status rk_rollout_history(const rk_value *deploy, const rk_value *replicasets, rk_history *out,
                             rk_error *err)
{
    reader r;
    memset(out, 0, sizeof *out);
    if (deploy_reader(&r, deploy, err) != RK_OK)
        return r.status;
    int64_t current;
    if (!object_revision(&r, deploy, &current))
        current = 0;
    if (r.status != RK_OK)
        return r.status;
    owned_rs *owned;
    size_t n;
    rk_status st = collect_owned(deploy, replicasets, &r, &owned, &n, err);
    if (st != RK_OK)
        return st;
    if (n > 1)
        qsort(owned, n, sizeof *owned, compare_owned);
    out->current = current;
    out->items = n ? calloc(n, sizeof *out->items) : NULL;
    if (n && !out->items) {
        free(owned);
        return rk_error_set(err, RK_ERR_NOMEM, "out of memory building rollout history");
    }
    for (size_t i = 0; i < n; i++) {
        /* kubectl keys history by revision: for a repeated revision the later one wins. */
        if (i + 1 < n && owned[i + 1].revision == owned[i].revision)
            continue;
        const rk_value *rs = owned[i].rs;
        rk_revision *rev = &out->items[out->len++];
        reader rr = {err, RK_OK, "replicaset", ""};
        rr.name = get_text(&rr, rs, NULL, "metadata.name");
        rev->revision = owned[i].revision;
        rev->replicaset = rs;
        rev->name = rr.name;
        const rk_value *annotations = get_map(&rr, rs, NULL, "metadata.annotations");
        const rk_value *cause =
            annotations ? rk_map_get_cstr(annotations, CHANGE_CAUSE_ANNOTATION) : NULL;
        rev->change_cause =
            cause && cause->type == RK_STRING && cause->as.str.len ? cause->as.str.ptr : NULL;
        rev->current = rev->revision == current;
        const rk_value *containers = get_seq(&rr, rs, NULL, "spec.template.spec.containers");
        size_t nc = rk_value_len(containers);
        rev->images = nc ? calloc(nc, sizeof *rev->images) : NULL;
        if (nc && !rev->images) {
            free(owned);
            rk_history_free(out);
            return rk_error_set(err, RK_ERR_NOMEM, "out of memory building rollout history");
        }
        for (size_t c = 0; c < nc; c++) {
            const rk_value *ctr = rk_seq_get(containers, c);
            const rk_value *image = ctr->type == RK_MAP ? rk_map_get_cstr(ctr, "image") : NULL;
            if (image && image->type == RK_STRING)
                rev->images[rev->nimages++] = image->as.str.ptr;
        }
        if (rr.status != RK_OK) {
            free(owned);
            rk_history_free(out);
            return rr.status;
        }
    }
    free(owned);
    return RK_OK;
}

void rk_history_free(rk_history *history)
{
    if (!history)
        return;
    for (size_t i = 0; i < history->len; i++)
        free(history->items[i].images);
    free(history->items);
    memset(history, 0, sizeof *history);
}

/* A copy of obj's spec.template without the pod-template-hash label (and without a
 * labels map that only held it: kubectl's semantic equality makes empty and absent
 * the same). An absent template copies as an empty map. NULL when memory runs out. */
static rk_value *template_without_hash(const rk_value *obj)
{
    const rk_value *spec = rk_map_get_cstr(obj, "spec");
    const rk_value *tmpl = spec && spec->type == RK_MAP ? rk_map_get_cstr(spec, "template") : NULL;
    rk_value *copy = tmpl && tmpl->type == RK_MAP ? rk_value_copy(tmpl) : rk_map_new();
    if (!copy)
        return NULL;
    rk_value *meta = rk_map_get_cstr(copy, "metadata");
    rk_value *labels = meta && meta->type == RK_MAP ? rk_map_get_cstr(meta, "labels") : NULL;
    if (labels && labels->type == RK_MAP) {
        rk_map_remove(labels, POD_TEMPLATE_HASH_LABEL, strlen(POD_TEMPLATE_HASH_LABEL));
        if (labels->as.map.len == 0)
            rk_map_remove(meta, "labels", 6);
    }
    return copy;
}

/* kubectl keeps these Deployment annotations through an undo and never copies them
 * from the ReplicaSet (rollback.go annotationsToSkip). */
static const char *const skipped_annotations[] = {
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION_ANNOTATION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
    NULL,
};

static int is_skipped_annotation(const char *key)
{
    for (const char *const *k = skipped_annotations; *k; k++)
        if (strcmp(key, *k) == 0)
            return 1;
    return 0;
}

static rk_value *rollback_annotations(const rk_value *deploy, const rk_value *rs)
{
    rk_value *out = rk_map_new();
    const rk_value *sources[2] = {deploy, rs};
    for (int s = 0; s < 2 && out; s++) {
        const rk_value *meta = rk_map_get_cstr(sources[s], "metadata");
        const rk_value *ann =
            meta && meta->type == RK_MAP ? rk_map_get_cstr(meta, "annotations") : NULL;
        if (!ann || ann->type != RK_MAP)
            continue;
        for (size_t i = 0; i < ann->as.map.len; i++) {
            const rk_member *m = &ann->as.map.items[i];
            if (is_skipped_annotation(m->key) != (s == 0))
                continue;
            rk_value *copy = rk_value_copy(m->value);
            if (!copy || rk_map_set(out, m->key, m->key_len, copy) != RK_OK) {
                rk_value_free(out);
                return NULL;
            }
        }
    }
    return out;
}

rk_status rk_rollout_rollback(const rk_value *deploy, const rk_value *replicasets,
                              int64_t to_revision, rk_rollback *out, rk_error *err)
{
    reader r;
    memset(out, 0, sizeof *out);
    if (deploy_reader(&r, deploy, err) != RK_OK)
        return r.status;
    int paused = get_bool(&r, deploy, NULL, "spec.paused");
    if (r.status != RK_OK)
        return r.status;
    if (to_revision < 0)
        return rk_error_set(err, RK_ERR_NOT_FOUND,
                            "unable to find specified revision %" PRId64 " in history",
                            to_revision);
    owned_rs *owned;
    size_t n;
    rk_status st = collect_owned(deploy, replicasets, &r, &owned, &n, err);
    if (st != RK_OK)
        return st;

    /* rollback.go deploymentRevision: the first match for an explicit revision; for 0,
     * the second-newest, the first seen winning ties. */
    const owned_rs *pick = NULL, *latest = NULL;
    for (size_t i = 0; i < n; i++) {
        const owned_rs *o = &owned[i];
        if (to_revision > 0) {
            if (o->revision == to_revision) {
                pick = o;
                break;
            }
        } else if (!latest || latest->revision < o->revision) {
            pick = latest;
            latest = o;
        } else if (!pick || pick->revision < o->revision) {
            pick = o;
        }
    }
    if (!pick) {
        free(owned);
        if (to_revision > 0)
            return rk_error_set(err, RK_ERR_NOT_FOUND,
                                "unable to find specified revision %" PRId64 " in history",
                                to_revision);
        return rk_error_set(err, RK_ERR_NOT_FOUND, "no rollout history found for deployment \"%s\"",
                            r.name);
    }
    const rk_value *rs = pick->rs;
    int64_t revision = pick->revision;
    free(owned);
    if (paused)
        return rk_error_set(
            err, RK_ERR_INVALID,
            "deployment \"%s\" is paused: you cannot rollback a paused deployment; "
            "resume it first with 'kubectl rollout resume deployment/%s' and try again",
            r.name, r.name);

    out->revision = revision;
    out->replicaset = rs;
    out->pod_template = template_without_hash(rs);
    out->annotations = rollback_annotations(deploy, rs);
    rk_value *current = template_without_hash(deploy);
    if (!out->pod_template || !out->annotations || !current) {
        rk_value_free(current);
        rk_rollback_free(out);
        return rk_error_set(err, RK_ERR_NOMEM, "out of memory preparing the rollback");
    }
    out->unchanged = rk_value_equal(out->pod_template, current);
    rk_value_free(current);
    return RK_OK;
}

void rk_rollback_free(rk_rollback *rollback)
{
    if (!rollback)
        return;
    rk_value_free(rollback->pod_template);
    rk_value_free(rollback->annotations);
    memset(rollback, 0, sizeof *rollback);
}
