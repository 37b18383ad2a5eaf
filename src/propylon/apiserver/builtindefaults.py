"""Defaults of the built-in kinds, as kube-apiserver's `SetDefaults_*` functions fill them.

`fill(info, obj)` fills, in place, what kube-apiserver's generated defaulters
(`pkg/apis/core/v1`, `apps/v1`, `discovery/v1`: `SetObjectDefaults_<Kind>`) fill when they
decode an object: a Secret's `type: Opaque`, a Namespace's `kubernetes.io/metadata.name` label
and `Active` phase, a Service's type, affinity, traffic policies and port protocols and target
ports, a Pod's (or a Deployment's template's) restart and DNS policies, scheduler, grace period,
security context, and per container the image pull policy, termination message settings, port
protocols, probe timings; a Deployment's replicas, rolling update strategy, revision history and
progress deadline; the names and protocols of EndpointSlices' ports. Only absent fields are
filled (an explicit `replicas: 0` stays). Each kind has one function; `DEFAULTERS` maps a kind to
it, and kinds without defaults there (ConfigMap, Event, Lease, ServiceAccount) are left as they
are (a ConfigMap's defaulted empty `data` is not serialized, so it shows nothing).

What kube-apiserver's Service storage allocates (cluster IPs, node ports, IP families) is not a
default: it depends on the other Services, and `serviceallocation` does it.

Pure: no I/O, and the same object always gets the same defaults, so the registry also runs it
over stored objects (`defaulting.Defaulter.refill`), as kube-apiserver defaults what it reads from
etcd.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from propylon.api.kinds import KindInfo

Obj = dict[str, Any]

CLIENT_IP_TIMEOUT_SECONDS = 10800  # v1.DefaultClientIPServiceAffinitySeconds
VOLUME_DEFAULT_MODE = 0o644  # secret, configMap, downwardAPI and projected volumes
TOKEN_EXPIRATION_SECONDS = 3600  # a projected serviceAccountToken
METADATA_NAME_LABEL = "kubernetes.io/metadata.name"

# Fields set when absent, per object (the defaults that need no decision). Go leaves a missing
# string or number as "" or 0, and kube-apiserver fills those; a missing pointer field is nil,
# and only nil is filled (`_set(..., pointers=True)`: an explicit 0 or false stays).
POD_SPEC = {"dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
            "schedulerName": "default-scheduler"}
POD_SPEC_POINTERS = {"securityContext": {}, "terminationGracePeriodSeconds": 30}
CONTAINER = {"terminationMessagePath": "/dev/termination-log",
             "terminationMessagePolicy": "File"}
PROBE = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
HTTP_GET = {"path": "/", "scheme": "HTTP"}
DEPLOYMENT = {"replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600}
ROLLING_UPDATE = {"maxUnavailable": "25%", "maxSurge": "25%"}


def _zero(value: Any) -> bool:
    """Whether Go would see the zero value: absent, null, "" or the number 0."""
    return value is None or value == "" or (type(value) is int and value == 0)


def _set(obj: Obj, defaults: dict[str, Any], pointers: bool = False) -> None:
    """Set each of `defaults` that `obj` lacks: absent or null, and with `pointers` false
    also "" or 0 (see POD_SPEC)."""
    for key, value in defaults.items():
        if obj.get(key) is None if pointers else _zero(obj.get(key)):
            obj[key] = value.copy() if isinstance(value, dict) else value


def _dicts(value: Any) -> list[Obj]:
    """The objects of a list field (a missing or malformed list has none)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _child(obj: Obj, key: str) -> Obj | None:
    value = obj.get(key)
    return value if isinstance(value, dict) else None


def _protocols(ports: Any) -> None:
    for port in _dicts(ports):
        _set(port, {"protocol": "TCP"})


def _field_ref(holder: Obj | None) -> None:
    """SetDefaults_ObjectFieldSelector, on a holder of `fieldRef`."""
    ref = _child(holder, "fieldRef") if holder is not None else None
    if ref is not None:
        _set(ref, {"apiVersion": "v1"})


