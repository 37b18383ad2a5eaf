"""`KubernetesInfra`: the infrastructure manager of Kubernetes mode, Envoy Deployments per Gateway.

For every wanted Gateway (`apply`) it server-side applies, through the `KubeClient`, the objects
`resources.gateway_objects()` describes (ServiceAccount, ConfigMap with the bootstrap,
Deployment, PodDisruptionBudget, HorizontalPodAutoscaler when asked for, LoadBalancer Service),
owned by the Gateway, whose uid it reads once. Before the first apply of a Gateway (per
leadership, and after a failure), and when its Deployment or Service went missing from the
informers (deleted, or replaced by one without Propylon's labels), each object is read: one of
that name that someone else made (`ownership.foreign`) is not applied over, nor is it ever
deleted; the Gateway then applies nothing and its status names the object and the fix.
Objects are applied again only when what they should be changes, or when the Deployment or Service disappeared; an HPA no longer asked for is
deleted. A Gateway no longer wanted loses its objects only when it is gone or names another
class than the one its Deployment records (`CLASS_ANNOTATION`); one that stops being Accepted
(translation fails, its parameters are missing) keeps its Deployment, Service and address, as
Envoy Gateway does, and its status says why. On the first `apply` the same rule applies to
objects a previous controller left (found by the `app.kubernetes.io/managed-by` label).

Two informers (Deployments and Services of every namespace, only those with Propylon's proxy
labels `COMPONENT_LABELS`: a label selector, so the cache holds none of the cluster's others)
feed `states()`:
- `address`: the Service's `status.loadBalancer.ingress[0]` (ip, else hostname), else the first
  of the Gateway's `spec.addresses` (set as the Service's externalIPs), else, for a Service of
  type ClusterIP or NodePort (GatewayParameters `serviceType`), its `spec.clusterIP`;
- `ready`: the Deployment has at least one ready replica (a proxy pod is ready only once its
  Envoy holds the Gateway's configuration, see `lifecycle`);
- `ports`: each listener port with the container port it is served on (privileged ports moved up
  by the offset), and `bind_address` (0.0.0.0: Envoy binds in the pod, not on the load
  balancer's address);
- `message`: what the Gateway waits for (the Service, its load-balancer address, ready replicas,
  with the Deployment's failure conditions such as FailedCreate and their message) or why
  applying failed (retried every `retry_s`).
Subscribers are called whenever `states()` changes.

Only the leader writes (`set_leader()`, driven by the controller's leader election; a single
controller is always the leader): a replica that does not lead still watches Deployments and
Services, so its `states()` (and the xDS configuration translated from them) match the
leader's. A replica that becomes leader forgets what it applied before and converges every
Gateway again, the cleanup of leftovers included.

With `certs` (a `CaBundle`, the controller's `CertManager`) the proxies reach xDS over mutual
TLS: each Gateway's ConfigMap carries the CA bundle (asked of `certs` on every pass, so a
published CA reaches the proxies), and its pods obtain their client certificate themselves
with their ServiceAccount token (`agent`, `controller.issuer`): the controller writes no Secret.
`gateway_of()` tells the certificate endpoint which Gateway's proxies run as a ServiceAccount.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from propylon.api.kinds import KindInfo, by_kind
from propylon.client import KubeClient, KubeError, resource_class
from propylon.informer import Informer
from propylon.infra.kubernetes.ownership import foreign
from propylon.infra.kubernetes.resources import (
    CLASS_ANNOTATION,
    ProxyOptions,
    container_port,
    gateway_objects,
    object_name,
)
from propylon.infra.labels import COMPONENT_LABELS, NAME_LABEL, NAMESPACE_LABEL
from propylon.infra.owners import GatewayOwners
from propylon.infra.subscribers import Subscribers
from propylon.ir.model import GatewayKey, InfraIR, InfraState, PortState

log = logging.getLogger(__name__)

FIELD_MANAGER = "propylon"
GATEWAY = by_kind("Gateway")
DEPLOYMENT = by_kind("Deployment")
SERVICE = by_kind("Service")
AUTOSCALER = by_kind("HorizontalPodAutoscaler")
OWNED_KINDS = (by_kind("ServiceAccount"), by_kind("ConfigMap"), DEPLOYMENT,
               by_kind("PodDisruptionBudget"), AUTOSCALER, SERVICE)


class CaBundle(Protocol):
    """The xDS CA bundle proxies trust (`controller.certs.CertManager`)."""

    @property
    def bundle(self) -> bytes: ...


def lb_address(service: dict[str, Any] | None) -> str | None:
    """The first load-balancer ingress of a Service: its ip, else its hostname."""
    ingress = (((service or {}).get("status") or {}).get("loadBalancer") or {}).get("ingress")
    for entry in ingress or []:
        value = entry.get("ip") or entry.get("hostname")
        if value:
            return str(value)
    return None


def cluster_ip(service: dict[str, Any] | None) -> str | None:
    """The clusterIP of a Service that is not of type LoadBalancer (its address then)."""
    spec = (service or {}).get("spec") or {}
    if spec.get("type", "ClusterIP") == "LoadBalancer" or spec.get("clusterIP") in (None, "None"):
        return None
    return str(spec["clusterIP"])


def ready_replicas(deployment: dict[str, Any] | None) -> int:
    return int(((deployment or {}).get("status") or {}).get("readyReplicas") or 0)


def pod_failures(deployment: dict[str, Any]) -> list[str]:
    """Why the Deployment's pods are not running, from its conditions (ReplicaFailure, such as
    FailedCreate with the ReplicaSet's message; Progressing False)."""
    out = []
    for cond in (deployment.get("status") or {}).get("conditions") or []:
        failing = (cond.get("type") == "ReplicaFailure" and cond.get("status") == "True") or \
            (cond.get("type") == "Progressing" and cond.get("status") == "False")
        if failing:
            out.append(f"{cond.get('reason') or cond['type']}: {cond.get('message') or ''}"
                       .rstrip(": "))
    return out


