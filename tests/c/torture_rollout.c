/* Rollout verdicts: golden cases in tests/fixtures/rollout/ (one JSON file per kind:
 * object in, expected state, message and reasons out; kubectl's own unit-test cases
 * first in each workload file), history and undo selection, and the edges of the C API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "rollout.h"

/* ---- fixtures ------------------------------------------------------------------------- */

static rk_value *parse(const char *json)
{
    rk_value *v = NULL;
    rk_error err = {0};
    rk_status st = rk_json_decode(json, strlen(json), &v, &err);
    if (st != RK_OK)
        fail_msg("bad test JSON: %s", err.msg);
    return v;
}

static rk_value *load_fixture(const char *name)
{
    const char *root = getenv("RK_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/rollout/%s", root && *root ? root : ".", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    rk_value *v = NULL;
    rk_error err = {0};
    rk_status st = rk_json_decode(buf, (size_t)size, &v, &err);
    free(buf);
    if (st != RK_OK)
        fail_msg("%s: %s", path, err.msg);
    return v;
}

static const rk_value *get(const rk_value *map, const char *key)
{
    const rk_value *v = rk_map_get_cstr(map, key);
    return v && v->type != RK_NULL ? v : NULL;
}

static const char *get_s(const rk_value *map, const char *key)
{
    const rk_value *v = get(map, key);
    return v && v->type == RK_STRING ? v->as.str.ptr : NULL;
}

/* ---- golden verdicts ------------------------------------------------------------------- */

typedef rk_status (*rule_fn)(const rk_value *, rk_verdict *, rk_error *);

/* Compares a verdict with a case; prints every difference, returns 0 on any. */
static int verdict_matches(const char *file, const char *how, const rk_value *c,
                           const rk_verdict *v)
{
    const char *name = get_s(c, "name");
    const char *state = get_s(c, "state");
    const char *message = get_s(c, "message");
    const rk_value *reasons = get(c, "reasons");
    int ok = 1;
    if (strcmp(rk_rollout_state_name(v->state), state) != 0) {
        print_error("%s: %s [%s]: state %s, want %s\n", file, name, how,
                    rk_rollout_state_name(v->state), state);
        ok = 0;
    }
    if (strcmp(v->message, message) != 0) {
        print_error("%s: %s [%s]:\n   message: %s\n      want: %s\n", file, name, how, v->message,
                    message);
        ok = 0;
    }
    int same = v->nreasons == rk_value_len(reasons);
    for (size_t i = 0; same && i < v->nreasons; i++)
        same = strcmp(v->reasons[i], rk_seq_get(reasons, i)->as.str.ptr) == 0;
    if (!same) {
        print_error("%s: %s [%s]: reasons", file, name, how);
        for (size_t i = 0; i < v->nreasons; i++)
            print_error(" %s", v->reasons[i]);
        print_error(", want");
        for (size_t i = 0; i < rk_value_len(reasons); i++)
            print_error(" %s", rk_seq_get(reasons, i)->as.str.ptr);
        print_error("\n");
        ok = 0;
    }
    if (strchr(v->message, '\n')) {
        print_error("%s: %s [%s]: message has a newline\n", file, name, how);
        ok = 0;
    }
    return ok;
}

/* Runs every case of file through rule (when given) and through the dispatcher: both
 * must give the expected verdict. */
static void run_golden(const char *file, rule_fn rule)
{
    rk_value *doc = load_fixture(file);
    const rk_value *cases = get(doc, "cases");
    assert_non_null(cases);
    assert_true(rk_value_len(cases) > 0);
    int failures = 0;
    for (size_t i = 0; i < rk_value_len(cases); i++) {
        const rk_value *c = rk_seq_get(cases, i);
        const rk_value *obj = get(c, "object");
        rk_verdict v;
        rk_error err = {0};
        if (rule) {
            if (rule(obj, &v, &err) != RK_OK) {
                print_error("%s: %s: %s\n", file, get_s(c, "name"), err.msg);
                failures++;
            } else if (!verdict_matches(file, "kind rule", c, &v)) {
                failures++;
            }
        }
        if (rk_rollout_evaluate(obj, &v, &err) != RK_OK) {
            print_error("%s: %s: evaluate: %s\n", file, get_s(c, "name"), err.msg);
            failures++;
        } else if (!verdict_matches(file, "evaluate", c, &v)) {
            failures++;
        }
    }
    rk_value_free(doc);
    if (failures)
        fail_msg("%d mismatches in %s", failures, file);
}

static void test_deployment_golden(void **state)
{
    (void)state;
    run_golden("deployment.json", rk_rollout_deployment);
}
static void test_statefulset_golden(void **state)
{
    (void)state;
    run_golden("statefulset.json", rk_rollout_statefulset);
}
static void test_daemonset_golden(void **state)
{
    (void)state;
    run_golden("daemonset.json", rk_rollout_daemonset);
}
static void test_pod_golden(void **state)
{
    (void)state;
    run_golden("pod.json", rk_rollout_pod);
}
static void test_pvc_golden(void **state)
{
    (void)state;
    run_golden("pvc.json", rk_rollout_pvc);
}
static void test_job_golden(void **state)
{
    (void)state;
    run_golden("job.json", rk_rollout_job);
}
static void test_service_golden(void **state)
{
    (void)state;
    run_golden("service.json", rk_rollout_service);
}
static void test_other_kinds_golden(void **state)
{
    (void)state;
    run_golden("other.json", NULL);
}

/* ---- events ----------------------------------------------------------------------------- */

static void test_events_golden(void **state)
{
    (void)state;
    rk_value *doc = load_fixture("events.json");
    const rk_value *cases = get(doc, "cases");
    int failures = 0;
    for (size_t i = 0; i < rk_value_len(cases); i++) {
        const rk_value *c = rk_seq_get(cases, i);
        const char *want = get_s(c, "expect");
        const rk_value *event = NULL;
        rk_error err = {0};
        if (rk_rollout_event_for(get(c, "object"), get(c, "events"), &event, &err) != RK_OK) {
            print_error("events.json: %s: %s\n", get_s(c, "name"), err.msg);
            failures++;
            continue;
        }
        char text[1024] = "";
        if (event)
            rk_rollout_event_text(event, text, sizeof text);
        if (!want != !event || (want && strcmp(text, want) != 0)) {
            print_error("events.json: %s:\n   got: %s\n  want: %s\n", get_s(c, "name"),
                        event ? text : "(none)", want ? want : "(none)");
            failures++;
        }
    }
    rk_value_free(doc);
    if (failures)
        fail_msg("%d mismatches in events.json", failures);
}

static void test_event_text_measures_and_stays_one_line(void **state)
{
    (void)state;
    rk_value *ev = parse("{\"reason\":\"FailedMount\",\"message\":\"line one\\nline two\\n\\n\"}");
    assert_int_equal(rk_rollout_event_text(ev, NULL, 0), strlen("FailedMount: line one line two"));
    char small[12];
    assert_int_equal(rk_rollout_event_text(ev, small, sizeof small), 30);
    assert_string_equal(small, "FailedMount");
    char buf[64];
    rk_rollout_event_text(ev, buf, sizeof buf);
    assert_string_equal(buf, "FailedMount: line one line two");
    rk_value_free(ev);

    ev = parse("{\"reason\":\"BackOff\"}");
    rk_rollout_event_text(ev, buf, sizeof buf);
    assert_string_equal(buf, "BackOff");
    rk_value_free(ev);
}

static void test_event_for_rejects_a_non_list(void **state)
{
    (void)state;
    rk_value *obj = parse("{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"}}");
    rk_value *events = parse("\"nope\"");
    const rk_value *event = obj;
    rk_error err = {0};
    assert_int_equal(rk_rollout_event_for(obj, events, &event, &err), RK_ERR_INVALID);
    assert_null(event);
    assert_string_equal(err.msg,
                        "events: expected a list (or a List object with items), got string");
    rk_value_free(events);

    /* A List without items, and no list at all, explain nothing but are not errors. */
    events = parse("{\"kind\":\"EventList\",\"items\":null}");
    assert_int_equal(rk_rollout_event_for(obj, events, &event, &err), RK_OK);
    assert_null(event);
    assert_int_equal(rk_rollout_event_for(obj, NULL, &event, &err), RK_OK);
    assert_null(event);
    rk_value_free(events);
    rk_value_free(obj);
}

