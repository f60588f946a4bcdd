/* Readiness verdicts over Kubernetes objects: the workload rules (Deployment, StatefulSet,
 * DaemonSet, PVC, Job, Service, Namespace) and the dispatch by kind. The Pod rules are in
 * rollout_pod.c, events in rollout_events.c, history and undo in rollout_history.c, the
 * shared reader and verdict helpers in rollout_read.c.
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
#include <inttypes.h>
#include <string.h>

#include "rollout_internal.h"

/* ---- Deployment, StatefulSet, DaemonSet (kubectl rollout status) ---------------------- */

rk_status rk_rollout_deployment(const rk_value *obj, rk_verdict *out, rk_error *err)
{
    reader r;
    if (!rk_ro_reader_start(&r, obj, "deployment", out, err))
        return r.status;
    int64_t generation = rk_ro_get_int(&r, obj, NULL, "metadata.generation", 0);
    int64_t observed = rk_ro_get_int(&r, obj, NULL, "status.observedGeneration", 0);
    int64_t spec_replicas = rk_ro_get_int(&r, obj, NULL, "spec.replicas", 1);
    int64_t replicas = rk_ro_get_int(&r, obj, NULL, "status.replicas", 0);
    int64_t updated = rk_ro_get_int(&r, obj, NULL, "status.updatedReplicas", 0);
    int64_t available = rk_ro_get_int(&r, obj, NULL, "status.availableReplicas", 0);
    const rk_value *progressing = rk_ro_find_condition(&r, obj, "Progressing");
    const char *progress_reason =
        progressing ? rk_ro_get_str(&r, progressing, "condition", "reason") : NULL;
    const rk_value *replica_failure = rk_ro_find_condition(&r, obj, "ReplicaFailure");
    int failing = rk_ro_condition_true(&r, replica_failure);
    if (r.status != RK_OK)
        return rk_ro_reader_finish(&r, out);

    const char *name = r.name;
    if (generation > observed) {
        rk_ro_verdict_set(out, RK_ROLLOUT_PROGRESSING, "SpecUpdateNotObserved",
                          "Waiting for deployment spec update to be observed...");
    } else if (streq(progress_reason, "ProgressDeadlineExceeded")) {
        rk_ro_verdict_set(out, RK_ROLLOUT_FAILED, "ProgressDeadlineExceeded",
                          "deployment \"%s\" exceeded its progress deadline", name);
        return RK_OK;
    } else if (updated < spec_replicas) {
        rk_ro_verdict_set(out, RK_ROLLOUT_PROGRESSING, "ReplicasNotUpdated",
                          "Waiting for deployment \"%s\" rollout to finish: %" PRId64
                          " out of %" PRId64 " new replicas have been updated...",
                          name, updated, spec_replicas);
    } else if (replicas > updated) {
        rk_ro_verdict_set(out, RK_ROLLOUT_PROGRESSING, "OldReplicasPendingTermination",
                          "Waiting for deployment \"%s\" rollout to finish: %" PRId64
                          " old replicas are pending termination...",
                          name, replicas - updated);
    } else if (available < updated) {
        rk_ro_verdict_set(out, RK_ROLLOUT_PROGRESSING, "ReplicasNotAvailable",
                          "Waiting for deployment \"%s\" rollout to finish: %" PRId64 " of %" PRId64
                          " updated replicas are available...",
                          name, available, updated);
    } else {
        rk_ro_verdict_set(out, RK_ROLLOUT_READY, "RolledOut",
                          "deployment \"%s\" successfully rolled out", name);
        return RK_OK;
    }
    /* kubectl is silent about pods the ReplicaSet cannot create (quota, admission); the
     * controller retries until the deadline, but the user should see why meanwhile. */
    if (failing) {
        const char *reason = rk_ro_get_text(&r, replica_failure, "condition", "reason");
        const char *message = rk_ro_get_text(&r, replica_failure, "condition", "message");
        rk_ro_verdict_append(out, " (ReplicaFailure: %s%s", reason,
                             *reason && *message ? ": " : "");
        rk_ro_verdict_text(out, message);
        rk_ro_verdict_append(out, ")");
        rk_ro_verdict_reason(out, is_empty(reason) ? "ReplicaFailure" : reason);
    }
    return rk_ro_reader_finish(&r, out);
}

