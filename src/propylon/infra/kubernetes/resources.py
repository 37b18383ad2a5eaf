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

With `xds_tls` (the data of the Gateway's xDS client certificate, see `controller.certs`), the
proxies reach xDS over mutual TLS: a `kubernetes.io/tls` Secret `propylon-<gateway>-xds` holds
the certificate, mounted at `CERT_DIR`; the ConfigMap holds the bootstrap and its two SDS
documents, mounted at `BOOTSTRAP_DIR`. Envoy watches both directories, so a rotated certificate
reaches it without a restart (the pod template does not change with the certificate).

The InfraIR's `parameters` (Propylon's GatewayParameters, see `translate.parameters`) override
`ProxyOptions` per Gateway: image, replicas, resources, concurrency (Envoy `--concurrency`), the
Service type, and pod settings (nodeSelector, tolerations, affinity, extra pod labels and
annotations; Propylon's selector labels always win).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from propylon.infra.labels import Owner, own_labels, port_name, selector_labels
from propylon.ir.model import GatewayKey, InfraIR, ProxyParameters
from propylon.xds.bootstrap import XdsClientTls, bootstrap, sds_documents

DEFAULT_IMAGE = "envoyproxy/envoy:v1.36-latest"
BOOTSTRAP_KEY = "envoy.json"
BOOTSTRAP_DIR = "/etc/propylon/bootstrap"
CERT_DIR = "/etc/propylon/xds-tls"
ADMIN_PORT = 19000
ENVOY_UID = 101  # the `envoy` user of the upstream image


@dataclass(frozen=True)
class ProxyOptions:
    """How every Gateway's proxies run unless its GatewayParameters say otherwise."""

    image: str = DEFAULT_IMAGE
    replicas: int = 1
    resources: dict[str, Any] = field(default_factory=lambda: {
        "requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "1Gi"}})
    service_type: str = "LoadBalancer"
    privileged_port_offset: int = 10000

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




def tls_secret_name(key: GatewayKey) -> str:
    """The Secret with the xDS client certificate of a Gateway's proxies."""
    return f"{object_name(key)}-xds"


def _json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1, sort_keys=True)


def config_data(ir: InfraIR, xds_host: str, xds_port: int, mutual_tls: bool) -> dict[str, str]:
    """The ConfigMap's data: the bootstrap, and with mutual TLS its SDS documents."""
    tls = XdsClientTls(BOOTSTRAP_DIR, CERT_DIR, xds_host) if mutual_tls else None
    data = {BOOTSTRAP_KEY: _json(bootstrap(node_id=str(ir.key), xds_host=xds_host,
                                           xds_port=xds_port, admin_port=ADMIN_PORT, tls=tls))}
    if tls is not None:
        data.update({name: _json(doc) for name, doc in sds_documents(tls).items()})
    return data


def gateway_objects(ir: InfraIR, owner: Owner, xds_host: str, xds_port: int,
                    options: ProxyOptions,
                    xds_tls: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """ServiceAccount, ConfigMap, (with `xds_tls`) the client certificate Secret, Deployment
    and (with at least one port) Service."""
    data = config_data(ir, xds_host, xds_port, xds_tls is not None)
    config_hash = hashlib.sha256(_json(data).encode()).hexdigest()[:16]
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(ir, owner),
         "automountServiceAccountToken": False},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _metadata(ir, owner),
         "data": data},
    ]
    if xds_tls is not None:
        objects.append({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                        "metadata": {**_metadata(ir, owner), "name": tls_secret_name(ir.key)},
                        "data": dict(xds_tls)})
    objects.append(_deployment(ir, owner, options, config_hash, xds_tls is not None))
    if ir.listeners:
        objects.append(_service(ir, owner, options))
    return objects


def _deployment(ir: InfraIR, owner: Owner, options: ProxyOptions,
                config_hash: str, mutual_tls: bool) -> dict[str, Any]:
    offset = options.privileged_port_offset
    params = ir.parameters
    pod_meta: dict[str, Any] = {
        "labels": {**dict(ir.labels), **dict(params.pod_labels), **own_labels(ir.key)},
        "annotations": {**dict(ir.annotations), **dict(params.pod_annotations),
                        "propylon.dev/bootstrap-hash": config_hash}}
    concurrency = ["--concurrency", str(params.concurrency)] if params.concurrency else []
    container: dict[str, Any] = {
        "name": "envoy", "image": params.image or options.image,
        "imagePullPolicy": "IfNotPresent", "command": ["envoy"],
        "args": ["-c", f"{BOOTSTRAP_DIR}/{BOOTSTRAP_KEY}", "--disable-hot-restart",
                 *concurrency, "--log-level", "info"],
        "ports": [{"name": port_name(p, t), "containerPort": container_port(p, offset),
                   "protocol": t} for p, t in ir.port_transports()],
        "resources": json.loads(params.resources) if params.resources else options.resources,
        "securityContext": {"runAsNonRoot": True, "runAsUser": ENVOY_UID,
                            "runAsGroup": ENVOY_UID, "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "bootstrap", "mountPath": BOOTSTRAP_DIR, "readOnly": True}],
    }
    volumes: list[dict[str, Any]] = [{"name": "bootstrap",
                                      "configMap": {"name": object_name(ir.key)}}]
    if mutual_tls:
        container["volumeMounts"].append(
            {"name": "xds-tls", "mountPath": CERT_DIR, "readOnly": True})
        volumes.append({"name": "xds-tls", "secret": {"secretName": tls_secret_name(ir.key),
                                                      "defaultMode": 0o440}})
    pod_spec: dict[str, Any] = {
        "serviceAccountName": object_name(ir.key),
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": 30,
        "securityContext": {"fsGroup": ENVOY_UID},
        "containers": [container],
        "volumes": volumes}
    if params.node_selector:
        pod_spec["nodeSelector"] = dict(params.node_selector)
    if params.tolerations:
        pod_spec["tolerations"] = json.loads(params.tolerations)
    if params.affinity:
        pod_spec["affinity"] = json.loads(params.affinity)
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _metadata(ir, owner),
        "spec": {
            "replicas": options.replicas if params.replicas is None else params.replicas,
            "selector": {"matchLabels": selector_labels(ir.key)},
            "template": {"metadata": pod_meta, "spec": pod_spec}}}


def _service(ir: InfraIR, owner: Owner, options: ProxyOptions) -> dict[str, Any]:
    offset = options.privileged_port_offset
    service_type = options.service_type_of(ir.parameters)
    spec: dict[str, Any] = {
        "type": service_type,
        "selector": selector_labels(ir.key),
        "ports": [{"name": port_name(p, t), "port": p, "targetPort": container_port(p, offset),
                   "protocol": t} for p, t in ir.port_transports()]}
    if service_type == "LoadBalancer":
        spec["externalTrafficPolicy"] = "Local"
    if ir.requested_addresses:
        spec["externalIPs"] = list(ir.requested_addresses)
    return {"apiVersion": "v1", "kind": "Service", "metadata": _metadata(ir, owner),
            "spec": spec}
