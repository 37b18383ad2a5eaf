"""The built-in kinds' `kubectl get` columns, computed as kube-apiserver's printers compute them.

kube-apiserver does not print Pods, Services or Deployments from JSONPath columns: each built-in
kind has a printer (kubernetes/pkg/printers/internalversion/printers.go) that derives its cells
from the whole object: a Pod's READY "1/2" and STATUS from its container statuses, RESTARTS with
"(5m ago)", a Service's EXTERNAL-IP `<none>` / `<pending>` / the load balancer's addresses and
PORT(S) "80:31234/TCP,443/TCP". Each `Printer` here is one of those: its column definitions (Name
included, not always first: an Event's is last) and a function computing one object's cells.
The server always prints the wide cells, as kube-apiserver does; kubectl drops the columns of
`priority` 1 unless asked for `-o wide`. A kind with no printer here (the CRDs) keeps its JSONPath
columns (`table.py`).

Ages are Kubernetes' `duration.HumanDuration` of the time since a timestamp ("5m", "329d");
`<unknown>` when the timestamp is missing, as `translateTimestampSince` prints it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class Column:
    """One TableColumnDefinition of a built-in printer."""

    name: str
    description: str
    priority: int = 0
    type: str = "string"
    format: str = ""

    def definition(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": self.description, "priority": self.priority}


@dataclass(frozen=True)
class Printer:
    """A built-in kind's columns and the function computing one object's cells (wide ones
    included) at `now`; `conditions` gives the row's conditions (a finished Pod's)."""

    columns: tuple[Column, ...]
    cells: Callable[[Obj, datetime], list[Any]]
    conditions: Callable[[Obj], list[dict[str, str]]] | None = None


# -- durations and small formatters (apimachinery's duration, labels and selectors) -------------


def human_duration(seconds: float) -> str:
    """A duration as kubectl prints ages (Kubernetes' `duration.HumanDuration`)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def parse_time(timestamp: Any) -> datetime | None:
    """An RFC 3339 timestamp (`2026-01-01T00:00:00Z`, micro-times too); None if not one."""
    if not isinstance(timestamp, str) or not timestamp:
        return None
    try:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None


def age(timestamp: Any, now: datetime) -> str | None:
    """The humanised time since `timestamp`; None when it is not a timestamp."""
    then = parse_time(timestamp)
    return None if then is None else human_duration((now - then).total_seconds())


def _since(timestamp: Any, now: datetime) -> str:
    return age(timestamp, now) or "<unknown>"


def _created(obj: Obj, now: datetime) -> str:
    return _since(_meta(obj).get("creationTimestamp"), now)


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def _status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def format_labels(labels: Any) -> str:
    """labels.FormatLabels: `k=v,k2=v2` sorted by key, `<none>` when empty."""
    if not isinstance(labels, dict) or not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def format_selector(selector: Any) -> str:
    """A LabelSelector as `metav1.LabelSelectorAsSelector(...).String()`: requirements sorted by
    key (`k=v`, `k in (a,b)`, `k notin (a)`, `k`, `!k`); `<invalid>` for a malformed one."""
    if not isinstance(selector, dict):
        return ""
    requirements: list[tuple[str, str]] = [
        (str(k), f"{k}={v}") for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        key, op = str(expr.get("key", "")), expr.get("operator")
        values = sorted(str(v) for v in expr.get("values") or [])
        if op in ("In", "NotIn") and values:
            requirements.append((key, f"{key} {op.lower()} ({','.join(values)})"))
        elif op == "Exists" and not values:
            requirements.append((key, key))
        elif op == "DoesNotExist" and not values:
            requirements.append((key, f"!{key}"))
        else:
            return "<invalid>"
    return ",".join(text for _, text in sorted(requirements, key=lambda r: r[0]))


def _list_with_more(items: Iterable[str], limit: int = 3) -> str:
    """The first `limit` items joined by commas, then ` + N more...`; `<unset>` when none."""
    items = list(items)
    text = ",".join(items[:limit])
    if len(items) > limit:
        return f"{text} + {len(items) - limit} more..."
    return text or "<unset>"


def _containers(obj: Obj) -> tuple[str, str]:
    """layoutContainerCells: the template's container names and images, comma-separated."""
    template = (_spec(obj).get("template") or {}).get("spec") or {}
    containers = [c for c in template.get("containers") or [] if isinstance(c, dict)]
    return (",".join(str(c.get("name", "")) for c in containers),
            ",".join(str(c.get("image", "")) for c in containers))


# -- Pod ----------------------------------------------------------------------------------------


def _condition_true(conditions: Any, type_: str) -> bool:
    return any(c.get("type") == type_ and c.get("status") == "True"
               for c in conditions or [] if isinstance(c, dict))


def _finished_at(container: Obj) -> datetime | None:
    terminated = (container.get("lastState") or {}).get("terminated") or {}
    return parse_time(terminated.get("finishedAt"))


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None or (b is not None and b > a) else a


def _terminated_reason(terminated: Obj, prefix: str = "") -> str:
    if terminated.get("reason"):
        return prefix + str(terminated["reason"])
    if terminated.get("signal"):
        return f"{prefix}Signal:{terminated['signal']}"
    return f"{prefix}ExitCode:{terminated.get('exitCode', 0)}"


def _pod_cells(pod: Obj, now: datetime) -> list[Any]:
    """printPod: READY, STATUS (the reason the printer derives), RESTARTS, AGE, then wide IP,
    NODE, NOMINATED NODE and READINESS GATES."""
    spec, status = _spec(pod), _status(pod)
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or [] if isinstance(c, dict)}
    sidecars = {n for n, c in init_specs.items() if c.get("restartPolicy") == "Always"}
    total = len(spec.get("containers") or []) + len(sidecars)
    ready = restarts = sidecar_restarts = 0
    last_restart: datetime | None = None
    last_sidecar_restart: datetime | None = None
    phase = str(status.get("phase") or "")
    reason = str(status.get("reason") or phase)
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated"
           for c in status.get("conditions") or [] if isinstance(c, dict)):
        reason = "SchedulingGated"

    init_statuses = [c for c in status.get("initContainerStatuses") or [] if isinstance(c, dict)]
    initializing = False
    for i, container in enumerate(init_statuses):
        restarts += int(container.get("restartCount") or 0)
        last_restart = _later(last_restart, _finished_at(container))
        sidecar = container.get("name") in sidecars
        if sidecar:
            sidecar_restarts += int(container.get("restartCount") or 0)
            last_sidecar_restart = _later(last_sidecar_restart, _finished_at(container))
        state = container.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and int(terminated.get("exitCode") or 0) == 0:
            continue
        if sidecar and container.get("started"):
            ready += 1 if container.get("ready") else 0
            continue
        if terminated is not None:
            reason = _terminated_reason(terminated, "Init:")
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = f"Init:{waiting['reason']}"
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(status.get("conditions"), "Initialized"):
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        for container in reversed([c for c in status.get("containerStatuses") or []
                                   if isinstance(c, dict)]):
            restarts += int(container.get("restartCount") or 0)
            last_restart = _later(last_restart, _finished_at(container))
            state = container.get("state") or {}
            waiting, terminated = state.get("waiting") or {}, state.get("terminated")
            if waiting.get("reason"):
                reason = str(waiting["reason"])
            elif terminated is not None:
                reason = _terminated_reason(terminated)
            elif container.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status.get("conditions"), "Ready") else "NotReady"

    if _meta(pod).get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"

    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration((now - last_restart).total_seconds())} ago)"

    pod_ips = status.get("podIPs") or []
    pod_ip = (pod_ips[0].get("ip") if pod_ips and isinstance(pod_ips[0], dict)
              else status.get("podIP")) or "<none>"
    gates = [g.get("conditionType") for g in spec.get("readinessGates") or [] if isinstance(g, dict)]
    gates_text = "<none>"
    if gates:
        by_type: dict[Any, Any] = {}
        for c in status.get("conditions") or []:
            if isinstance(c, dict):
                by_type.setdefault(c.get("type"), c.get("status"))
        gates_text = f"{sum(1 for g in gates if by_type.get(g) == 'True')}/{len(gates)}"
    return [_meta(pod).get("name"), f"{ready}/{total}", reason, restarts_text, _created(pod, now),
            pod_ip, spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>",
            gates_text]