/* ---- history and undo -------------------------------------------------------------------- */

static int history_matches(const char *name, const rk_history *h, const rk_value *want)
{
    const rk_value *revs = get(want, "revisions");
    int ok = 1;
    if (h->current != get(want, "current")->as.integer) {
        print_error("history.json: %s: current %lld\n", name, (long long)h->current);
        ok = 0;
    }
    if (h->len != rk_value_len(revs)) {
        print_error("history.json: %s: %zu revisions, want %zu\n", name, h->len,
                    rk_value_len(revs));
        return 0;
    }
    for (size_t i = 0; i < h->len; i++) {
        const rk_revision *r = &h->items[i];
        const rk_value *w = rk_seq_get(revs, i);
        const char *cause = get_s(w, "change_cause");
        const rk_value *images = get(w, "images");
        int same = r->revision == get(w, "revision")->as.integer &&
                   strcmp(r->name, get_s(w, "name")) == 0 && !cause == !r->change_cause &&
                   (!cause || strcmp(cause, r->change_cause) == 0) &&
                   r->current == get(w, "current")->as.boolean &&
                   r->nimages == rk_value_len(images) &&
                   strcmp(get_s(r->replicaset, "kind"), "ReplicaSet") == 0;
        for (size_t k = 0; same && k < r->nimages; k++)
            same = strcmp(r->images[k], rk_seq_get(images, k)->as.str.ptr) == 0;
        if (!same) {
            print_error("history.json: %s: revision[%zu] = %lld %s, want %lld %s\n", name, i,
                        (long long)r->revision, r->name, (long long)get(w, "revision")->as.integer,
                        get_s(w, "name"));
            ok = 0;
        }
    }
    return ok;
}