def _image_pull_policy(image: Any) -> str:
    """`Always` for the `latest` tag (said or implied), `IfNotPresent` otherwise."""
    if not isinstance(image, str):
        return "IfNotPresent"
    name = image.split("@", 1)[0]
    if "@" in image and ":" not in name.rsplit("/", 1)[-1]:
        return "IfNotPresent"  # a digest and no tag
    last = name.rsplit("/", 1)[-1]
    tag = last.rsplit(":", 1)[1] if ":" in last else "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def container(obj: Obj) -> None:
    """SetDefaults_Container plus what the generated defaulter does inside a container."""
    _set(obj, {"imagePullPolicy": _image_pull_policy(obj.get("image")), **CONTAINER})
    _protocols(obj.get("ports"))
    for env in _dicts(obj.get("env")):
        _field_ref(_child(env, "valueFrom"))
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        if (probe := _child(obj, name)) is not None:
            _set(probe, PROBE)
            if (http := _child(probe, "httpGet")) is not None:
                _set(http, HTTP_GET)
    lifecycle = _child(obj, "lifecycle") or {}
    for hook in ("postStart", "preStop"):
        if (http := _child(_child(lifecycle, hook) or {}, "httpGet")) is not None:
            _set(http, HTTP_GET)


VOLUME_SOURCES = ("hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore",
                  "gitRepo", "secret", "nfs", "iscsi", "glusterfs", "persistentVolumeClaim",
                  "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc",
                  "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk",
                  "photonPersistentDisk", "projected", "portworxVolume", "scaleIO",
                  "storageos", "csi", "ephemeral", "image")


def volume(obj: Obj) -> None:
    """SetDefaults_Volume (no source is an emptyDir) and its sources' defaults."""
    if not any(obj.get(source) is not None for source in VOLUME_SOURCES):
        obj["emptyDir"] = {}
    if (host_path := _child(obj, "hostPath")) is not None:
        _set(host_path, {"type": ""}, pointers=True)
    if (image := _child(obj, "image")) is not None:
        _set(image, {"pullPolicy": _image_pull_policy(image.get("reference"))})
    for name in ("secret", "configMap", "downwardAPI", "projected"):
        if (source := _child(obj, name)) is not None:
            _set(source, {"defaultMode": VOLUME_DEFAULT_MODE}, pointers=True)
    for item in _dicts((_child(obj, "downwardAPI") or {}).get("items")):
        _field_ref(item)
    for source in _dicts((_child(obj, "projected") or {}).get("sources")):
        for item in _dicts((_child(source, "downwardAPI") or {}).get("items")):
            _field_ref(item)
        if (token := _child(source, "serviceAccountToken")) is not None:
            _set(token, {"expirationSeconds": TOKEN_EXPIRATION_SECONDS}, pointers=True)


def pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec and the defaults inside it (volumes, containers): what a Pod and a
    pod template both get."""
    _set(spec, POD_SPEC)
    _set(spec, POD_SPEC_POINTERS, pointers=True)
    for vol in _dicts(spec.get("volumes")):
        volume(vol)
    for name in ("initContainers", "containers", "ephemeralContainers"):
        for item in _dicts(spec.get(name)):
            container(item)


def pod(obj: Obj) -> None:
    """SetDefaults_Pod then pod_spec: requests default to limits, service links on, and with
    the host's network a container port is also its host port."""
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    for item in _dicts(spec.get("containers")) + _dicts(spec.get("initContainers")):
        resources = _child(item, "resources") or {}
        limits = _child(resources, "limits")
        if limits:
            requests = resources.setdefault("requests", {})
            if isinstance(requests, dict):
                for resource, quantity in limits.items():
                    requests.setdefault(resource, quantity)
    _set(spec, {"enableServiceLinks": True}, pointers=True)
    if spec.get("hostNetwork") is True:
        for item in _dicts(spec.get("containers")) + _dicts(spec.get("initContainers")):
            for port in _dicts(item.get("ports")):
                if _zero(port.get("hostPort")):
                    port["hostPort"] = port.get("containerPort")
    pod_spec(spec)


def deployment(obj: Obj) -> None:
    """SetDefaults_Deployment (apps/v1), its pod template's pod_spec, and `status: {}`."""
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    _set(spec, DEPLOYMENT, pointers=True)  # an explicit `replicas: 0` is kept
    strategy = spec.setdefault("strategy", {})
    if isinstance(strategy, dict):
        _set(strategy, {"type": "RollingUpdate"})
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.get("rollingUpdate")
            if not isinstance(rolling, dict):
                rolling = strategy["rollingUpdate"] = {}
            _set(rolling, ROLLING_UPDATE, pointers=True)
    _status(obj)
    template_spec = _child(_child(spec, "template") or {}, "spec")
    if template_spec is not None:
        pod_spec(template_spec)