def _pod_conditions(pod: Obj) -> list[dict[str, str]]:
    phase = _status(pod).get("phase")
    if phase == "Succeeded":
        return [{"type": "Completed", "status": "True", "reason": "Succeeded",
                 "message": "The pod has completed successfully."}]
    if phase == "Failed":
        return [{"type": "Completed", "status": "True", "reason": "Failed",
                 "message": "The pod failed."}]
    return []


# -- Service ------------------------------------------------------------------------------------


def _external_ip(service: Obj) -> str:
    """getServiceExternalIP, as the server prints it (wide: never cut)."""
    spec = _spec(service)
    external = [str(ip) for ip in spec.get("externalIPs") or []]
    kind = spec.get("type")
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if kind == "LoadBalancer":
        ingress = ((_status(service).get("loadBalancer") or {}).get("ingress")) or []
        balancer = sorted({str(i.get("ip") or i.get("hostname")) for i in ingress
                           if isinstance(i, dict) and (i.get("ip") or i.get("hostname"))})
        return ",".join(balancer + external) or "<pending>"
    if kind == "ExternalName":
        return str(spec.get("externalName") or "")
    return "<unknown>"


def _ports(service: Obj) -> str:
    """makePortString: `80/TCP`, `80:31234/TCP` with a node port; `<none>` when none."""
    pieces = []
    for port in _spec(service).get("ports") or []:
        node_port = f":{port['nodePort']}" if port.get("nodePort") else ""
        pieces.append(f"{port.get('port')}{node_port}/{port.get('protocol') or 'TCP'}")
    return ",".join(pieces) or "<none>"