static int rollback_matches(const char *name, const rk_value *deploy, const rk_value *list,
                            const rk_value *want)
{
    int64_t to = get(want, "to_revision")->as.integer;
    const char *want_error = get_s(want, "error");
    rk_rollback rb;
    rk_error err = {0};
    rk_status st = rk_rollout_rollback(deploy, list, to, &rb, &err);
    int ok = 1;
    if (want_error) {
        if (st == RK_OK || strcmp(err.msg, want_error) != 0 ||
            strcmp(rk_status_name(st), get_s(want, "code")) != 0) {
            print_error("history.json: %s: undo to %lld: %s %s, want %s %s\n", name, (long long)to,
                        rk_status_name(st), st == RK_OK ? "" : err.msg, get_s(want, "code"),
                        want_error);
            ok = 0;
        }
        if (rb.pod_template || rb.annotations || rb.replicaset) {
            print_error("history.json: %s: undo to %lld left results behind an error\n", name,
                        (long long)to);
            ok = 0;
        }
        rk_rollback_free(&rb);
        return ok;
    }
    if (st != RK_OK) {
        print_error("history.json: %s: undo to %lld: %s\n", name, (long long)to, err.msg);
        return 0;
    }
    const rk_value *meta = get(rb.replicaset, "metadata");
    if (rb.revision != get(want, "revision")->as.integer ||
        strcmp(get_s(meta, "name"), get_s(want, "replicaset")) != 0 ||
        rb.unchanged != get(want, "unchanged")->as.boolean) {
        print_error("history.json: %s: undo to %lld picked revision %lld (%s, unchanged %d)\n",
                    name, (long long)to, (long long)rb.revision, get_s(meta, "name"), rb.unchanged);
        ok = 0;
    }
    if (!rk_value_equal(rb.pod_template, get(want, "template"))) {
        print_error("history.json: %s: undo to %lld: template differs\n", name, (long long)to);
        ok = 0;
    }
    if (!rk_value_equal(rb.annotations, get(want, "annotations"))) {
        print_error("history.json: %s: undo to %lld: annotations differ\n", name, (long long)to);
        ok = 0;
    }
    rk_rollback_free(&rb);
    return ok;
}