class KubernetesInfra:
    """Provisions Envoy per Gateway in the cluster; implements `propylon.infra.InfraManager`."""

    def __init__(self, client: KubeClient, xds_host: str, xds_port: int,
                 options: ProxyOptions | None = None, *, bind_address: str = "0.0.0.0",
                 retry_s: float = 2.0, certs: CaBundle | None = None) -> None:
        self._client = client
        self._certs = certs
        self._bind_address = bind_address
        self._xds_host = xds_host
        self._xds_port = xds_port
        self._options = options or ProxyOptions()
        self._retry_s = retry_s
        self._informers = {info.kind: Informer(client, info, self._publish,
                                               labels=COMPONENT_LABELS)
                           for info in (DEPLOYMENT, SERVICE)}
        self._tasks: list[asyncio.Task[None]] = []
        self._wanted: dict[GatewayKey, InfraIR] = {}
        self._synced = False  # `apply` ran once: `_wanted` is the cluster's
        self._owners = GatewayOwners(client)
        self._applied: dict[GatewayKey, list[dict[str, Any]]] = {}
        self._errors: dict[GatewayKey, str] = {}
        self._subscribers = Subscribers()
        self._first_apply = True
        self._kept: set[GatewayKey] = set()
        self._leader = True
        self._retry: asyncio.TimerHandle | None = None

    # -- InfraManager -------------------------------------------------------------------------

    async def apply(self, wanted: Mapping[GatewayKey, InfraIR]) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(inf.run(), name=f"infra-informer-{kind}")
                           for kind, inf in self._informers.items()]
        for inf in self._informers.values():
            await inf.synced.wait()
        self._wanted = dict(wanted)
        self._synced = True
        if not self._leader:
            self._publish()
            return
        unwanted = (set(self._applied) | self._kept) - set(wanted)
        if self._first_apply:
            self._first_apply = False
            unwanted |= self._managed_keys() - set(wanted)
        for key in sorted(unwanted):
            await self._release(key)
        for key in sorted(wanted):
            await self._converge(key, wanted[key])
        self._publish()

    def states(self) -> Mapping[GatewayKey, InfraState]:
        return {key: self._state(key, ir) for key, ir in sorted(self._wanted.items())}

    def subscribe(self, callback: Callable[[], None]) -> None:
        self._subscribers.add(callback)

    def set_leader(self, leading: bool) -> None:
        """Start or stop writing to the cluster (see the module docstring)."""
        self._leader = leading
        if leading:
            self._applied.clear()
            self._kept.clear()
            self._first_apply = True
        self._subscribers.notify()

    @property
    def informers(self) -> Mapping[str, Informer]:
        """The Deployment and Service informers, by kind (for metrics)."""
        return self._informers

    def refresh(self) -> None:
        """Ask for another pass (the CA bundle may have changed)."""
        self._subscribers.notify()

    def gateway_of(self, namespace: str, service_account: str) -> GatewayKey | None:
        """The wanted Gateway whose proxies run as that ServiceAccount (`object_name`)."""
        return next((key for key in self._wanted if key.namespace == namespace
                     and object_name(key) == service_account), None)

    @property
    def synced(self) -> bool:
        return self._synced

    async def close(self, stop_proxies: bool = True) -> None:
        """Stop watching. The proxies are cluster objects: they always keep running, owned by
        their Gateways, whatever `stop_proxies` says."""
        if self._retry is not None:
            self._retry.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    # -- convergence --------------------------------------------------------------------------

    async def _converge(self, key: GatewayKey, ir: InfraIR) -> None:
        try:
            owner = await self._owners.get(key)
            if owner is None:
                return  # the Gateway was deleted meanwhile; the next pass drops it
            bundle = None if self._certs is None else self._certs.bundle.decode()
            objects = gateway_objects(ir, owner, self._xds_host, self._xds_port, self._options,
                                      bundle)
            present = self._present(key)
            if self._applied.get(key) == objects and present:
                return
            refusals = [] if key in self._applied and present else [
                why for obj in objects
                if (why := await self._foreign(_info(obj), key, obj["metadata"]["name"]))]
            if refusals:
                self._fail(key, "; ".join(refusals))
                return
            for obj in objects:
                res = resource_class(_info(obj))
                await self._client.apply(res(obj), field_manager=FIELD_MANAGER, force=True)
            if ir.parameters.autoscaling is None:
                await self._delete_owned(AUTOSCALER, key, object_name(key))
            self._applied[key] = objects
            self._kept.discard(key)
            self._errors.pop(key, None)
            log.info("proxy objects applied gateway=%s name=%s", key, object_name(key))
        except KubeError as err:
            self._fail(key, f"applying the proxy objects failed: {err.message}")
        except OSError as err:
            self._fail(key, f"applying the proxy objects failed: {err}")

    def _present(self, key: GatewayKey) -> bool:
        name = object_name(key)
        return all(inf.get(key.namespace, name) is not None for inf in self._informers.values())

    def _fail(self, key: GatewayKey, message: str) -> None:
        log.warning("gateway=%s %s; retrying in %.1fs", key, message, self._retry_s)
        self._errors[key] = message
        self._applied.pop(key, None)
        if self._retry is None:
            self._retry = asyncio.get_running_loop().call_later(self._retry_s, self._call_again)

    def _call_again(self) -> None:
        self._retry = None
        self._subscribers.notify()

    async def _release(self, key: GatewayKey) -> None:
        """Delete the objects of a Gateway no longer wanted only when it is gone or moved to
        another class: one that stops being Accepted keeps its proxies and address."""
        deployment = self._informers["Deployment"].get(key.namespace, object_name(key))
        recorded = ((deployment or {}).get("metadata", {}).get("annotations") or {}).get(
            CLASS_ANNOTATION)
        try:
            gateway = await self._client.get(resource_class(GATEWAY), key.name,
                                             namespace=key.namespace)
        except KubeError as err:
            if err.code != 404:  # decide on a later pass; keep meanwhile
                log.warning("gateway=%s reading it failed: %s", key, err.message)
                self._kept.add(key)
                return
            gateway = None
        class_name = ((dict(gateway).get("spec") or {}).get("gatewayClassName")
                      if gateway is not None else None)
        if gateway is None or (recorded is not None and class_name != recorded):
            self._kept.discard(key)
            await self._delete(key)
        elif key not in self._kept:
            self._kept.add(key)
            self._applied.pop(key, None)
            log.info("gateway=%s is not accepted: its proxy objects are kept", key)

    async def _foreign(self, info: KindInfo, key: GatewayKey, name: str) -> str | None:
        """Why the existing object of that kind and name is not Gateway `key`'s (`ownership`),
        or None when it is, or does not exist."""
        try:
            existing = await self._client.get(resource_class(info), name, namespace=key.namespace)
        except KubeError as err:
            if err.code == 404:
                return None
            raise
        return foreign(dict(existing), key)

    async def _delete_owned(self, info: KindInfo, key: GatewayKey, name: str) -> None:
        """Delete the object of that kind and name unless someone else made it."""
        with contextlib.suppress(KubeError):
            if (why := await self._foreign(info, key, name)) is not None:
                log.warning("gateway=%s not deleting: %s", key, why)
                return
            await self._client.delete(resource_class(info), name, namespace=key.namespace)

    async def _delete(self, key: GatewayKey) -> None:
        name = object_name(key)
        for info in reversed(OWNED_KINDS):
            await self._delete_owned(info, key, name)
        self._applied.pop(key, None)
        self._owners.forget(key)
        self._errors.pop(key, None)
        log.info("proxy objects deleted gateway=%s name=%s", key, name)

    def _managed_keys(self) -> set[GatewayKey]:
        keys = set()
        for obj in self._informers["Deployment"].objects():
            labels = obj.get("metadata", {}).get("labels") or {}  # COMPONENT_LABELS: selected
            if NAME_LABEL in labels and NAMESPACE_LABEL in labels:
                keys.add(GatewayKey(labels[NAMESPACE_LABEL], labels[NAME_LABEL]))
        return keys

    # -- state --------------------------------------------------------------------------------

    def _state(self, key: GatewayKey, ir: InfraIR) -> InfraState:
        name = object_name(key)
        where = f"{key.namespace}/{name}"
        service = self._informers["Service"].get(key.namespace, name)
        deployment = self._informers["Deployment"].get(key.namespace, name)
        address = lb_address(service) or (ir.requested_addresses[0]
                                          if service is not None and ir.requested_addresses
                                          else None) or cluster_ip(service)
        ready = ready_replicas(deployment)
        messages = []
        if key in self._errors:
            messages.append(self._errors[key])
        if service is None:
            messages.append(f"waiting for Service {where} to be created")
        elif address is None:
            messages.append(f"waiting for the load balancer to assign an address to Service "
                            f"{where} (status.loadBalancer.ingress is empty)")
        if deployment is None:
            messages.append(f"waiting for Deployment {where} to be created")
        elif not ready:
            wanted = (deployment.get("spec") or {}).get("replicas", 1)
            messages.append(f"waiting for Deployment {where}: 0 of {wanted} replicas ready "
                            "(a replica is ready once its Envoy holds the configuration)")
            messages.extend(pod_failures(deployment))
        offset, reserved = self._options.privileged_port_offset, self._options.ports.reserved()
        ports = tuple(PortState(p, container_port(p, offset))
                      if p not in reserved or "TCP" not in ir.transports(p) else
                      PortState(p, None, f"the proxy pod serves {reserved[p]} on port {p}; "
                                         "use another port")
                      for p in sorted({li.port for li in ir.listeners}))
        return InfraState(key, address, ports, ready=ready > 0 and address is not None,
                          message="; ".join(messages), bind_address=self._bind_address)

    def _publish(self) -> None:
        self._subscribers.publish(self.states())


def _info(obj: dict[str, Any]) -> KindInfo:
    group = obj["apiVersion"].rpartition("/")[0]
    return by_kind(obj["kind"], group)
