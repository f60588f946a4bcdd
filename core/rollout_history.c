/* Rollout history and undo of a Deployment from its ReplicaSets, as kubectl rollout
 * history and kubectl rollout undo read them. */
#include "rollout.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "rollout_internal.h"

#define REVISION_ANNOTATION     "deployment.kubernetes.io/revision"
#define CHANGE_CAUSE_ANNOTATION "kubernetes.io/change-cause"
#define POD_TEMPLATE_HASH_LABEL "pod-template-hash"

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
    const rk_value *annotations = rk_ro_get_map(r, obj, NULL, "metadata.annotations");
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
    const rk_value *refs = rk_ro_get_seq(r, rs, NULL, "metadata.ownerReferences");
    for (size_t i = 0; i < rk_value_len(refs); i++) {
        const rk_value *ref = rk_seq_get(refs, i);
        if (ref->type != RK_MAP)
            continue;
        const rk_value *controller = rk_map_get_cstr(ref, "controller");
        if (controller && controller->type == RK_BOOL && !controller->as.boolean)
            continue;
        if (!is_empty(uid)) {
            if (streq(rk_ro_get_str(r, ref, "ownerReferences[]", "uid"), uid))
                return 1;
        } else if (streq(rk_ro_get_str(r, ref, "ownerReferences[]", "kind"), "Deployment") &&
                   streq(rk_ro_get_str(r, ref, "ownerReferences[]", "name"), name)) {
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
    const char *uid = rk_ro_get_str(dr, deploy, NULL, "metadata.uid");
    if (dr->status != RK_OK)
        return dr->status;
    const rk_value *list;
    if (rk_ro_list_items(replicasets, "replicasets", &list, err) != RK_OK)
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
        rr.name = rk_ro_get_text(&rr, rs, NULL, "metadata.name");
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
    rk_ro_reader_start(r, deploy, "deployment", &scratch, err);
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
        rr.name = rk_ro_get_text(&rr, rs, NULL, "metadata.name");
        rev->revision = owned[i].revision;
        rev->replicaset = rs;
        rev->name = rr.name;
        const rk_value *annotations = rk_ro_get_map(&rr, rs, NULL, "metadata.annotations");
        const rk_value *cause =
            annotations ? rk_map_get_cstr(annotations, CHANGE_CAUSE_ANNOTATION) : NULL;
        rev->change_cause =
            cause && cause->type == RK_STRING && cause->as.str.len ? cause->as.str.ptr : NULL;
        rev->current = rev->revision == current;
        const rk_value *containers = rk_ro_get_seq(&rr, rs, NULL, "spec.template.spec.containers");
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
    int paused = rk_ro_get_bool(&r, deploy, NULL, "spec.paused");
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
