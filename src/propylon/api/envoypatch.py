"""An EnvoyPatchPolicy's spec (gateway.envoyproxy.io/v1alpha1), decoded into `JsonPatch`es.

`json_patches(spec, policy)` reads `type` (only `JSONPatch`), `priority` and each
`jsonPatches[i]`: the xDS `type` (one of `PATCHABLE_TYPES`), the resource `name` and the RFC 6902
`operation` (`op`, `path`, `from`, `value`, and `jsonPath`, a JSONPath selecting the places
`path` is relative to). It returns the patches and, as messages naming the field and the fix,
what cannot be used; a policy with any problem applies no patch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from propylon.ir.patches import JsonPatch

_TYPE = "type.googleapis.com/envoy."
PATCHABLE_TYPES = (
    f"{_TYPE}config.listener.v3.Listener",
    f"{_TYPE}config.route.v3.RouteConfiguration",
    f"{_TYPE}config.route.v3.VirtualHost",
    f"{_TYPE}config.cluster.v3.Cluster",
    f"{_TYPE}config.endpoint.v3.ClusterLoadAssignment",
    f"{_TYPE}extensions.transport_sockets.tls.v3.Secret",
)
OPS = ("add", "remove", "replace", "move", "copy", "test")


def priority(spec: Mapping[str, Any]) -> int:
    """`spec.priority`: patches of a lower priority apply first (Envoy Gateway's order)."""
    value = spec.get("priority")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def json_patches(spec: Mapping[str, Any], policy: str) -> tuple[tuple[JsonPatch, ...], list[str]]:
    """The patches of an EnvoyPatchPolicy spec (`policy` its namespace/name), and its problems."""
    problems: list[str] = []
    if spec.get("type") != "JSONPatch":
        problems.append(f"spec.type: {spec.get('type')!r} is not a patch type Propylon applies: "
                        "set it to JSONPatch")
    raw = spec.get("jsonPatches")
    if not isinstance(raw, list) or not raw:
        problems.append("spec.jsonPatches: list at least one patch")
        return (), problems
    out = []
    for i, item in enumerate(raw):
        patch = _patch(item if isinstance(item, dict) else {}, policy, i, problems)
        if patch is not None:
            out.append(patch)
    return tuple(out), problems


def _patch(item: Mapping[str, Any], policy: str, index: int,
           problems: list[str]) -> JsonPatch | None:
    where = f"spec.jsonPatches[{index}]"
    before = len(problems)
    type_url = item.get("type")
    if type_url not in PATCHABLE_TYPES:
        problems.append(f"{where}.type: {type_url!r} is not a resource type Propylon patches: "
                        f"use one of {', '.join(PATCHABLE_TYPES)}")
    name = item.get("name")
    if not isinstance(name, str) or not name:
        problems.append(f"{where}.name: name the resource to patch")
    operation = item.get("operation")
    operation = operation if isinstance(operation, dict) else {}
    op = operation.get("op")
    if op not in OPS:
        problems.append(f"{where}.operation.op: {op!r} is not an RFC 6902 operation: use one of "
                        f"{', '.join(OPS)}")
    json_path = operation.get("jsonPath")
    if json_path is not None and (not isinstance(json_path, str) or not json_path):
        problems.append(f"{where}.operation.jsonPath: give a JSONPath such as "
                        "$..http_filters[?(@.name=='envoy.filters.http.router')], or remove it")
    path = operation.get("path", "" if json_path else None)
    if not isinstance(path, str) or (path and not path.startswith("/")):
        problems.append(f"{where}.operation.path: give a JSON pointer such as /common_lb_config "
                        "(empty for the whole resource)")
    source = operation.get("from")
    if op in ("move", "copy") and not (isinstance(source, str) and source.startswith("/")):
        problems.append(f"{where}.operation.from: {op} needs the JSON pointer to take from")
    if op in ("add", "replace", "test") and "value" not in operation:
        problems.append(f"{where}.operation.value: {op} needs a value")
    if len(problems) > before:
        return None
    value = json.dumps(operation["value"], sort_keys=True) if "value" in operation else None
    return JsonPatch(policy, index, str(type_url), str(name), str(op), str(path),
                     str(source) if op in ("move", "copy") else None, value,
                     str(json_path) if json_path else None)