/* The API server defaults updateStrategy.type to RollingUpdate. */
static const char *update_strategy(reader *r, const rk_value *obj)
{
    const char *type = rk_ro_get_str(r, obj, NULL, "spec.updateStrategy.type");
    return is_empty(type) ? "RollingUpdate" : type;
}

rk_status rk_rollout_statefulset(const rk_value *obj, rk_verdict *out, rk_error *err)
{
    reader r;
    if (!rk_ro_reader_start(&r, obj, "statefulset", out, err))
        return r.status;
    const char *strategy = update_strategy(&r, obj);
    int64_t generation = rk_ro_get_int(&r, obj, NULL, "metadata.generation", 0);
    int64_t observed = rk_ro_get_int(&r, obj, NULL, "status.observedGeneration", 0);
    int64_t spec_replicas = rk_ro_get_int(&r, obj, NULL, "spec.replicas", 1);
    int64_t ready = rk_ro_get_int(&r, obj, NULL, "status.readyReplicas", 0);
    int64_t updated = rk_ro_get_int(&r, obj, NULL, "status.updatedReplicas", 0);
    int64_t current = rk_ro_get_int(&r, obj, NULL, "status.currentReplicas", 0);
    const rk_value *rolling = rk_ro_get_map(&r, obj, NULL, "spec.updateStrategy.rollingUpdate");
    int partitioned = rolling && rk_ro_has(&r, rolling, "partition");
    int64_t partition =
        rk_ro_get_int(&r, obj, NULL, "spec.updateStrategy.rollingUpdate.partition", 0);
    const char *update_revision = rk_ro_get_text(&r, obj, NULL, "status.updateRevision");
    const char *current_revision = rk_ro_get_text(&r, obj, NULL, "status.currentRevision");
    if (r.status != RK_OK)
        return rk_ro_reader_finish(&r, out);

    int rolling_update = strcmp(strategy, "RollingUpdate") == 0;
    if (observed == 0 || generation > observed) {
        rk_ro_verdict_set(out, RK_ROLLOUT_PROGRESSING, "SpecUpdateNotObserved",
                          "Waiting for statefulset spec update to be observed...");
    } else if (ready < spec_replicas) {
        rk_ro_verdict_set(out, RK_ROLLOUT_PROGRESSING, "PodsNotReady",
                          "Waiting for %" PRId64 " pods to be ready...", spec_replicas - ready);
    } else if (!rolling_update) {
        /* kubectl stops here with an error; the pods being Ready is all there is to wait
         * for, since OnDelete replaces pods only when someone deletes them. */
        rk_ro_verdict_set(out, RK_ROLLOUT_READY, "RolledOut",
                          "statefulset \"%s\" has %" PRId64
                          " ready pods (%s update strategy: rollout "
                          "status is only available for RollingUpdate strategy type)",
                          r.name, ready, strategy);
        rk_ro_verdict_reason(out, "UpdateStrategyNotTracked");
    } else if (rolling) {
        if (partitioned && updated < spec_replicas - partition)
            rk_ro_verdict_set(out, RK_ROLLOUT_PROGRESSING, "PartitionedRolloutInProgress",
                              "Waiting for partitioned roll out to finish: %" PRId64
                              " out of %" PRId64 " new pods have been updated...",
                              updated, spec_replicas - partition);
        else
            rk_ro_verdict_set(out, RK_ROLLOUT_READY, "RolledOut",
                              "partitioned roll out complete: %" PRId64
                              " new pods have been updated...",
                              updated);
    } else if (strcmp(update_revision, current_revision) != 0) {
        rk_ro_verdict_set(out, RK_ROLLOUT_PROGRESSING, "RevisionUpdateInProgress",
                          "waiting for statefulset rolling update to complete %" PRId64
                          " pods at revision %s...",
                          updated, update_revision);
    } else {
        rk_ro_verdict_set(out, RK_ROLLOUT_READY, "RolledOut",
                          "statefulset rolling update complete %" PRId64 " pods at revision %s...",
                          current, current_revision);
    }
    return RK_OK;
}

