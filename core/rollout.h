/* rollout.h — is this Kubernetes object ready, progressing or failed, and why: pure
 * functions from an object (an rk_value tree) to a verdict. Deployments, StatefulSets
 * and DaemonSets follow `kubectl rollout status` message for message; pods, claims,
 * jobs and services get a diagnosis that names the thing and the cause. The same module
 * holds the revision bookkeeping behind `kubectl rollout history` and `rollout undo`.
 *
 * Ownership: objects, lists and events are borrowed for the duration of a call and
 * never modified. A verdict is a plain struct with fixed buffers (nothing to free).
 * rk_history borrows the ReplicaSet list it was built from (free it with
 * rk_history_free before the list); rk_rollback owns its template and annotations
 * (rk_rollback_free) and borrows the ReplicaSet it names.
 *
 * Objects are read the way Go reads them into typed structs: a missing field or JSON
 * null is the zero value; a field of the wrong type (a string where an integer belongs)
 * is RK_ERR_INVALID, naming the object and the field path. Defaults the API server
 * would have filled in are applied (spec.replicas 1, updateStrategy RollingUpdate), so
 * hand-written objects and server objects read alike. A list argument is either a
 * sequence of objects or a *List object with `items`. */
#ifndef RK_ROLLOUT_H
#define RK_ROLLOUT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "value.h"

typedef enum {
    RK_ROLLOUT_PROGRESSING, /* not there yet, and nothing says it never will be */
    RK_ROLLOUT_READY,       /* done: rolled out, Ready, Bound, Complete, present */
    RK_ROLLOUT_FAILED       /* will not get there without a change: stop waiting */
} rk_rollout_state;

#define RK_VERDICT_MESSAGE_MAX 1024
#define RK_VERDICT_REASONS_MAX 8
#define RK_VERDICT_REASON_MAX  48

/* message is one line for people (kubectl's wording where kubectl has one, without its
 * trailing newline; cut with "..." when longer than the buffer). reasons are stable
 * CamelCase codes for policy code, most important first, without repeats: Kubernetes'
 * own reason where it has one (ProgressDeadlineExceeded, CrashLoopBackOff, OOMKilled,
 * Unschedulable, BackoffLimitExceeded, ...), otherwise one of ours (ReplicasNotUpdated,
 * ContainersNotReady, ClaimPending, ...). The header of rollout.c lists them all. */
typedef struct {
    rk_rollout_state state;
    char message[RK_VERDICT_MESSAGE_MAX];
    size_t nreasons;
    char reasons[RK_VERDICT_REASONS_MAX][RK_VERDICT_REASON_MAX];
} rk_verdict;

/* "ready", "progressing", "failed". */
const char *rk_rollout_state_name(rk_rollout_state state);

/* Chooses by kind (and API group): Deployment, StatefulSet, DaemonSet, Pod,
 * PersistentVolumeClaim, Job, Service, Namespace; any other kind is ready because it
 * exists. RK_ERR_INVALID when obj is not a map or has no kind. */
rk_status rk_rollout_evaluate(const rk_value *obj, rk_verdict *out, rk_error *err);

/* The per-kind rules; each reads any map as its kind without checking `kind`. */
rk_status rk_rollout_deployment(const rk_value *obj, rk_verdict *out, rk_error *err);
rk_status rk_rollout_statefulset(const rk_value *obj, rk_verdict *out, rk_error *err);
rk_status rk_rollout_daemonset(const rk_value *obj, rk_verdict *out, rk_error *err);
rk_status rk_rollout_pod(const rk_value *obj, rk_verdict *out, rk_error *err);
rk_status rk_rollout_pvc(const rk_value *obj, rk_verdict *out, rk_error *err);
rk_status rk_rollout_job(const rk_value *obj, rk_verdict *out, rk_error *err);
rk_status rk_rollout_service(const rk_value *obj, rk_verdict *out, rk_error *err);

/* The event that explains why obj is stuck: the most recent Warning event about it
 * (core/v1 involvedObject or events.k8s.io/v1 regarding; matched by uid when both
 * sides have one, else by kind, name and namespace). Recency is the latest of
 * series.lastObservedTime, eventTime, lastTimestamp, firstTimestamp and
 * metadata.creationTimestamp; on a tie the later list item wins. *event_out is NULL
 * when no event matches. */