static void test_history_and_undo_golden(void **state)
{
    (void)state;
    rk_value *doc = load_fixture("history.json");
    const rk_value *cases = get(doc, "cases");
    int failures = 0, undos = 0;
    for (size_t i = 0; i < rk_value_len(cases); i++) {
        const rk_value *c = rk_seq_get(cases, i);
        const char *name = get_s(c, "name");
        const rk_value *deploy = get(c, "deployment");
        const rk_value *list = get(c, "replicasets");
        rk_history h;
        rk_error err = {0};
        if (rk_rollout_history(deploy, list, &h, &err) != RK_OK) {
            print_error("history.json: %s: %s\n", name, err.msg);
            failures++;
        } else {
            failures += !history_matches(name, &h, get(c, "history"));
            rk_history_free(&h);
        }
        const rk_value *rollbacks = get(c, "rollbacks");
        for (size_t k = 0; k < rk_value_len(rollbacks); k++, undos++)
            failures += !rollback_matches(name, deploy, list, rk_seq_get(rollbacks, k));
    }
    rk_value_free(doc);
    assert_true(undos >= 10);
    if (failures)
        fail_msg("%d mismatches in history.json", failures);
}

static void test_undo_leaves_inputs_untouched(void **state)
{
    (void)state;
    rk_value *doc = load_fixture("history.json");
    const rk_value *c = rk_seq_get(get(doc, "cases"), 0);
    rk_value *before = rk_value_copy(c);
    rk_rollback rb;
    rk_error err = {0};
    assert_int_equal(rk_rollout_rollback(get(c, "deployment"), get(c, "replicasets"), 0, &rb, &err),
                     RK_OK);
    /* The template is a copy: changing it does not reach the ReplicaSet. */
    rk_map_set(rb.pod_template, "x", 1, rk_null_new());
    assert_true(rk_value_equal(c, before));
    const rk_value *labels =
        get(get(get(get(rb.replicaset, "spec"), "template"), "metadata"), "labels");
    assert_non_null(get(labels, "pod-template-hash"));
    rk_rollback_free(&rb);
    rk_rollback_free(&rb); /* idempotent */
    rk_value_free(before);
    rk_value_free(doc);
}

static void test_history_rejects_bad_input(void **state)
{
    (void)state;
    rk_value *deploy =
        parse("{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\",\"uid\":\"u\"}}");
    rk_value *list = parse("{\"items\":7}");
    rk_history h;
    rk_error err = {0};
    assert_int_equal(rk_rollout_history(deploy, list, &h, &err), RK_ERR_INVALID);
    assert_string_equal(err.msg,
                        "replicasets: expected a list (or a List object with items), got int");
    assert_int_equal(h.len, 0);
    rk_history_free(&h);
    rk_value_free(list);

    list = parse("[{\"metadata\":{\"name\":\"rs\",\"ownerReferences\":[{\"uid\":\"u\"}],"
                 "\"annotations\":{\"deployment.kubernetes.io/revision\":3}}}]");
    assert_int_equal(rk_rollout_history(deploy, list, &h, &err), RK_ERR_INVALID);
    assert_string_equal(err.msg,
                        "replicaset \"rs\": metadata.annotations[\"deployment.kubernetes.io/"
                        "revision\"]: expected a string, got int");
    rk_value_free(list);

    rk_value *seq = parse("[]");
    assert_int_equal(rk_rollout_history(seq, NULL, &h, &err), RK_ERR_INVALID);
    assert_string_equal(err.msg, "deployment: expected an object (a map), got seq");
    rk_rollback rb;
    assert_int_equal(rk_rollout_rollback(seq, NULL, 0, &rb, &err), RK_ERR_INVALID);
    rk_value_free(seq);
    rk_value_free(deploy);
}

/* ---- the reading rules ---------------------------------------------------------------- */

