"""Plain-data views of translation input and output, for golden files and the CLI.

`snapshot_of(data)` builds a Snapshot from `{"resources": [objects...], "infra": [...],
"controllerName": ..., "now": ...}`, where an infra entry is `{gateway: ns/name, address,
ready, message, ports: [{port, bindPort, error}]}`. `render(result)` returns YAML: every status
update, then each Gateway's IR and InfraIR, in a stable order; private keys are never printed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import yaml

from propylon.ir.model import GatewayKey, InfraState, PortState
from propylon.translate.types import DEFAULT_CONTROLLER_NAME, Result, Snapshot


def snapshot_of(data: Mapping[str, Any]) -> Snapshot:
    objects: dict[str, list[dict[str, Any]]] = {}
    for obj in data.get("resources") or ():
        objects.setdefault(str(obj.get("kind", "")), []).append(obj)
    infra = {}
    for entry in data.get("infra") or ():
        ns, _, name = str(entry["gateway"]).partition("/")
        key = GatewayKey(ns, name)
        infra[key] = InfraState(
            key, entry.get("address"),
            tuple(PortState(int(p["port"]), p.get("bindPort", p["port"]), p.get("error"))
                  for p in entry.get("ports") or ()),
            bool(entry.get("ready", False)), str(entry.get("message", "")))
    return Snapshot({k: tuple(v) for k, v in objects.items()}, infra,
                    str(data.get("controllerName", DEFAULT_CONTROLLER_NAME)),
                    str(data.get("now", "1970-01-01T00:00:00Z")))


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            if f.name == "private_key":
                out[f.name] = "<redacted>"
            else:
                out[f.name] = _plain(getattr(value, f.name))
        return {k: v for k, v in out.items() if v not in (None, (), [], {})}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def as_data(result: Result) -> dict[str, Any]:
    return {
        "statuses": [{"apiVersion": s.api_version, "kind": s.kind,
                      **({"namespace": s.namespace} if s.namespace else {}), "name": s.name,
                      "status": s.status.to_json()} for s in result.statuses],
        "gateways": [_plain(result.gateways[k]) for k in sorted(result.gateways)],
        "infra": [_plain(result.infra[k]) for k in sorted(result.infra)],
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (certificates) as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render(result: Result) -> str:
    return yaml.dump(as_data(result), Dumper=_Dumper, sort_keys=False, width=100)