def _service_cells(service: Obj, now: datetime) -> list[Any]:
    spec = _spec(service)
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [_meta(service).get("name"), spec.get("type") or "", cluster_ips[0] if cluster_ips
            else "<none>", _external_ip(service), _ports(service), _created(service, now),
            format_labels(spec.get("selector"))]


# -- Deployment, EndpointSlice and the simple kinds -----------------------------------------------


def _deployment_cells(deployment: Obj, now: datetime) -> list[Any]:
    spec, status = _spec(deployment), _status(deployment)
    desired = spec.get("replicas", 1)  # what defaulting sets on a cluster when it is left out
    names, images = _containers(deployment)
    return [_meta(deployment).get("name"), f"{status.get('readyReplicas') or 0}/{desired}",
            int(status.get("updatedReplicas") or 0), int(status.get("availableReplicas") or 0),
            _created(deployment, now), names, images, format_selector(spec.get("selector"))]


def _endpointslice_cells(slice_: Obj, now: datetime) -> list[Any]:
    ports = [str(p["port"]) if p.get("port") is not None else (p.get("name") or "*")
             for p in slice_.get("ports") or [] if isinstance(p, dict)]
    addresses = [str(a) for e in slice_.get("endpoints") or [] if isinstance(e, dict)
                 for a in e.get("addresses") or []]
    return [_meta(slice_).get("name"), slice_.get("addressType") or "", _list_with_more(ports),
            _list_with_more(addresses), _created(slice_, now)]


