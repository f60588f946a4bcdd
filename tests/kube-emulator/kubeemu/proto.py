"""Decoder for Kubernetes protobuf request bodies (application/vnd.kubernetes.protobuf).

kubectl's typed imperative commands (`kubectl create configmap|secret|deployment|...`)
send protobuf. This decodes the `k8s\\0` envelope (runtime.Unknown) and the message into
the same JSON shape the Go JSON encoder produces, for the kinds listed in KINDS. Field
numbers come from the Kubernetes generated.proto files. Unknown fields are skipped.
"""
import base64
import struct

from .common import ApiError, now_ts

MAGIC = b"k8s\x00"

# field kinds: s=string i=int b=bool y=bytes m=message M=map<string,string> MB=map<string,bytes>
# MQ=map<string,Quantity> rs=repeated string rm=repeated message ri=repeated int
# q=Quantity ios=IntOrString t=Time  A trailing '?' marks a pointer field (zero value kept).
S = {
    "TypeMeta": {1: ("apiVersion", "s"), 2: ("kind", "s")},
    "Unknown": {1: ("typeMeta", "m", "TypeMeta"), 2: ("raw", "y"), 3: ("contentEncoding", "s"), 4: ("contentType", "s")},
    "ObjectMeta": {1: ("name", "s"), 2: ("generateName", "s"), 3: ("namespace", "s"), 5: ("uid", "s"),
                   6: ("resourceVersion", "s"), 7: ("generation", "i"), 8: ("creationTimestamp", "t"),
                   9: ("deletionTimestamp", "t"), 10: ("deletionGracePeriodSeconds", "i?"),
                   11: ("labels", "M"), 12: ("annotations", "M"), 13: ("ownerReferences", "rm", "OwnerReference"),
                   14: ("finalizers", "rs")},
    "OwnerReference": {1: ("kind", "s"), 3: ("name", "s"), 4: ("uid", "s"), 5: ("apiVersion", "s"),
                       6: ("controller", "b?"), 7: ("blockOwnerDeletion", "b?")},
    "LabelSelector": {1: ("matchLabels", "M"), 2: ("matchExpressions", "rm", "LabelSelectorRequirement")},
    "LabelSelectorRequirement": {1: ("key", "s"), 2: ("operator", "s"), 3: ("values", "rs")},
    "ConfigMap": {1: ("metadata", "m", "ObjectMeta"), 2: ("data", "M"), 3: ("binaryData", "MB"), 4: ("immutable", "b?")},
    "Secret": {1: ("metadata", "m", "ObjectMeta"), 2: ("data", "MB"), 3: ("type", "s"), 4: ("stringData", "M"),
               5: ("immutable", "b?")},
    "Namespace": {1: ("metadata", "m", "ObjectMeta"), 2: ("spec", "m", "NamespaceSpec"), 3: ("status", "m", "Empty")},
    "NamespaceSpec": {1: ("finalizers", "rs")},
    "Empty": {},
    "ServiceAccount": {1: ("metadata", "m", "ObjectMeta"), 2: ("secrets", "rm", "ObjectReference"),
                       3: ("imagePullSecrets", "rm", "LocalObjectReference"), 4: ("automountServiceAccountToken", "b?")},
    "ObjectReference": {1: ("kind", "s"), 2: ("namespace", "s"), 3: ("name", "s"), 4: ("uid", "s"),
                        5: ("apiVersion", "s"), 6: ("resourceVersion", "s"), 7: ("fieldPath", "s")},
    "LocalObjectReference": {1: ("name", "s")},
    "Service": {1: ("metadata", "m", "ObjectMeta"), 2: ("spec", "m", "ServiceSpec"), 3: ("status", "m", "Empty")},
    "ServiceSpec": {1: ("ports", "rm", "ServicePort"), 2: ("selector", "M"), 3: ("clusterIP", "s"), 4: ("type", "s"),
                    5: ("externalIPs", "rs"), 7: ("sessionAffinity", "s"), 8: ("loadBalancerIP", "s"),
                    10: ("externalName", "s"), 11: ("externalTrafficPolicy", "s"), 13: ("publishNotReadyAddresses", "b"),
                    18: ("clusterIPs", "rs"), 19: ("ipFamilies", "rs"), 17: ("ipFamilyPolicy", "s?"),
                    22: ("internalTrafficPolicy", "s?")},
    "ServicePort": {1: ("name", "s"), 2: ("protocol", "s"), 3: ("port", "i"), 4: ("targetPort", "ios"),
                    5: ("nodePort", "i"), 6: ("appProtocol", "s?")},
    "IntOrString": {1: ("type", "i"), 2: ("intVal", "i"), 3: ("strVal", "s")},
    "Deployment": {1: ("metadata", "m", "ObjectMeta"), 2: ("spec", "m", "DeploymentSpec"), 3: ("status", "m", "Empty")},
    "DeploymentSpec": {1: ("replicas", "i?"), 2: ("selector", "m", "LabelSelector"), 3: ("template", "m", "PodTemplateSpec"),
                       4: ("strategy", "m", "DeploymentStrategy"), 5: ("minReadySeconds", "i"),
                       6: ("revisionHistoryLimit", "i?"), 7: ("paused", "b"), 9: ("progressDeadlineSeconds", "i?")},
    "DeploymentStrategy": {1: ("type", "s"), 2: ("rollingUpdate", "m", "RollingUpdateDeployment")},
    "RollingUpdateDeployment": {1: ("maxUnavailable", "ios"), 2: ("maxSurge", "ios")},
    "Job": {1: ("metadata", "m", "ObjectMeta"), 2: ("spec", "m", "JobSpec"), 3: ("status", "m", "Empty")},
    "JobSpec": {1: ("parallelism", "i?"), 2: ("completions", "i?"), 3: ("activeDeadlineSeconds", "i?"),
                4: ("selector", "m", "LabelSelector"), 5: ("manualSelector", "b?"), 6: ("template", "m", "PodTemplateSpec"),
                7: ("backoffLimit", "i?"), 8: ("ttlSecondsAfterFinished", "i?"), 9: ("completionMode", "s?"),
                10: ("suspend", "b?")},
    "CronJob": {1: ("metadata", "m", "ObjectMeta"), 2: ("spec", "m", "CronJobSpec"), 3: ("status", "m", "Empty")},
    "CronJobSpec": {1: ("schedule", "s"), 2: ("startingDeadlineSeconds", "i?"), 3: ("concurrencyPolicy", "s"),
                    4: ("suspend", "b?"), 5: ("jobTemplate", "m", "JobTemplateSpec"),
                    6: ("successfulJobsHistoryLimit", "i?"), 7: ("failedJobsHistoryLimit", "i?"), 8: ("timeZone", "s?")},
    "JobTemplateSpec": {1: ("metadata", "m", "ObjectMeta"), 2: ("spec", "m", "JobSpec")},
    "Pod": {1: ("metadata", "m", "ObjectMeta"), 2: ("spec", "m", "PodSpec"), 3: ("status", "m", "Empty")},
    "PodTemplateSpec": {1: ("metadata", "m", "ObjectMeta"), 2: ("spec", "m", "PodSpec")},
    "PodSpec": {1: ("volumes", "rm", "Volume"), 2: ("containers", "rm", "Container"), 3: ("restartPolicy", "s"),
                4: ("terminationGracePeriodSeconds", "i?"), 5: ("activeDeadlineSeconds", "i?"), 6: ("dnsPolicy", "s"),
                7: ("nodeSelector", "M"), 8: ("serviceAccountName", "s"), 9: ("serviceAccount", "s"),
                10: ("nodeName", "s"), 11: ("hostNetwork", "b"), 12: ("hostPID", "b"), 13: ("hostIPC", "b"),
                14: ("securityContext", "m", "Empty"), 15: ("imagePullSecrets", "rm", "LocalObjectReference"),
                16: ("hostname", "s"), 17: ("subdomain", "s"), 19: ("schedulerName", "s"),
                20: ("initContainers", "rm", "Container"), 21: ("automountServiceAccountToken", "b?"),
                22: ("tolerations", "rm", "Toleration"), 24: ("priorityClassName", "s"), 25: ("priority", "i?"),
                30: ("enableServiceLinks", "b?"), 31: ("preemptionPolicy", "s?")},
    "Toleration": {1: ("key", "s"), 2: ("operator", "s"), 3: ("value", "s"), 4: ("effect", "s"),
                   5: ("tolerationSeconds", "i?")},
    "Container": {1: ("name", "s"), 2: ("image", "s"), 3: ("command", "rs"), 4: ("args", "rs"), 5: ("workingDir", "s"),
                  6: ("ports", "rm", "ContainerPort"), 7: ("env", "rm", "EnvVar"),
                  8: ("resources", "m", "ResourceRequirements"), 9: ("volumeMounts", "rm", "VolumeMount"),
                  13: ("terminationMessagePath", "s"), 14: ("imagePullPolicy", "s"), 16: ("stdin", "b"),
                  17: ("stdinOnce", "b"), 18: ("tty", "b"), 20: ("terminationMessagePolicy", "s"),
                  24: ("restartPolicy", "s?")},
    "ContainerPort": {1: ("name", "s"), 2: ("hostPort", "i"), 3: ("containerPort", "i"), 4: ("protocol", "s"),
                      5: ("hostIP", "s")},
    "EnvVar": {1: ("name", "s"), 2: ("value", "s")},
    "ResourceRequirements": {1: ("limits", "MQ"), 2: ("requests", "MQ")},
    "VolumeMount": {1: ("name", "s"), 2: ("readOnly", "b"), 3: ("mountPath", "s"), 4: ("subPath", "s")},
    "Volume": {1: ("name", "s"), 2: ("volumeSource", "inline", "VolumeSource")},
    "VolumeSource": {1: ("hostPath", "m", "HostPathVolumeSource"), 2: ("emptyDir", "m", "Empty"),
                     6: ("secret", "m", "SecretVolumeSource"), 10: ("persistentVolumeClaim", "m", "PVCVolumeSource"),
                     19: ("configMap", "m", "ConfigMapVolumeSource")},
    "HostPathVolumeSource": {1: ("path", "s"), 2: ("type", "s?")},
    "SecretVolumeSource": {1: ("secretName", "s"), 3: ("defaultMode", "i?"), 4: ("optional", "b?")},
    "PVCVolumeSource": {1: ("claimName", "s"), 2: ("readOnly", "b")},
    "ConfigMapVolumeSource": {1: ("localObjectReference", "inline", "LocalObjectReference"), 3: ("defaultMode", "i?"),
                              4: ("optional", "b?")},
    "Role": {1: ("metadata", "m", "ObjectMeta"), 2: ("rules", "rm", "PolicyRule")},
    "ClusterRole": {1: ("metadata", "m", "ObjectMeta"), 2: ("rules", "rm", "PolicyRule")},
    "PolicyRule": {1: ("verbs", "rs"), 2: ("apiGroups", "rs"), 3: ("resources", "rs"), 4: ("resourceNames", "rs"),
                   5: ("nonResourceURLs", "rs")},
    "RoleBinding": {1: ("metadata", "m", "ObjectMeta"), 2: ("subjects", "rm", "Subject"), 3: ("roleRef", "m", "RoleRef")},
    "ClusterRoleBinding": {1: ("metadata", "m", "ObjectMeta"), 2: ("subjects", "rm", "Subject"), 3: ("roleRef", "m", "RoleRef")},
    "Subject": {1: ("kind", "s"), 2: ("apiGroup", "s"), 3: ("name", "s"), 4: ("namespace", "s")},
    "RoleRef": {1: ("apiGroup", "s"), 2: ("kind", "s"), 3: ("name", "s")},
    "PriorityClass": {1: ("metadata", "m", "ObjectMeta"), 2: ("value", "i"), 3: ("globalDefault", "b"),
                      4: ("description", "s"), 5: ("preemptionPolicy", "s?")},
    "ResourceQuota": {1: ("metadata", "m", "ObjectMeta"), 2: ("spec", "m", "ResourceQuotaSpec"), 3: ("status", "m", "Empty")},
    "ResourceQuotaSpec": {1: ("hard", "MQ"), 2: ("scopes", "rs")},
    "PodDisruptionBudget": {1: ("metadata", "m", "ObjectMeta"), 2: ("spec", "m", "PDBSpec"), 3: ("status", "m", "Empty")},
    "PDBSpec": {1: ("minAvailable", "ios"), 2: ("selector", "m", "LabelSelector"), 3: ("maxUnavailable", "ios")},
    "SelfSubjectAccessReview": {1: ("metadata", "m", "ObjectMeta"), 2: ("spec", "m", "SSARSpec"), 3: ("status", "m", "Empty")},
    "SSARSpec": {1: ("resourceAttributes", "m", "ResourceAttributes"), 2: ("nonResourceAttributes", "m", "NonResourceAttributes")},
    "ResourceAttributes": {1: ("namespace", "s"), 2: ("verb", "s"), 3: ("group", "s"), 4: ("version", "s"),
                           5: ("resource", "s"), 6: ("subresource", "s"), 7: ("name", "s")},
    "NonResourceAttributes": {1: ("path", "s"), 2: ("verb", "s")},
    "DeleteOptions": {1: ("gracePeriodSeconds", "i?"), 2: ("preconditions", "m", "Preconditions"),
                      3: ("orphanDependents", "b?"), 4: ("propagationPolicy", "s?"), 5: ("dryRun", "rs")},
    "Preconditions": {1: ("uid", "s?"), 2: ("resourceVersion", "s?")},
    "Scale": {1: ("metadata", "m", "ObjectMeta"), 2: ("spec", "m", "ScaleSpec"), 3: ("status", "m", "Empty")},
    "ScaleSpec": {1: ("replicas", "i")},
}
KINDS = {"ConfigMap", "Secret", "Namespace", "ServiceAccount", "Service", "Deployment", "Job", "CronJob", "Pod",
         "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "PriorityClass", "ResourceQuota",
         "PodDisruptionBudget", "SelfSubjectAccessReview", "DeleteOptions", "Scale"}