rk_status rk_rollout_event_for(const rk_value *obj, const rk_value *events,
                               const rk_value **event_out, rk_error *err);

/* What an image pull error says about the image, from the kubelet's message (the
 * waiting state's message of ErrImagePull or ImagePullBackOff, or a Failed event's
 * "Failed to pull image ...: ..."; containerd, CRI-O and Docker wordings):
 *   RK_PULL_PERMANENT  the image cannot exist or cannot be had with these credentials:
 *                      "not found", "manifest unknown", "repository does not exist",
 *                      "pull access denied", "denied", "unauthorized", "401", "403
 *                      Forbidden", "invalid reference format"...; retrying cannot help
 *   RK_PULL_TRANSIENT  the registry or the network failed this time: timeouts, "connection
 *                      refused", EOF, 5xx, "429 Too Many Requests", rate limits...
 *   RK_PULL_UNKNOWN    neither (an empty message, "Back-off pulling image" alone)
 * Transient words win over permanent ones ("failed to authorize: ... 502 Bad Gateway").
 * *why (when not NULL) gets the phrase that decided, a static string, or "". */
typedef enum { RK_PULL_UNKNOWN, RK_PULL_TRANSIENT, RK_PULL_PERMANENT } rk_pull_class;
rk_pull_class rk_rollout_pull_error(const char *message, const char **why);

/* Writes "Reason: message" for an event (`note` for events.k8s.io/v1), on one line.
 * Returns the length it wanted, like snprintf. */
size_t rk_rollout_event_text(const rk_value *event, char *buf, size_t size);

/* ---- rollout history and undo (kubectl's DeploymentHistoryViewer and
 * DeploymentRollbacker) ---------------------------------------------------------------- */

/* A ReplicaSet belongs to a Deployment when one of its ownerReferences carries the
 * Deployment's uid and is not marked controller: false (without a uid on the
 * Deployment: kind Deployment and its name). Its revision is the
 * deployment.kubernetes.io/revision annotation; a missing annotation is revision 0
 * (as kubectl reads it) and one that is not an integer leaves the ReplicaSet out. */
typedef struct {
    int64_t revision;
    const rk_value *replicaset; /* borrowed from the list */
    const char *name;           /* metadata.name, "" when absent */
    const char *change_cause;   /* kubernetes.io/change-cause; NULL when absent or empty */
    const char **images;        /* spec.template.spec.containers[].image, in order */
    size_t nimages;
    int current; /* revision equals the Deployment's own revision */
} rk_revision;

typedef struct {
    rk_revision *items; /* ascending revision; one per revision (the later list item) */
    size_t len;
    int64_t current; /* the Deployment's revision annotation; 0 when it has none */
} rk_history;

rk_status rk_rollout_history(const rk_value *deploy, const rk_value *replicasets, rk_history *out,
                             rk_error *err);
void rk_history_free(rk_history *history);

typedef struct {
    int64_t revision;
    const rk_value *replicaset; /* borrowed: the ReplicaSet that holds the revision */
    rk_value *pod_template;     /* owned: its spec.template minus pod-template-hash */
    rk_value *annotations;      /* owned: the Deployment's metadata.annotations after the
                                 * undo, as kubectl's JSON patch replaces them */
    int unchanged;              /* the Deployment already runs this template (kubectl:
                                 * "skipped rollback") */
} rk_rollback;

/* Picks the ReplicaSet to return to: to_revision > 0 is that revision
 * (RK_ERR_NOT_FOUND "unable to find specified revision N in history"); 0 is the
 * second-newest revision (RK_ERR_NOT_FOUND "no rollout history found for deployment
 * "x""). A paused Deployment is RK_ERR_INVALID, as kubectl refuses it. */
rk_status rk_rollout_rollback(const rk_value *deploy, const rk_value *replicasets,
                              int64_t to_revision, rk_rollback *out, rk_error *err);
void rk_rollback_free(rk_rollback *rollback);

#endif
