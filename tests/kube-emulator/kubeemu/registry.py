"""Resource types, discovery documents and OpenAPI v3 documents."""
import hashlib
import threading

from .common import dumpb
from . import ssa

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


class RType:
    def __init__(self, group, version, plural, kind, namespaced=True, short=(), status=False, scale=False,
                 generation=False, categories=(), crd=None, verbs=None, singular=None):
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
        self.short = list(short)
        self.status = status
        self.scale = scale
        self.generation = generation
        self.categories = list(categories)
        self.crd = crd
        self.verbs = verbs or ALL_VERBS
        self.singular = singular or kind.lower()
        self.api_version = group + "/" + version if group else version
        self.key = (group, plural)
        self.scale_path = None  # for CRD scale subresource: (specReplicasPath, statusReplicasPath, labelSelectorPath)

    def __repr__(self):
        return "RType(%s %s)" % (self.api_version, self.plural)


BUILTINS = [
    RType("", "v1", "namespaces", "Namespace", False, ["ns"], status=True),
    RType("", "v1", "nodes", "Node", False, ["no"], status=True),
    RType("", "v1", "pods", "Pod", True, ["po"], status=True, categories=["all"]),
    RType("", "v1", "services", "Service", True, ["svc"], status=True, categories=["all"]),
    RType("", "v1", "endpoints", "Endpoints", True, ["ep"], singular="endpoints"),
    RType("", "v1", "configmaps", "ConfigMap", True, ["cm"]),
    RType("", "v1", "secrets", "Secret", True),
    RType("", "v1", "serviceaccounts", "ServiceAccount", True, ["sa"]),
    RType("", "v1", "events", "Event", True, ["ev"]),
    RType("", "v1", "persistentvolumes", "PersistentVolume", False, ["pv"], status=True),
    RType("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ["pvc"], status=True),
    RType("", "v1", "limitranges", "LimitRange", True, ["limits"]),
    RType("", "v1", "resourcequotas", "ResourceQuota", True, ["quota"], status=True),
    RType("", "v1", "replicationcontrollers", "ReplicationController", True, ["rc"], status=True, generation=True),
    RType("apps", "v1", "deployments", "Deployment", True, ["deploy"], status=True, scale=True, generation=True, categories=["all"]),
    RType("apps", "v1", "replicasets", "ReplicaSet", True, ["rs"], status=True, scale=True, generation=True, categories=["all"]),
    RType("apps", "v1", "statefulsets", "StatefulSet", True, ["sts"], status=True, scale=True, generation=True, categories=["all"]),
    RType("apps", "v1", "daemonsets", "DaemonSet", True, ["ds"], status=True, generation=True, categories=["all"]),
    RType("apps", "v1", "controllerrevisions", "ControllerRevision", True),
    RType("batch", "v1", "jobs", "Job", True, [], status=True, generation=True, categories=["all"]),
    RType("batch", "v1", "cronjobs", "CronJob", True, ["cj"], status=True, generation=True, categories=["all"]),
    RType("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ["hpa"], status=True, categories=["all"]),
    RType("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False, ["crd", "crds"], status=True, generation=True),
    RType("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, ["sc"]),
    RType("coordination.k8s.io", "v1", "leases", "Lease", True),
    RType("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    RType("networking.k8s.io", "v1", "ingresses", "Ingress", True, ["ing"], status=True),
    RType("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ["netpol"]),
    RType("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False),
    RType("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ["pdb"], status=True, generation=True),
    RType("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    RType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    RType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    RType("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    RType("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, ["pc"]),
]

GROUP_ORDER = ["", "apps", "batch", "autoscaling", "apiextensions.k8s.io", "storage.k8s.io", "coordination.k8s.io",
               "discovery.k8s.io", "networking.k8s.io", "policy", "rbac.authorization.k8s.io", "scheduling.k8s.io"]


class Registry:
    def __init__(self):
        self.lock = threading.RLock()
        self.by_gv = {}       # (group, version) -> {plural: RType}
        self.by_key = {}      # (group, plural) -> RType (storage view)
        self.by_gvk = {}      # (group, version, kind) -> RType
        self.group_versions = {}  # group -> [versions]
        self.generation = 0
        self._cache = {}
        for rt in BUILTINS:
            self.add(rt)
            if rt.status:
                ssa._KINDS_WITH_STATUS.add(rt.kind)

    def add(self, rt):
        with self.lock:
            self.by_gv.setdefault((rt.group, rt.version), {})[rt.plural] = rt
            self.by_key.setdefault(rt.key, rt)
            self.by_gvk[(rt.group, rt.version, rt.kind)] = rt
            vs = self.group_versions.setdefault(rt.group, [])
            if rt.version not in vs:
                vs.append(rt.version)
            self.generation += 1
            self._cache.clear()

    def remove_crd(self, group, plural):
        with self.lock:
            for (g, v), m in list(self.by_gv.items()):
                if g == group and plural in m:
                    rt = m.pop(plural)
                    self.by_gvk.pop((g, v, rt.kind), None)
                    if not m:
                        del self.by_gv[(g, v)]
                        self.group_versions.get(g, []).remove(v) if v in self.group_versions.get(g, []) else None
            if not self.group_versions.get(group):
                self.group_versions.pop(group, None)
            self.by_key.pop((group, plural), None)
            self.generation += 1
            self._cache.clear()

    def get(self, group, version, plural):
        m = self.by_gv.get((group, version))
        return m.get(plural) if m else None

    def storage(self, group, plural):
        return self.by_key.get((group, plural))

    def gvk(self, api_version, kind):
        if "/" in api_version:
            g, v = api_version.split("/", 1)
        else:
            g, v = "", api_version
        return self.by_gvk.get((g, v, kind))

    def has_gv(self, group, version):
        return (group, version) in self.by_gv

    # ------------------------------------------------------------- discovery
    def _groups_sorted(self):
        groups = list(self.group_versions)
        return sorted(groups, key=lambda g: (GROUP_ORDER.index(g) if g in GROUP_ORDER else 100, g))

    def api_versions(self, server_addr):
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_addr}]}

    def api_group_list(self):
        with self.lock:
            if "groups" in self._cache:
                return self._cache["groups"]
            groups = []
            for g in self._groups_sorted():
                if g == "":
                    continue
                vs = self.group_versions[g]
                gvs = [{"groupVersion": g + "/" + v, "version": v} for v in vs]
                groups.append({"name": g, "versions": gvs, "preferredVersion": gvs[0]})
            body = dumpb({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
            self._cache["groups"] = body
            return body

    def api_group(self, group):
        vs = self.group_versions.get(group)
        if not vs:
            return None
        gvs = [{"groupVersion": group + "/" + v, "version": v} for v in vs]
        return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": gvs, "preferredVersion": gvs[0]}

    def _resource_entries(self, rts):
        res = []
        for rt in rts:
            e = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced, "kind": rt.kind,
                 "verbs": rt.verbs}
            if rt.short:
                e["shortNames"] = rt.short
            if rt.categories:
                e["categories"] = rt.categories
            e["storageVersionHash"] = hashlib.sha256(("%s/%s" % (rt.api_version, rt.kind)).encode()).digest()[:8].hex()
            res.append(e)
            if rt.status:
                res.append({"name": rt.plural + "/status", "singularName": "", "namespaced": rt.namespaced,
                            "kind": rt.kind, "verbs": ["get", "patch", "update"]})
            if rt.scale:
                res.append({"name": rt.plural + "/scale", "singularName": "", "namespaced": rt.namespaced,
                            "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]})
        return res

    def resource_list(self, group, version):
        with self.lock:
            ck = ("rl", group, version)
            if ck in self._cache:
                return self._cache[ck]
            m = self.by_gv.get((group, version))
            if m is None:
                return None
            gv = group + "/" + version if group else version
            body = dumpb({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                          "resources": self._resource_entries(m.values())})
            self._cache[ck] = body
            return body

    def aggregated(self, legacy):
        """apidiscovery.k8s.io/v2 APIGroupDiscoveryList for /api (legacy) or /apis."""
        with self.lock:
            ck = ("agg", legacy)
            if ck in self._cache:
                return self._cache[ck]
            items = []
            for g in self._groups_sorted():
                if (g == "") != legacy:
                    continue
                versions = []
                for v in self.group_versions[g]:
                    resources = []
                    for rt in self.by_gv[(g, v)].values():
                        r = {"resource": rt.plural, "responseKind": {"group": g, "version": v, "kind": rt.kind},
                             "scope": "Namespaced" if rt.namespaced else "Cluster", "singularResource": rt.singular,
                             "verbs": rt.verbs}
                        if rt.short:
                            r["shortNames"] = rt.short
                        if rt.categories:
                            r["categories"] = rt.categories
                        subs = []
                        if rt.status:
                            subs.append({"subresource": "status", "responseKind": {"group": g, "version": v, "kind": rt.kind},
                                         "verbs": ["get", "patch", "update"]})
                        if rt.scale:
                            subs.append({"subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
                                         "verbs": ["get", "patch", "update"]})
                        if subs:
                            r["subresources"] = subs
                        resources.append(r)
                    versions.append({"version": v, "resources": resources, "freshness": "Current"})
                items.append({"metadata": {"name": g, "creationTimestamp": None}, "versions": versions})
            body = dumpb({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
                          "metadata": {}, "items": items})
            self._cache[ck] = body
            return body

    # --------------------------------------------------------------- openapi
    def openapi_root(self):
        with self.lock:
            if "oa-root" in self._cache:
                return self._cache["oa-root"]
            paths = {}
            for (g, v) in sorted(self.by_gv):
                key = "api/" + v if g == "" else "apis/%s/%s" % (g, v)
                doc = self.openapi_gv(g, v)
                h = hashlib.sha512(doc).hexdigest()[:64].upper()
                paths[key] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (key, h)}
            body = dumpb({"paths": paths})
            self._cache["oa-root"] = body
            return body

    def openapi_gv(self, group, version):
        with self.lock:
            ck = ("oa", group, version)
            if ck in self._cache:
                return self._cache[ck]
            m = self.by_gv.get((group, version))
            if m is None:
                return None
            prefix = "/api/" + version if group == "" else "/apis/%s/%s" % (group, version)
            paths = {}
            schemas = {}
            qp = lambda n, t="string": {"name": n, "in": "query", "schema": {"type": t, "uniqueItems": True}}
            write_params = [qp("dryRun"), qp("fieldManager"), qp("fieldValidation")]
            patch_params = write_params + [qp("force", "boolean")]
            list_params = [qp("labelSelector"), qp("fieldSelector"), qp("limit", "integer"), qp("continue"),
                           qp("resourceVersion"), qp("watch", "boolean"), qp("allowWatchBookmarks", "boolean"),
                           qp("timeoutSeconds", "integer")]
            for rt in m.values():
                gvk = {"group": group, "version": version, "kind": rt.kind}
                sname = "%s.%s.%s" % (("io.k8s.api." + (group.split(".")[0] or "core")) if not rt.crd else
                                      ".".join(reversed(group.split("."))), version, rt.kind)
                schemas[sname] = {"type": "object", "description": "%s (emulator schema: permissive)" % rt.kind,
                                  "x-kubernetes-preserve-unknown-fields": True}
                ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/" + sname}}}}
                ok = {"200": dict(description="OK", **ref)}
                base = prefix + ("/namespaces/{namespace}" if rt.namespaced else "") + "/" + rt.plural
                op = lambda verb, action, params=(): {
                    "operationId": "%s%s" % (verb, rt.kind), "parameters": list(params), "responses": ok,
                    "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk}
                paths[base] = {"get": op("list", "list", list_params), "post": op("create", "post", write_params),
                               "delete": op("deletecollection", "deletecollection")}
                item = {"get": op("read", "get"), "put": op("replace", "put", write_params),
                        "patch": op("patch", "patch", patch_params), "delete": op("delete", "delete", write_params[:1])}
                item["patch"]["requestBody"] = {"content": {t: {"schema": {"type": "object"}} for t in (
                    "application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
                    "application/strategic-merge-patch+json")}}
                paths[base + "/{name}"] = item
                if rt.status:
                    paths[base + "/{name}/status"] = {"get": op("read", "get"), "put": op("replace", "put", write_params),
                                                     "patch": op("patch", "patch", patch_params)}
            body = dumpb({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
                          "paths": paths, "components": {"schemas": schemas}})
            self._cache[ck] = body
            return body
