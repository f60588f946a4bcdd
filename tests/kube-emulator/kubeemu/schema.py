"""Known fields of the common built-in kinds, for field validation (fieldValidation=Strict|Warn|Ignore).

A small hand-written subset of the Kubernetes OpenAPI: a struct is a dict of field -> type,
where a type is None (scalar/anything), "map" (free-form map), "any" (unchecked subtree),
a struct name, or [struct name] (list of structs). Kinds not listed here are not checked.
Unknown fields are rejected (Strict) or reported with a Warning header and dropped (Warn,
the default) or silently dropped (Ignore), like the real server.
"""

S = {}


def struct(name, fields, **nested):
    d = {f: None for f in fields.split()}
    d.update(nested)
    S[name] = d


struct("ObjectMeta", "name generateName namespace selfLink uid resourceVersion generation creationTimestamp "
       "deletionTimestamp deletionGracePeriodSeconds finalizers",
       labels="map", annotations="map", ownerReferences=["OwnerReference"], managedFields="any")
struct("OwnerReference", "apiVersion kind name uid controller blockOwnerDeletion")
struct("LabelSelector", "", matchLabels="map", matchExpressions=["LabelSelectorRequirement"])
struct("LabelSelectorRequirement", "key operator values")
struct("PodTemplateSpec", "", metadata="ObjectMeta", spec="PodSpec")
struct("PodSpec", "restartPolicy terminationGracePeriodSeconds activeDeadlineSeconds dnsPolicy serviceAccountName "
       "serviceAccount automountServiceAccountToken nodeName hostNetwork hostPID hostIPC shareProcessNamespace "
       "hostname subdomain schedulerName priorityClassName priority runtimeClassName enableServiceLinks "
       "preemptionPolicy setHostnameAsFQDN hostUsers",
       volumes=["Volume"], initContainers=["Container"], containers=["Container"], ephemeralContainers="any",
       nodeSelector="map", securityContext="any", imagePullSecrets=["LocalObjectReference"], affinity="any",
       tolerations="any", hostAliases="any", dnsConfig="any", readinessGates="any", overhead="map",
       topologySpreadConstraints="any", os="any", schedulingGates="any", resourceClaims="any", resources="any")
struct("LocalObjectReference", "name")
struct("Container", "name image command args workingDir terminationMessagePath terminationMessagePolicy "
       "imagePullPolicy stdin stdinOnce tty restartPolicy",
       ports=["ContainerPort"], envFrom="any", env=["EnvVar"], resources="ResourceRequirements",
       resizePolicy="any", volumeMounts=["VolumeMount"], volumeDevices="any", livenessProbe="Probe",
       readinessProbe="Probe", startupProbe="Probe", lifecycle="any", securityContext="any")
struct("ContainerPort", "name hostPort containerPort protocol hostIP")
struct("EnvVar", "name value", valueFrom="any")
struct("ResourceRequirements", "", limits="map", requests="map", claims="any")
struct("VolumeMount", "name readOnly recursiveReadOnly mountPath subPath mountPropagation subPathExpr")
struct("Probe", "initialDelaySeconds timeoutSeconds periodSeconds successThreshold failureThreshold "
       "terminationGracePeriodSeconds", exec="any", httpGet="any", tcpSocket="any", grpc="any")
struct("Volume", "name", hostPath="any", emptyDir="any", secret="any", configMap="any",
       persistentVolumeClaim="any", projected="any", downwardAPI="any", nfs="any", csi="any", ephemeral="any",
       image="any", iscsi="any", awsElasticBlockStore="any", gcePersistentDisk="any", gitRepo="any",
       glusterfs="any", rbd="any", flexVolume="any", cinder="any", cephfs="any", flocker="any", fc="any",
       azureFile="any", azureDisk="any", vsphereVolume="any", quobyte="any", photonPersistentDisk="any",
       portworxVolume="any", scaleIO="any", storageos="any")
struct("DeploymentSpec", "replicas minReadySeconds revisionHistoryLimit paused progressDeadlineSeconds",
       selector="LabelSelector", template="PodTemplateSpec", strategy="DeploymentStrategy")
struct("DeploymentStrategy", "type", rollingUpdate="RollingUpdate")
struct("RollingUpdate", "maxUnavailable maxSurge partition")
struct("ReplicaSetSpec", "replicas minReadySeconds", selector="LabelSelector", template="PodTemplateSpec")
struct("StatefulSetSpec", "replicas serviceName podManagementPolicy revisionHistoryLimit minReadySeconds",
       selector="LabelSelector", template="PodTemplateSpec", volumeClaimTemplates=["PVCTemplate"],
       updateStrategy="StatefulSetUpdateStrategy", persistentVolumeClaimRetentionPolicy="any", ordinals="any")
