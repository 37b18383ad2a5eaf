"""The Pod and Service that show one standalone Gateway's Envoy in the API, as plain dicts (no I/O).

On a cluster a Gateway's proxy is a Pod behind a LoadBalancer Service; standalone mode runs it as
a process on this machine. `host_objects()` describes that process the way a cluster would show
it, so that `kubectl get pods,svc -l gateway.networking.k8s.io/gateway-name=<gateway>` works:

- a Pod `<gateway>-envoy-<hash>` (the hash of `namespace/name` keeps truncated names apart):
  its container's image is the Envoy executable and its ports are where the listener ports are
  really bound; the annotation `propylon.dev/pid` holds the process id. Its status: phase
  Running while a process exists (else Pending), conditions Ready and ContainersReady following
  the Envoy's readiness (with the reason it is not ready), `podIP` the Gateway's address, and
  the container's status as a kubelet reports it (ready, running or waiting, `restartCount` the
  times the Envoy died and was started again, `lastState` how it last ended), so `kubectl get
  pods` shows READY 1/1 and RESTARTS as on a cluster;
- a Service of the same name, type LoadBalancer, one port per listener port (`targetPort` the
  port really bound), `status.loadBalancer.ingress[0].ip` the Gateway's address; none when the
  Gateway has no listener (a Service needs a port).

Both carry the labels of Kubernetes mode (`infra.labels.own_labels`: Propylon's selector labels
and `gateway.networking.k8s.io/gateway-name`) over the Gateway's `spec.infrastructure.labels`,
its `spec.infrastructure.annotations`, and a controller owner reference to the Gateway; the Pod
also gets the GatewayParameters' pod labels and annotations, as Kubernetes mode's pods do.
Each object comes as (object, status): the status is written through the status subresource.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from propylon.infra.labels import Owner, own_labels, port_name, selector_labels
from propylon.ir.model import GatewayKey, InfraIR, InfraState

PID_ANNOTATION = "propylon.dev/pid"
SUFFIX = "-envoy-"
HASH_CHARS = 5
MAX_NAME = 63  # a Service name is a DNS label


@dataclass(frozen=True)
class Exit:
    """How an Envoy process last ended: when (RFC 3339) and its exit code (128 + the signal for
    one killed by a signal, as a container runtime reports it)."""

    finished_at: str
    exit_code: int


@dataclass(frozen=True)
class Process:
    """The Envoy process of a Gateway: its pid (None while none runs), executable, how many
    times it died and was started again, and how it last ended (None if unknown or never)."""

    pid: int | None
    executable: str
    restarts: int = 0
    last_exit: Exit | None = None


def object_name(key: GatewayKey) -> str:
    """`<gateway>-envoy-<hash>`, the gateway part shortened to fit a DNS label."""
    digest = hashlib.sha256(str(key).encode()).hexdigest()[:HASH_CHARS]
    prefix = key.name.replace(".", "-")[:MAX_NAME - len(SUFFIX) - HASH_CHARS].rstrip("-")
    return f"{prefix}{SUFFIX}{digest}"


def _metadata(ir: InfraIR, owner: Owner, labels: dict[str, str],
              annotations: dict[str, str]) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": object_name(ir.key), "namespace": ir.key.namespace,
        "labels": {**labels, **own_labels(ir.key)},
        "ownerReferences": [owner.reference()]}
    if annotations:
        meta["annotations"] = annotations
    return meta


def _bound_ports(ir: InfraIR, state: InfraState) -> list[tuple[int, int, str]]:
    """(listener port, port really bound, transport) for every listener port and transport;
    unbound ports as themselves."""
    bound = {p.port: p.bind_port for p in state.ports if p.bind_port is not None}
    return [(port, bound.get(port, port), transport) for port, transport in ir.port_transports()]


def pod(ir: InfraIR, state: InfraState, owner: Owner,
        process: Process) -> tuple[dict[str, Any], dict[str, Any]]:
    params = ir.parameters
    annotations = {**dict(ir.annotations), **dict(params.pod_annotations)}
    if process.pid is not None:
        annotations[PID_ANNOTATION] = str(process.pid)
    obj = {"apiVersion": "v1", "kind": "Pod",
           "metadata": _metadata(ir, owner, {**dict(ir.labels), **dict(params.pod_labels)},
                                 annotations),
           "spec": {"containers": [{
               "name": "envoy", "image": process.executable,
               "ports": [{"name": port_name(port, transport), "containerPort": bind,
                          "protocol": transport}
                         for port, bind, transport in _bound_ports(ir, state)]}]}}
    ready = "True" if state.ready else "False"
    conditions = [{"type": kind, "status": ready} for kind in ("Ready", "ContainersReady")]
    if not state.ready:
        for condition in conditions:
            condition.update(reason="ContainersNotReady", message=state.message or "not ready")
    status: dict[str, Any] = {"phase": "Running" if process.pid is not None else "Pending",
                              "conditions": conditions,
                              "containerStatuses": [_container_status(state, process)]}
    if state.address:
        status.update(podIP=state.address, podIPs=[{"ip": state.address}])
    return obj, status


def _container_status(state: InfraState, process: Process) -> dict[str, Any]:
    """The Envoy as a kubelet reports a container, so `kubectl get pods` shows READY 1/1 and
    RESTARTS as on a cluster."""
    status: dict[str, Any] = {
        "name": "envoy", "image": process.executable, "imageID": "", "ready": state.ready,
        "started": process.pid is not None, "restartCount": process.restarts,
        "state": ({"running": {}} if process.pid is not None
                  else {"waiting": {"reason": "ContainerCreating"}})}
    if process.last_exit is not None:
        status["lastState"] = {"terminated": {"exitCode": process.last_exit.exit_code,
                                              "finishedAt": process.last_exit.finished_at}}
    return status


def service(ir: InfraIR, state: InfraState,
            owner: Owner) -> tuple[dict[str, Any], dict[str, Any]]:
    obj = {"apiVersion": "v1", "kind": "Service",
           "metadata": _metadata(ir, owner, dict(ir.labels), dict(ir.annotations)),
           "spec": {"type": "LoadBalancer", "selector": selector_labels(ir.key),
                    "ports": [{"name": port_name(port, transport), "port": port,
                               "targetPort": bind, "protocol": transport}
                              for port, bind, transport in _bound_ports(ir, state)]}}
    ingress = [{"ip": state.address}] if state.address else []
    return obj, {"loadBalancer": {"ingress": ingress} if ingress else {}}


def host_objects(ir: InfraIR, state: InfraState, owner: Owner,
                 process: Process) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The Pod and (with at least one listener) the Service, each with its status."""
    objects = [pod(ir, state, owner, process)]
    if ir.listeners:
        objects.append(service(ir, state, owner))
    return objects
