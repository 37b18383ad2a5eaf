"""Serving Ingress objects: the conversion's output joins the translator's input, as if applied.

`translate(snapshot, memo)` is the controller's translation when it serves Ingress objects: the
Gateway API translation (`propylon.translate.translate`) between two pure stages.

1. `served(snapshot, settings)`: runs `convert` over the snapshot's Ingress and IngressClass
   objects, the data of the ingress-nginx ConfigMap the settings name (as the conversion's
   config: no other ConfigMap counts as ingress-nginx's by its name), the other ConfigMaps
   (those annotations name) and the Services and Secrets (the
   same conversion `propylon migrate` writes out, so a migrated Ingress and a served one behave
   the same), and returns the snapshot with the conversion's objects added to their kinds (and
   the GatewayClass they name, of this controller, unless one exists), and what it made
   (`Served`). The generated objects are never stored in the API: each gets metadata a stored
   object would have (a `uid` and `resourceVersion` that are a hash of its content,
   `generation` 1), so the translator's memo reuses its work while an Ingress is unchanged and
   redoes it when the conversion's output changes.
2. `statuses(statuses, served)`: drops the statuses computed for generated objects (there is no
   object to write them to) and adds each served Ingress's status: `loadBalancer.ingress` holds
   the addresses of the Gateway serving it once that Gateway is Programmed (Envoy serves its
   listeners), and is empty before.

Ingress has no conditions: what the conversion could not do as ingress-nginx does goes into
`Result.ingress_notes` (`report_lines`), which the controller logs, one line per Ingress and
annotation. `referenced_secrets` names the Opaque Secrets the controller must hand the
conversion (those ingress-nginx annotations name).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from propylon.ingress.convert import CONFIGMAP_NAMES, Conversion, Options, convert
from propylon.ingress.model import PREFIX
from propylon.ingress.report import ReportEntry
from propylon.translate import Memo
from propylon.translate import translate as translate_gateway_api
from propylon.translate.types import IngressSettings, Result, Snapshot, StatusUpdate

INGRESS_API_VERSION = "networking.k8s.io/v1"
Ref = tuple[str, str | None, str]  # kind, namespace, name


@dataclass(frozen=True)
class IngressStatus:
    addresses: tuple[tuple[str, str], ...] = ()  # (Gateway address type, value)

    def to_json(self) -> dict[str, Any]:
        return {"loadBalancer": {"ingress": [
            {"hostname" if kind == "Hostname" else "ip": value} for kind, value in self.addresses]}
            if self.addresses else {}}


@dataclass(frozen=True)
class Served:
    generated: frozenset[Ref] = frozenset()
    # each served Ingress (namespace, name, generation) -> the Gateway (namespace, name)
    gateways: Mapping[tuple[str, str, int], tuple[str, str]] = field(default_factory=dict)
    report: tuple[ReportEntry, ...] = ()


def _ref(obj: Mapping[str, Any]) -> Ref:
    meta = obj.get("metadata") or {}
    return (str(obj.get("kind")), meta.get("namespace"), str(meta.get("name")))


def _stamped(obj: Mapping[str, Any]) -> dict[str, Any]:
    """`obj` with the metadata of a stored object (see the module docstring)."""
    digest = hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()
    return {**obj, "metadata": {**(obj.get("metadata") or {}), "uid": f"ingress-{digest[:32]}",
                                "resourceVersion": digest[:16], "generation": 1}}


def _config(snapshot: Snapshot, settings: IngressSettings) -> dict[str, str]:
    """The data of ingress-nginx's ConfigMap the settings name (whatever its name)."""
    namespace, _, name = settings.configmap.rpartition("/")
    return {str(k): str(v) for c in snapshot.of("ConfigMap") if name
            and _ref(c)[1:] == (namespace or "default", name)
            for k, v in (c.get("data") or {}).items()}


def _gateway_class(snapshot: Snapshot, name: str) -> list[dict[str, Any]]:
    """The GatewayClass the generated Gateways name, of this controller, unless one exists."""
    if any(_ref(c)[2] == name for c in snapshot.of("GatewayClass")):
        return []
    return [{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
             "metadata": {"name": name}, "spec": {"controllerName": snapshot.controller_name}}]