def _event_cells(event: Obj, now: datetime) -> list[Any]:
    """printEvent (wide): LAST SEEN, TYPE, REASON, OBJECT, SUBOBJECT, SOURCE, MESSAGE,
    FIRST SEEN, COUNT, NAME."""
    first = (_since(event["firstTimestamp"], now) if event.get("firstTimestamp")
             else _since(event.get("eventTime"), now))
    last = _since(event["lastTimestamp"], now) if event.get("lastTimestamp") else first
    count = event.get("count") or 1  # singleton events of the new API have no count
    if event.get("series"):
        last = _since(event["series"].get("lastObservedTime"), now)
        count = event["series"].get("count") or 0
    involved = event.get("involvedObject") or {}
    kind = str(involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = event.get("source") or {}
    component = source.get("component") or event.get("reportingComponent") or ""
    instance = source.get("host") or event.get("reportingInstance") or ""
    return [last, event.get("type") or "", event.get("reason") or "", target,
            involved.get("fieldPath") or "", f"{component}, {instance}" if instance else component,
            str(event.get("message") or "").strip(), first, int(count), _meta(event).get("name")]


def _ingress_cells(ingress: Obj, now: datetime) -> list[Any]:
    """printIngress: NAME, CLASS, HOSTS, ADDRESS, PORTS, AGE."""
    spec = _spec(ingress)
    hosts = [str(r.get("host") or "*") for r in spec.get("rules") or [] if isinstance(r, dict)]
    balancer = (_status(ingress).get("loadBalancer") or {}).get("ingress") or []
    addresses = [str(i.get("ip") or i.get("hostname")) for i in balancer if isinstance(i, dict)]
    return [_meta(ingress).get("name"), spec.get("ingressClassName") or "<none>",
            _list_with_more(hosts, 4) if hosts else "*", ",".join(addresses),
            "80, 443" if spec.get("tls") else "80", _created(ingress, now)]


NAME = Column("Name", "Name must be unique within a namespace.", format="name")
AGE = Column("Age", "CreationTimestamp is a timestamp representing the server time when this "
                    "object was created.")
_TEMPLATE_COLUMNS = (
    Column("Containers", "Names of each container in the template.", 1),
    Column("Images", "Images referenced by each container in the template.", 1),
)


def _simple(*middle: tuple[Column, Callable[[Obj], Any]]) -> Printer:
    """A printer of NAME, the given columns, AGE."""
    return Printer((NAME, *(c for c, _ in middle), AGE),
                   lambda obj, now: [_meta(obj).get("name"), *(f(obj) for _, f in middle),
                                     _created(obj, now)])


PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "Pod"): Printer((
        NAME,
        Column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
        Column("Status", "The aggregate status of the containers in this pod."),
        Column("Restarts", "The number of times the containers in this pod have been restarted "
                           "and when the last container in this pod has restarted."),
        AGE,
        Column("IP", "IP address allocated to the pod.", 1),
        Column("Node", "The node the pod is scheduled onto.", 1),
        Column("Nominated Node", "The node the scheduler nominated for the pod.", 1),
        Column("Readiness Gates", "Pod readiness gates that are True, of all.", 1),
    ), _pod_cells, _pod_conditions),
    ("", "Service"): Printer((
        NAME,
        Column("Type", "How the Service is exposed."),
        Column("Cluster-IP", "The IP address of the service inside the cluster."),
        Column("External-IP", "The addresses the service is reachable at from outside."),
        Column("Port(s)", "The ports that are exposed by this service."),
        AGE,
        Column("Selector", "The labels of the pods the service routes to.", 1),
    ), _service_cells),
    ("apps", "Deployment"): Printer((
        NAME,
        Column("Ready", "Number of the pod with ready state"),
        Column("Up-to-date", "Total number of non-terminated pods targeted by this deployment "
                             "that have the desired template spec."),
        Column("Available", "Total number of available pods targeted by this deployment."),
        AGE, *_TEMPLATE_COLUMNS,
        Column("Selector", "Label selector for pods.", 1),
    ), _deployment_cells),
    ("discovery.k8s.io", "EndpointSlice"): Printer((
        NAME,
        Column("AddressType", "The type of address carried by this EndpointSlice."),
        Column("Ports", "The network ports exposed by each endpoint."),
        Column("Endpoints", "The addresses of the endpoints."),
        AGE,
    ), _endpointslice_cells),
    ("", "Event"): Printer((
        Column("Last Seen", "The time at which the most recent occurrence of this event was "
                            "recorded."),
        Column("Type", "Type of this event (Normal, Warning)."),
        Column("Reason", "Why the action was taken."),
        Column("Object", "The object that this event is about."),
        Column("Subobject", "The part of the object the event is about.", 1),
        Column("Source", "The component reporting this event.", 1),
        Column("Message", "A human-readable description of the status of this operation."),
        Column("First Seen", "The time at which the event was first recorded.", 1),
        Column("Count", "The number of times this event has occurred.", 1),
        Column("Name", NAME.description, 1, format="name"),
    ), _event_cells),
    ("", "Secret"): _simple(
        (Column("Type", "Used to facilitate programmatic handling of secret data."),
         lambda o: o.get("type") or ""),
        (Column("Data", "The number of data keys."), lambda o: len(o.get("data") or {}))),
    ("", "ConfigMap"): _simple(
        (Column("Data", "The number of data and binaryData keys."),
         lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}))),
    ("", "Namespace"): _simple(
        (Column("Status", "The status of the namespace"),
         lambda o: _status(o).get("phase") or "")),
    ("", "ServiceAccount"): _simple(
        (Column("Secrets", "The number of secrets the service account lists."),
         lambda o: len(o.get("secrets") or []))),
    ("networking.k8s.io", "Ingress"): Printer((
        NAME,
        Column("Class", "The name of the IngressClass resource."),
        Column("Hosts", "Hosts that incoming requests are matched against."),
        Column("Address", "Address is a list containing ingress points for the load-balancer."),
        Column("Ports", "Ports of TLS configurations that open."),
        AGE,
    ), _ingress_cells),
    ("networking.k8s.io", "IngressClass"): _simple(
        (Column("Controller", "Controller that is responsible for handling this class."),
         lambda o: _spec(o).get("controller") or "")),
    ("coordination.k8s.io", "Lease"): _simple(
        (Column("Holder", "The holder of the lease."),
         lambda o: _spec(o).get("holderIdentity") or "")),
    ("policy", "PodDisruptionBudget"): _simple(
        (Column("Min Available", "The minimum number of pods that must be available."),
         lambda o: _spec(o).get("minAvailable", "N/A")),
        (Column("Max Unavailable", "The maximum number of pods that may be unavailable."),
         lambda o: _spec(o).get("maxUnavailable", "N/A")),
        (Column("Allowed Disruptions", "Number of pod disruptions that are allowed."),
         lambda o: _status(o).get("disruptionsAllowed", 0))),
    ("autoscaling", "HorizontalPodAutoscaler"): _simple(
        (Column("Reference", "The reference to the scaled resource."),
         lambda o: "{kind}/{name}".format(**{"kind": "", "name": "",
                                             **(_spec(o).get("scaleTargetRef") or {})})),
        (Column("MinPods", "The lower limit of replicas."),
         lambda o: _spec(o).get("minReplicas", "<unset>")),
        (Column("MaxPods", "The upper limit of replicas."),
         lambda o: _spec(o).get("maxReplicas", "")),
        (Column("Replicas", "The current number of replicas."),
         lambda o: _status(o).get("currentReplicas", 0))),
}


def printer_for(group: str, kind: str) -> Printer | None:
    """The built-in printer of a kind; None for kinds printed from JSONPath columns."""
    return PRINTERS.get((group, kind))