static void test_not_an_object(void **state)
{
    (void)state;
    rk_value *seq = parse("[1,2]");
    rk_verdict v;
    rk_error err = {0};
    assert_int_equal(rk_rollout_evaluate(seq, &v, &err), RK_ERR_INVALID);
    assert_string_equal(err.msg, "object: expected an object (a map), got seq");
    assert_int_equal(rk_rollout_pod(NULL, &v, &err), RK_ERR_INVALID);
    assert_string_equal(err.msg, "pod: expected an object (a map), got nothing");
    rk_value_free(seq);

    rk_value *nokind = parse("{\"metadata\":{\"name\":\"x\"}}");
    assert_int_equal(rk_rollout_evaluate(nokind, &v, &err), RK_ERR_INVALID);
    assert_string_equal(err.msg, "object \"x\": no kind: cannot tell how to judge its readiness");
    rk_value_free(nokind);
}

static void test_wrong_types_name_the_field(void **state)
{
    (void)state;
    static const struct {
        const char *json, *msg;
    } cases[] = {
        {"{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"},\"status\":{\"replicas\":\"2\"}}",
         "deployment \"d\": status.replicas: expected an integer, got string"},
        {"{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"},\"status\":\"Running\"}",
         "deployment \"d\": status: expected a map, got string"},
        {"{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"},\"status\":{\"conditions\":{}}}",
         "deployment \"d\": status.conditions: expected a list, got map"},
        {"{\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"s\"},\"spec\":{\"replicas\":1.5}}",
         "statefulset \"s\": spec.replicas: expected an integer, got float"},
        {"{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"status\":{\"phase\":\"Running\","
         "\"containerStatuses\":[{\"name\":\"c\",\"restartCount\":\"3\"}]}}",
         "pod \"p\": status.containerStatuses[0].restartCount: expected an integer, got string"},
        {"{\"kind\":\"Job\",\"metadata\":{\"name\":\"j\"},\"spec\":{\"suspend\":\"yes\"}}",
         "job \"j\": spec.suspend: expected a boolean, got string"},
        {"{\"kind\":\"Service\",\"metadata\":{\"name\":7}}",
         "object \"\": metadata.name: expected a string, got int"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rk_value *obj = parse(cases[i].json);
        rk_verdict v;
        rk_error err = {0};
        assert_int_equal(rk_rollout_evaluate(obj, &v, &err), RK_ERR_INVALID);
        assert_string_equal(err.msg, cases[i].msg);
        /* No half-made verdict survives an error. */
        assert_string_equal(v.message, "");
        assert_int_equal(v.nreasons, 0);
        rk_value_free(obj);
    }
}

static void test_nulls_and_integral_floats_read_like_go(void **state)
{
    (void)state;
    /* JSON null is the zero value; 2.0 is an integer (Lua floats, some encoders). */
    rk_value *obj = parse("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
                          "\"metadata\":{\"name\":\"d\",\"generation\":1.0},"
                          "\"spec\":{\"replicas\":2.0},\"status\":{\"observedGeneration\":1,"
                          "\"replicas\":2,\"updatedReplicas\":2,\"availableReplicas\":null,"
                          "\"conditions\":null}}");
    rk_verdict v;
    rk_error err = {0};
    assert_int_equal(rk_rollout_evaluate(obj, &v, &err), RK_OK);
    assert_int_equal(v.state, RK_ROLLOUT_PROGRESSING);
    assert_string_equal(v.message, "Waiting for deployment \"d\" rollout to finish: 0 of 2 updated "
                                   "replicas are available...");
    rk_value_free(obj);
}

static void test_long_messages_are_cut_with_an_ellipsis(void **state)
{
    (void)state;
    char json[8192];
    char big[4001];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    snprintf(json, sizeof json,
             "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"status\":{\"phase\":\"Running\","
             "\"containerStatuses\":[{\"name\":\"c\",\"state\":{\"waiting\":{\"reason\":"
             "\"CrashLoopBackOff\",\"message\":\"%s\"}}}]}}",
             big);
    rk_value *obj = parse(json);
    rk_verdict v;
    rk_error err = {0};
    assert_int_equal(rk_rollout_pod(obj, &v, &err), RK_OK);
    assert_int_equal(v.state, RK_ROLLOUT_FAILED);
    assert_int_equal(strlen(v.message), RK_VERDICT_MESSAGE_MAX - 1);
    assert_memory_equal(v.message, "pod p: container c: CrashLoopBackOff: xxx", 41);
    assert_string_equal(v.message + RK_VERDICT_MESSAGE_MAX - 4, "...");
    rk_value_free(obj);
}