def _status(obj: Obj) -> Obj:
    """The object's status, `{}` when it has none: Go always serializes a status struct, so
    a cluster shows `status: {}` before any controller writes one."""
    status = obj.get("status")
    if not isinstance(status, dict):
        status = obj["status"] = {}
    return status


def externally_accessible(spec: Obj) -> bool:
    """kube's service.ExternallyAccessible: a NodePort or LoadBalancer Service, or a ClusterIP
    one with external IPs."""
    kind = spec.get("type")
    return kind in ("NodePort", "LoadBalancer") or (kind == "ClusterIP"
                                                    and bool(spec.get("externalIPs")))


def service(obj: Obj) -> None:
    """SetDefaults_Service: affinity (ClientIP gets its timeout), type, port protocols and
    target ports, traffic policies, load-balancer node ports and ingress IP mode (and the empty
    `status.loadBalancer` a cluster shows)."""
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    _set(spec, {"sessionAffinity": "None", "type": "ClusterIP"})
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        client_ip = (_child(spec, "sessionAffinityConfig") or {}).get("clientIP")
        if not isinstance(client_ip, dict) or client_ip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {
                "clientIP": {"timeoutSeconds": CLIENT_IP_TIMEOUT_SECONDS}}
    for port in _dicts(spec.get("ports")):
        _set(port, {"protocol": "TCP"})
        if _zero(port.get("targetPort")) and "port" in port:
            port["targetPort"] = port["port"]
    if externally_accessible(spec):
        _set(spec, {"externalTrafficPolicy": "Cluster"})
    if spec["type"] in ("ClusterIP", "NodePort", "LoadBalancer"):
        _set(spec, {"internalTrafficPolicy": "Cluster"}, pointers=True)
    balancer = _status(obj).setdefault("loadBalancer", {})
    if spec["type"] == "LoadBalancer":
        _set(spec, {"allocateLoadBalancerNodePorts": True}, pointers=True)
        for ingress in _dicts(balancer.get("ingress") if isinstance(balancer, dict) else None):
            if ingress.get("ip"):
                _set(ingress, {"ipMode": "VIP"}, pointers=True)


def secret(obj: Obj) -> None:
    """SetDefaults_Secret: a Secret without a type is Opaque."""
    _set(obj, {"type": "Opaque"})


def namespace(obj: Obj) -> None:
    """SetDefaults_Namespace and SetDefaults_NamespaceStatus: the name as the
    `kubernetes.io/metadata.name` label (always: it cannot be changed) and the Active phase."""
    meta = obj.setdefault("metadata", {})
    name = meta.get("name") if isinstance(meta, dict) else None
    if name:
        labels = meta.get("labels")
        meta["labels"] = {**(labels if isinstance(labels, dict) else {}),
                          METADATA_NAME_LABEL: name}
    _set(_status(obj), {"phase": "Active"})


def endpoint_slice(obj: Obj) -> None:
    """SetDefaults_EndpointPort (discovery/v1): an unnamed port's name is "", TCP unless
    said."""
    for port in _dicts(obj.get("ports")):
        _set(port, {"name": "", "protocol": "TCP"}, pointers=True)


DEFAULTERS: dict[tuple[str, str, str], Callable[[Obj], None]] = {
    ("", "v1", "Pod"): pod,
    ("", "v1", "Service"): service,
    ("", "v1", "Secret"): secret,
    ("", "v1", "Namespace"): namespace,
    ("apps", "v1", "Deployment"): deployment,
    ("discovery.k8s.io", "v1", "EndpointSlice"): endpoint_slice,
}


def has_defaults(info: KindInfo) -> bool:
    return (info.group, info.version, info.kind) in DEFAULTERS


def fill(info: KindInfo, obj: Obj) -> Obj:
    """`obj` with the defaults of `info`'s kind filled in, in place; returns `obj`."""
    defaulter = DEFAULTERS.get((info.group, info.version, info.kind))
    if defaulter is not None:
        defaulter(obj)
    return obj