class ProtoError(ValueError):
    pass


def _varint(buf, i):
    shift = 0
    result = 0
    while True:
        if i >= len(buf):
            raise ProtoError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 70:
            raise ProtoError("varint too long")


def fields(buf):
    """Yields (field_number, wire_type, value) for one message."""
    i = 0
    n = len(buf)
    while i < n:
        key, i = _varint(buf, i)
        fno, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 2:
            ln, i = _varint(buf, i)
            v = bytes(buf[i:i + ln])
            if len(v) != ln:
                raise ProtoError("truncated field")
            i += ln
        elif wt == 1:
            v = struct.unpack_from("<q", buf, i)[0]
            i += 8
        elif wt == 5:
            v = struct.unpack_from("<i", buf, i)[0]
            i += 4
        else:
            raise ProtoError("unsupported wire type %d" % wt)
        yield fno, wt, v


def _signed(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def _map(data, vkind):
    k, v = "", None
    for fno, wt, val in fields(data):
        if fno == 1:
            k = val.decode("utf-8")
        elif fno == 2:
            v = val
    if vkind == "s":
        return k, (v or b"").decode("utf-8")
    if vkind == "y":
        return k, base64.b64encode(v or b"").decode()
    if vkind == "q":
        return k, _quantity(v or b"")
    return k, v


def _quantity(data):
    for fno, wt, val in fields(data):
        if fno == 1:
            return val.decode("utf-8")
    return "0"


def _ios(data):
    typ, iv, sv = 0, 0, ""
    for fno, wt, val in fields(data):
        if fno == 1:
            typ = val
        elif fno == 2:
            iv = _signed(val)
        elif fno == 3:
            sv = val.decode("utf-8")
    return sv if typ == 1 else iv


def _time(data):
    secs = 0
    for fno, wt, val in fields(data):
        if fno == 1:
            secs = _signed(val)
    return now_ts(secs) if secs else None


def decode_message(data, mtype):
    schema = S.get(mtype, {})
    out = {}
    for fno, wt, val in fields(data):
        spec = schema.get(fno)
        if spec is None:
            continue
        name, kind = spec[0], spec[1]
        ptr = kind.endswith("?")
        kind = kind.rstrip("?")
        if kind == "s":
            v = val.decode("utf-8")
            if v or ptr:
                out[name] = v
        elif kind == "i":
            v = _signed(val)
            if v or ptr:
                out[name] = v
        elif kind == "b":
            v = bool(val)
            if v or ptr:
                out[name] = v
        elif kind == "y":
            out[name] = base64.b64encode(val).decode()
        elif kind == "m":
            out[name] = decode_message(val, spec[2])
        elif kind == "inline":
            out.update(decode_message(val, spec[2]))
        elif kind in ("M", "MB", "MQ"):
            k, v = _map(val, {"M": "s", "MB": "y", "MQ": "q"}[kind])
            out.setdefault(name, {})[k] = v
        elif kind == "rs":
            out.setdefault(name, []).append(val.decode("utf-8"))
        elif kind == "rm":
            out.setdefault(name, []).append(decode_message(val, spec[2]))
        elif kind == "q":
            out[name] = _quantity(val)
        elif kind == "ios":
            out[name] = _ios(val)
        elif kind == "t":
            t = _time(val)
            if t:
                out[name] = t
    return out


def decode(body):
    """Decode a protobuf request body into a JSON-like object."""
    if not body.startswith(MAGIC):
        raise ApiError(400, "BadRequest", "protobuf body does not start with the k8s magic prefix")
    try:
        env = decode_message(body[4:], "Unknown")
        tm = env.get("typeMeta") or {}
        kind = tm.get("kind")
        raw = base64.b64decode(env.get("raw", ""))
        if kind not in KINDS:
            raise ApiError(415, "UnsupportedMediaType",
                           "the emulator cannot decode protobuf for kind %r; send application/json" % kind)
        obj = decode_message(raw, kind)
    except ProtoError as e:
        raise ApiError(400, "BadRequest", "error decoding protobuf: %s" % e)
    out = {}
    if tm.get("apiVersion"):
        out["apiVersion"] = tm["apiVersion"]
    out["kind"] = kind
    out.update(obj)
    if isinstance(out.get("status"), dict) and not out["status"] and kind != "SelfSubjectAccessReview":
        out.pop("status")
    return out