static void test_reasons_are_capped_and_unique(void **state)
{
    (void)state;
    static const char *const waits[] = {
        "CrashLoopBackOff",     "ErrImagePull",      "ImagePullBackOff",
        "ErrImageNeverPull",    "InvalidImageName",  "CreateContainerConfigError",
        "CreateContainerError", "RunContainerError", "CrashLoopBackOff",
    };
    char json[8192];
    size_t n = (size_t)snprintf(json, sizeof json,
                                "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"status\":{"
                                "\"phase\":\"Running\",\"containerStatuses\":[");
    for (size_t i = 0; i < sizeof waits / sizeof waits[0]; i++)
        n += (size_t)snprintf(json + n, sizeof json - n,
                              "%s{\"name\":\"c%zu\",\"state\":{\"waiting\":{\"reason\":\"%s\","
                              "\"message\":\"x: not found\"}}}",
                              i ? "," : "", i, waits[i]);
    snprintf(json + n, sizeof json - n, "]}}");
    rk_value *obj = parse(json);
    rk_verdict v;
    rk_error err = {0};
    assert_int_equal(rk_rollout_pod(obj, &v, &err), RK_OK);
    assert_int_equal(v.state, RK_ROLLOUT_FAILED);
    assert_int_equal(v.nreasons, RK_VERDICT_REASONS_MAX);
    for (size_t i = 0; i < v.nreasons; i++)
        assert_string_equal(v.reasons[i], waits[i]);
    assert_non_null(strstr(v.message, "; container c8: CrashLoopBackOff"));
    rk_value_free(obj);
}

/* Real kubelet messages (containerd, CRI-O, Docker; GitHub issues and the kubelet source)
 * and what they say about the image. */