def served(snapshot: Snapshot, settings: IngressSettings) -> tuple[Snapshot, Served]:
    if not snapshot.of("Ingress"):
        return snapshot, Served()
    options = Options(class_names=settings.class_names, config=_config(snapshot, settings))
    # ConfigMaps annotations name (custom-headers); none is taken for ingress-nginx's own by
    # its name: that one is the settings'
    configmaps = [c for c in snapshot.of("ConfigMap") if _ref(c)[2] not in CONFIGMAP_NAMES]
    conversion: Conversion = convert([*snapshot.of("IngressClass"), *snapshot.of("Ingress"),
                                      *snapshot.of("Service"), *snapshot.of("Secret"),
                                      *configmaps], options)
    if not conversion.gateways:
        return snapshot, Served(report=conversion.report)
    added = [_stamped(o) for o in (*_gateway_class(snapshot, options.gateway_class),
                                   *conversion.objects)]
    objects = dict(snapshot.objects)
    for obj in added:
        objects[str(obj["kind"])] = (*objects.get(str(obj["kind"]), ()), obj)
    generations = {f"{ref[1]}/{ref[2]}": int((o.get("metadata") or {}).get("generation") or 0)
                   for o in snapshot.of("Ingress") for ref in [_ref(o)]}
    gateways = {(key.split("/", 1)[0], key.split("/", 1)[1], generations.get(key, 0)): gateway
                for key, gateway in conversion.gateways.items()}
    return replace(snapshot, objects=objects), Served(
        frozenset(_ref(o) for o in added), gateways, conversion.report)


def statuses(updates: Sequence[StatusUpdate], served: Served) -> list[StatusUpdate]:
    if not served.gateways and not served.generated:
        return list(updates)
    programmed: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {}
    kept = []
    for update in updates:
        ref = (update.kind, update.namespace, update.name)
        if update.kind == "Gateway" and update.namespace is not None:
            status = update.status.to_json()
            ok = any(c.get("type") == "Programmed" and c.get("status") == "True"
                     for c in status.get("conditions") or [])
            programmed[(update.namespace, update.name)] = tuple(
                (str(a.get("type", "IPAddress")), str(a["value"]))
                for a in status.get("addresses") or []) if ok else ()
        if ref not in served.generated:
            kept.append(update)
    for (namespace, name, generation), gateway in sorted(served.gateways.items()):
        kept.append(StatusUpdate(INGRESS_API_VERSION, "Ingress", namespace, name, generation,
                                 IngressStatus(programmed.get(gateway, ()))))
    return kept


def referenced_secrets(ingresses: Sequence[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """(namespace, name) of every Secret an ingress-nginx annotation of `ingresses` names
    (`auth-secret`, `auth-tls-secret`, ...: `name` or `namespace/name`) and of their TLS
    sections (ingress-nginx takes any Secret with `tls.crt` and `tls.key`, Opaque ones too)."""
    out: set[tuple[str, str]] = set()
    for obj in ingresses:
        meta = obj.get("metadata") or {}
        out.update((str(meta.get("namespace") or "default"), str(t["secretName"]))
                   for t in (obj.get("spec") or {}).get("tls") or ()
                   if isinstance(t, Mapping) and t.get("secretName"))
        for key, value in (meta.get("annotations") or {}).items():
            if str(key).startswith(PREFIX) and str(key).endswith("-secret") and value:
                namespace, _, name = str(value).rpartition("/")
                out.add((namespace or str(meta.get("namespace") or "default"), name))
    return out


def report_lines(served: Served) -> list[str]:
    """One log line per report entry that is not a plain conversion."""
    return [f"Ingress {e.ingress}: {e.subject} {e.outcome}: {e.note}"
            for e in served.report if e.outcome != "converted"]


def translate(snapshot: Snapshot, memo: Memo | None = None) -> Result:
    """The translation of `snapshot` with its served Ingress objects (see the docstring)."""
    snapshot, made = served(snapshot, snapshot.ingress)
    result = translate_gateway_api(snapshot, memo)
    if not made.gateways and not made.report:
        return result
    return replace(result, statuses=tuple(statuses(result.statuses, made)),
                   ingress_notes=tuple(report_lines(made)))