rk_status rk_rollout_daemonset(const rk_value *obj, rk_verdict *out, rk_error *err)
{
    reader r;
    if (!rk_ro_reader_start(&r, obj, "daemonset", out, err))
        return r.status;
    const char *strategy = update_strategy(&r, obj);
    int64_t generation = rk_ro_get_int(&r, obj, NULL, "metadata.generation", 0);
    int64_t observed = rk_ro_get_int(&r, obj, NULL, "status.observedGeneration", 0);
    int64_t desired = rk_ro_get_int(&r, obj, NULL, "status.desiredNumberScheduled", 0);
    int64_t updated = rk_ro_get_int(&r, obj, NULL, "status.updatedNumberScheduled", 0);
    int64_t available = rk_ro_get_int(&r, obj, NULL, "status.numberAvailable", 0);
    if (r.status != RK_OK)
        return rk_ro_reader_finish(&r, out);

    const char *name = r.name;
    int rolling_update = strcmp(strategy, "RollingUpdate") == 0;
    if (generation > observed) {
        rk_ro_verdict_set(out, RK_ROLLOUT_PROGRESSING, "SpecUpdateNotObserved",
                          "Waiting for daemon set spec update to be observed...");
    } else if (!rolling_update) {
        /* As for StatefulSets: kubectl refuses; available pods are what can be waited for. */
        if (available < desired)
            rk_ro_verdict_set(out, RK_ROLLOUT_PROGRESSING, "PodsNotAvailable",
                              "Waiting for daemon set \"%s\": %" PRId64 " of %" PRId64
                              " pods are available (%s update strategy)...",
                              name, available, desired, strategy);
        else
            rk_ro_verdict_set(out, RK_ROLLOUT_READY, "RolledOut",
                              "daemon set \"%s\" has %" PRId64 " of %" PRId64 " pods available (%s "
                              "update strategy: rollout status is only available for RollingUpdate "
                              "strategy type)",
                              name, available, desired, strategy);
        rk_ro_verdict_reason(out, "UpdateStrategyNotTracked");
    } else if (updated < desired) {
        rk_ro_verdict_set(out, RK_ROLLOUT_PROGRESSING, "PodsNotUpdated",
                          "Waiting for daemon set \"%s\" rollout to finish: %" PRId64
                          " out of %" PRId64 " new pods have been updated...",
                          name, updated, desired);
    } else if (available < desired) {
        rk_ro_verdict_set(out, RK_ROLLOUT_PROGRESSING, "PodsNotAvailable",
                          "Waiting for daemon set \"%s\" rollout to finish: %" PRId64 " of %" PRId64
                          " updated pods are available...",
                          name, available, desired);
    } else {
        rk_ro_verdict_set(out, RK_ROLLOUT_READY, "RolledOut",
                          "daemon set \"%s\" successfully rolled out", name);
    }
    return RK_OK;
}

/* ---- PersistentVolumeClaim, Job, Service, Namespace ------------------------------------ */

rk_status rk_rollout_pvc(const rk_value *obj, rk_verdict *out, rk_error *err)
{
    reader r;
    if (!rk_ro_reader_start(&r, obj, "persistentvolumeclaim", out, err))
        return r.status;
    const char *phase = rk_ro_get_text(&r, obj, NULL, "status.phase");
    const char *volume = rk_ro_get_text(&r, obj, NULL, "spec.volumeName");
    const char *storage_class = rk_ro_get_str(&r, obj, NULL, "spec.storageClassName");
    if (r.status != RK_OK)
        return rk_ro_reader_finish(&r, out);

    const char *name = r.name;
    if (strcmp(phase, "Bound") == 0) {
        rk_ro_verdict_set(out, RK_ROLLOUT_READY, "ClaimBound",
                          "persistentvolumeclaim \"%s\" is bound", name);
        if (*volume)
            rk_ro_verdict_append(out, " to volume \"%s\"", volume);
    } else if (strcmp(phase, "Lost") == 0) {
        rk_ro_verdict_set(
            out, RK_ROLLOUT_FAILED, "ClaimLost",
            "persistentvolumeclaim \"%s\" lost its volume%s%s%s: the PersistentVolume "
            "is gone; the data is unreachable until the volume is restored or the claim "
            "is recreated",
            name, *volume ? " \"" : "", volume, *volume ? "\"" : "");
    } else {
        rk_ro_verdict_set(out, RK_ROLLOUT_PROGRESSING, "ClaimPending",
                          "persistentvolumeclaim \"%s\" is pending", name);
        if (!storage_class)
            rk_ro_verdict_append(out, " (default storage class)");
        else if (*storage_class)
            rk_ro_verdict_append(out, " (storage class \"%s\")", storage_class);
        else
            rk_ro_verdict_append(out,
                                 " (no storage class: waiting for a matching PersistentVolume)");
    }
    return RK_OK;
}