static void test_pull_errors_are_permanent_or_transient(void **state)
{
    (void)state;
    static const struct {
        const char *message;
        rk_pull_class want;
        const char *why;
    } cases[] = {
        {"failed to pull and unpack image \"docker.io/library/nginx:nope\": failed to resolve "
         "reference \"docker.io/library/nginx:nope\": docker.io/library/nginx:nope: not found",
         RK_PULL_PERMANENT, "not found"},
        {"failed to pull and unpack image \"docker.io/library/app:imagepull-fail\": failed to "
         "resolve reference \"docker.io/library/app:imagepull-fail\": pull access denied, "
         "repository does not exist or may require authorization: server message: "
         "insufficient_scope: authorization failed",
         RK_PULL_PERMANENT, "repository does not exist"},
        {"failed to pull and unpack image \"ghcr.io/o/app:1\": failed to resolve reference "
         "\"ghcr.io/o/app:1\": failed to authorize: failed to fetch anonymous token: unexpected "
         "status from GET request to https://ghcr.io/token?scope=repository%3Ao%2Fapp%3Apull: "
         "401 Unauthorized",
         RK_PULL_PERMANENT, "unauthorized"},
        {"rpc error: code = Unknown desc = reading manifest 1.0 in quay.io/o/app: manifest "
         "unknown: manifest unknown",
         RK_PULL_PERMANENT, "manifest unknown"},
        {"Error response from daemon: pull access denied for app, repository does not exist or "
         "may require 'docker login': denied: requested access to the resource is denied",
         RK_PULL_PERMANENT, "repository does not exist"},
        {"failed to resolve reference \"r.example.com/app:1\": unexpected status from HEAD "
         "request to https://r.example.com/v2/app/manifests/1: 403 Forbidden",
         RK_PULL_PERMANENT, "forbidden"},
        {"couldn't parse image reference \"App:1\": invalid reference format: repository name "
         "must be lowercase",
         RK_PULL_PERMANENT, "invalid reference format"},
        {"Back-off pulling image \"nginx:nope\": ErrImagePull: failed to pull and unpack image "
         "\"docker.io/library/nginx:nope\": failed to resolve reference "
         "\"docker.io/library/nginx:nope\": docker.io/library/nginx:nope: not found",
         RK_PULL_PERMANENT, "not found"},
        {"failed to pull and unpack image \"registry.k8s.io/csi/driver:v1.2.1\": failed to copy: "
         "httpReadSeeker: failed open: unexpected status code https://registry.k8s.io/v2/csi/"
         "driver/manifests/sha256:1fa698be6cfa7bb83c90788dfe6c1fd4bd2d72f1b09881c54920e2f81fe82c73: "
         "503 Service Unavailable",
         RK_PULL_TRANSIENT, "service unavailable"},
        {"failed to pull and unpack image \"registry.k8s.io/pause:3.9\": failed to resolve "
         "reference \"registry.k8s.io/pause:3.9\": failed to do request: Head "
         "\"https://registry.k8s.io/v2/pause/manifests/3.9\": dial tcp 34.96.108.209:443: "
         "i/o timeout",
         RK_PULL_TRANSIENT, "i/o timeout"},
        {"failed to pull and unpack image \"docker.io/library/app:1\": failed to resolve "
         "reference \"docker.io/library/app:1\": failed to authorize: failed to fetch anonymous "
         "token: unexpected status from GET request to https://auth.docker.io/token: 502 Bad "
         "Gateway",
         RK_PULL_TRANSIENT, "bad gateway"},
        {"failed to pull and unpack image \"docker.io/library/app:1\": failed to copy: "
         "httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/"
         "library/app/manifests/sha256:0a: 429 Too Many Requests - Server message: "
         "toomanyrequests: You have reached your pull rate limit.",
         RK_PULL_TRANSIENT, "too many requests"},
        {"failed to do request: Head \"https://r.example.com:5000/v2/app/manifests/1\": dial tcp "
         "10.0.0.9:5000: connect: connection refused",
         RK_PULL_TRANSIENT, "connection refused"},
        {"Back-off pulling image \"app:1\"", RK_PULL_UNKNOWN, ""},
        {"", RK_PULL_UNKNOWN, ""},
        /* Whole words only: a digest or a port with 401/503 inside says nothing. */
        {"pulling sha256:ab401cd503ef from r.example.com:5030", RK_PULL_UNKNOWN, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *why = NULL;
        rk_pull_class got = rk_rollout_pull_error(cases[i].message, &why);
        if (got != cases[i].want || strcmp(why, cases[i].why) != 0)
            fail_msg("case %zu: class %d (why \"%s\"), want %d (\"%s\"): %s", i, (int)got, why,
                     (int)cases[i].want, cases[i].why, cases[i].message);
    }
    assert_int_equal(rk_rollout_pull_error(NULL, NULL), RK_PULL_UNKNOWN);
}

static void test_state_names(void **state)
{
    (void)state;
    assert_string_equal(rk_rollout_state_name(RK_ROLLOUT_READY), "ready");
    assert_string_equal(rk_rollout_state_name(RK_ROLLOUT_PROGRESSING), "progressing");
    assert_string_equal(rk_rollout_state_name(RK_ROLLOUT_FAILED), "failed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deployment_golden),
        cmocka_unit_test(test_statefulset_golden),
        cmocka_unit_test(test_daemonset_golden),
        cmocka_unit_test(test_pod_golden),
        cmocka_unit_test(test_pvc_golden),
        cmocka_unit_test(test_job_golden),
        cmocka_unit_test(test_service_golden),
        cmocka_unit_test(test_other_kinds_golden),
        cmocka_unit_test(test_events_golden),
        cmocka_unit_test(test_event_text_measures_and_stays_one_line),
        cmocka_unit_test(test_event_for_rejects_a_non_list),
        cmocka_unit_test(test_history_and_undo_golden),
        cmocka_unit_test(test_undo_leaves_inputs_untouched),
        cmocka_unit_test(test_history_rejects_bad_input),
        cmocka_unit_test(test_not_an_object),
        cmocka_unit_test(test_wrong_types_name_the_field),
        cmocka_unit_test(test_nulls_and_integral_floats_read_like_go),
        cmocka_unit_test(test_long_messages_are_cut_with_an_ellipsis),
        cmocka_unit_test(test_reasons_are_capped_and_unique),
        cmocka_unit_test(test_pull_errors_are_permanent_or_transient),
        cmocka_unit_test(test_state_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