struct("StatefulSetUpdateStrategy", "type", rollingUpdate="RollingUpdate")
struct("PVCTemplate", "apiVersion kind", metadata="ObjectMeta", spec="PVCSpec", status="any")
struct("DaemonSetSpec", "minReadySeconds revisionHistoryLimit", selector="LabelSelector",
       template="PodTemplateSpec", updateStrategy="DaemonSetUpdateStrategy")
struct("DaemonSetUpdateStrategy", "type", rollingUpdate="RollingUpdate")
struct("JobSpec", "parallelism completions activeDeadlineSeconds backoffLimit backoffLimitPerIndex "
       "maxFailedIndexes manualSelector ttlSecondsAfterFinished completionMode suspend podReplacementPolicy "
       "managedBy", selector="LabelSelector", template="PodTemplateSpec", podFailurePolicy="any",
       successPolicy="any")
struct("CronJobSpec", "schedule timeZone startingDeadlineSeconds concurrencyPolicy suspend "
       "successfulJobsHistoryLimit failedJobsHistoryLimit", jobTemplate="JobTemplateSpec")
struct("JobTemplateSpec", "", metadata="ObjectMeta", spec="JobSpec")
struct("ServiceSpec", "clusterIP clusterIPs type externalIPs sessionAffinity loadBalancerIP "
       "loadBalancerSourceRanges externalName externalTrafficPolicy healthCheckNodePort publishNotReadyAddresses "
       "ipFamilies ipFamilyPolicy allocateLoadBalancerNodePorts loadBalancerClass internalTrafficPolicy "
       "trafficDistribution", ports=["ServicePort"], selector="map", sessionAffinityConfig="any")
struct("ServicePort", "name protocol appProtocol port targetPort nodePort")
struct("PVCSpec", "accessModes volumeName storageClassName volumeMode volumeAttributesClassName",
       selector="LabelSelector", resources="ResourceRequirements", dataSource="any", dataSourceRef="any")
struct("NamespaceSpec", "finalizers")

TOP = "apiVersion kind".split()
KINDS = {
    "Deployment": {"metadata": "ObjectMeta", "spec": "DeploymentSpec", "status": "any"},
    "ReplicaSet": {"metadata": "ObjectMeta", "spec": "ReplicaSetSpec", "status": "any"},
    "StatefulSet": {"metadata": "ObjectMeta", "spec": "StatefulSetSpec", "status": "any"},
    "DaemonSet": {"metadata": "ObjectMeta", "spec": "DaemonSetSpec", "status": "any"},
    "Job": {"metadata": "ObjectMeta", "spec": "JobSpec", "status": "any"},
    "CronJob": {"metadata": "ObjectMeta", "spec": "CronJobSpec", "status": "any"},
    "Pod": {"metadata": "ObjectMeta", "spec": "PodSpec", "status": "any"},
    "Service": {"metadata": "ObjectMeta", "spec": "ServiceSpec", "status": "any"},
    "PersistentVolumeClaim": {"metadata": "ObjectMeta", "spec": "PVCSpec", "status": "any"},
    "ConfigMap": {"metadata": "ObjectMeta", "data": "map", "binaryData": "map", "immutable": None},
    "Secret": {"metadata": "ObjectMeta", "data": "map", "stringData": "map", "type": None, "immutable": None},
    "Namespace": {"metadata": "ObjectMeta", "spec": "NamespaceSpec", "status": "any"},
    "ServiceAccount": {"metadata": "ObjectMeta", "secrets": "any", "imagePullSecrets": ["LocalObjectReference"],
                       "automountServiceAccountToken": None},
    "StorageClass": {"metadata": "ObjectMeta", "provisioner": None, "parameters": "map", "reclaimPolicy": None,
                     "mountOptions": None, "allowVolumeExpansion": None, "volumeBindingMode": None,
                     "allowedTopologies": "any"},
}
for k in KINDS.values():
    for t in TOP:
        k[t] = None


def unknown_fields(kind, obj, prune=False):
    """Returns a list of dotted paths of unknown fields; with prune=True removes them from obj."""
    top = KINDS.get(kind)
    if top is None or not isinstance(obj, dict):
        return []
    out = []
    _walk(obj, top, "", out, prune)
    return out


def _walk(obj, fields, path, out, prune):
    for k in list(obj.keys()):
        p = path + "." + k if path else k
        if k not in fields:
            out.append(p)
            if prune:
                del obj[k]
            continue
        t = fields[k]
        v = obj[k]
        if t is None or t in ("map", "any") or v is None:
            continue
        if isinstance(t, list):
            if isinstance(v, list):
                for i, item in enumerate(v):
                    if isinstance(item, dict):
                        _walk(item, S[t[0]], "%s[%d]" % (p, i), out, prune)
            continue
        if isinstance(v, dict):
            _walk(v, S[t], p, out, prune)