rk_status rk_rollout_job(const rk_value *obj, rk_verdict *out, rk_error *err)
{
    reader r;
    if (!rk_ro_reader_start(&r, obj, "job", out, err))
        return r.status;
    const rk_value *complete = rk_ro_find_condition(&r, obj, "Complete");
    const rk_value *failed = rk_ro_find_condition(&r, obj, "Failed");
    const rk_value *failure_target = rk_ro_find_condition(&r, obj, "FailureTarget");
    int64_t succeeded = rk_ro_get_int(&r, obj, NULL, "status.succeeded", 0);
    int64_t active = rk_ro_get_int(&r, obj, NULL, "status.active", 0);
    int64_t failures = rk_ro_get_int(&r, obj, NULL, "status.failed", 0);
    int has_completions = rk_ro_has(&r, obj, "spec.completions");
    int64_t completions = rk_ro_get_int(&r, obj, NULL, "spec.completions", 1);
    int work_queue = !has_completions && rk_ro_has(&r, obj, "spec.parallelism");
    int suspended = rk_ro_get_bool(&r, obj, NULL, "spec.suspend");
    if (!rk_ro_condition_true(&r, failed) && rk_ro_condition_true(&r, failure_target))
        failed = failure_target; /* terminal already; Failed follows once pods are gone */
    if (r.status != RK_OK)
        return rk_ro_reader_finish(&r, out);

    const char *name = r.name;
    if (rk_ro_condition_true(&r, complete)) {
        rk_ro_verdict_set(out, RK_ROLLOUT_READY, "JobComplete", "job \"%s\" completed", name);
        if (work_queue)
            rk_ro_verdict_append(out, ": %" PRId64 " completions", succeeded);
        else
            rk_ro_verdict_append(out, ": %" PRId64 "/%" PRId64 " completions", succeeded,
                                 completions);
    } else if (rk_ro_condition_true(&r, failed)) {
        const char *reason = rk_ro_get_text(&r, failed, "condition", "reason");
        const char *message = rk_ro_get_text(&r, failed, "condition", "message");
        rk_ro_verdict_set(out, RK_ROLLOUT_FAILED, *reason ? reason : "JobFailed",
                          "job \"%s\" failed", name);
        if (*reason)
            rk_ro_verdict_append(out, ": %s", reason);
        if (*message) {
            rk_ro_verdict_append(out, ": ");
            rk_ro_verdict_text(out, message);
        }
    } else if (suspended) {
        rk_ro_verdict_set(out, RK_ROLLOUT_PROGRESSING, "JobSuspended", "job \"%s\" is suspended",
                          name);
    } else {
        rk_ro_verdict_set(out, RK_ROLLOUT_PROGRESSING, "JobRunning", "job \"%s\": ", name);
        if (work_queue)
            rk_ro_verdict_append(out, "%" PRId64 " completions", succeeded);
        else
            rk_ro_verdict_append(out, "%" PRId64 "/%" PRId64 " completions", succeeded,
                                 completions);
        if (active > 0)
            rk_ro_verdict_append(out, ", %" PRId64 " active", active);
        if (failures > 0)
            rk_ro_verdict_append(out, ", %" PRId64 " failed", failures);
    }
    return rk_ro_reader_finish(&r, out);
}

rk_status rk_rollout_service(const rk_value *obj, rk_verdict *out, rk_error *err)
{
    reader r;
    if (!rk_ro_reader_start(&r, obj, "service", out, err))
        return r.status;
    const char *type = rk_ro_get_str(&r, obj, NULL, "spec.type");
    const char *cluster_ip = rk_ro_get_text(&r, obj, NULL, "spec.clusterIP");
    const char *external = rk_ro_get_text(&r, obj, NULL, "spec.externalName");
    const rk_value *ingress = rk_ro_get_seq(&r, obj, NULL, "status.loadBalancer.ingress");
    const rk_value *first = rk_seq_get(ingress, 0);
    const char *address = "";
    if (first && first->type == RK_MAP) {
        address = rk_ro_get_text(&r, first, "status.loadBalancer.ingress[0]", "ip");
        if (!*address)
            address = rk_ro_get_text(&r, first, "status.loadBalancer.ingress[0]", "hostname");
    }
    if (r.status != RK_OK)
        return rk_ro_reader_finish(&r, out);

    const char *name = r.name;
    if (is_empty(type))
        type = "ClusterIP";
    if (strcmp(type, "ExternalName") == 0) {
        rk_ro_verdict_set(out, RK_ROLLOUT_READY, "ServiceReady",
                          "service \"%s\" is ready (ExternalName %s)", name, external);
    } else if (strcmp(type, "LoadBalancer") == 0) {
        if (rk_value_len(ingress) > 0)
            rk_ro_verdict_set(out, RK_ROLLOUT_READY, "LoadBalancerReady",
                              "service \"%s\" is ready (load balancer %s)", name,
                              *address ? address : "provisioned");
        else
            rk_ro_verdict_set(
                out, RK_ROLLOUT_PROGRESSING, "LoadBalancerPending",
                "service \"%s\": waiting for the load balancer to get an external address", name);
    } else if (strcmp(cluster_ip, "None") == 0) {
        rk_ro_verdict_set(out, RK_ROLLOUT_READY, "ServiceReady",
                          "service \"%s\" is ready (headless)", name);
    } else if (*cluster_ip) {
        rk_ro_verdict_set(out, RK_ROLLOUT_READY, "ServiceReady", "service \"%s\" is ready (%s %s)",
                          name, type, cluster_ip);
    } else {
        rk_ro_verdict_set(out, RK_ROLLOUT_READY, "ServiceReady", "service \"%s\" is ready (%s)",
                          name, type);
    }
    return RK_OK;
}

static rk_status namespace_status(const rk_value *obj, rk_verdict *out, rk_error *err)
{
    reader r;
    if (!rk_ro_reader_start(&r, obj, "namespace", out, err))
        return r.status;
    const char *phase = rk_ro_get_text(&r, obj, NULL, "status.phase");
    if (r.status != RK_OK)
        return rk_ro_reader_finish(&r, out);
    if (strcmp(phase, "Terminating") == 0)
        rk_ro_verdict_set(
            out, RK_ROLLOUT_PROGRESSING, "Terminating",
            "namespace \"%s\" is terminating: objects cannot be created in it until it "
            "is gone",
            r.name);
    else
        rk_ro_verdict_set(out, RK_ROLLOUT_READY, "Present", "namespace \"%s\" exists", r.name);
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
    "ConfigMap",
    "Secret",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "ClusterRole",
    "ClusterRoleBinding",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PersistentVolume",
    "StorageClass",
    "PodDisruptionBudget",
    "Ingress",
    "IngressClass",
    "Endpoints",
    "EndpointSlice",
    "HorizontalPodAutoscaler",
    "PriorityClass",
    "CronJob",
    "ReplicaSet",
    "CustomResourceDefinition",
    NULL,
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
    if (!rk_ro_reader_start(&r, obj, "object", out, err))
        return r.status;
    const char *kind = rk_ro_get_str(&r, obj, NULL, "kind");
    const char *api_version = rk_ro_get_str(&r, obj, NULL, "apiVersion");
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
            rk_ro_verdict_set(out, RK_ROLLOUT_READY, "Present", "%s \"%s\" exists", lower, r.name);
            return RK_OK;
        }
    }
    rk_ro_verdict_set(
        out, RK_ROLLOUT_READY, "NoReadinessRule",
        "%s \"%s\" exists (no readiness rule for kind %s%s%s: present counts as ready)", lower,
        r.name, kind, api_version ? " in " : "", api_version ? api_version : "");
    return RK_OK;
}
