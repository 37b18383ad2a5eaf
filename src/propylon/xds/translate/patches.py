"""Envoy Gateway's EnvoyPatchPolicy: RFC 6902 JSON patches on a Gateway's generated resources.

`patched(resources, patches)` is the last stage of the xDS translation of a Gateway whose IR
carries patches (`GatewayIR.patches`, in the order they apply). Patches are taken policy by
policy: each patch finds its resource by type URL and name, turns it into its proto JSON form
(field names as in the proto, `common_lb_config`), applies the operation (`apply_operation`; with
a `jsonPath`, under each place `jsonpaths.locate` finds, none being a failure) and
parses the result back as the same proto type, which refuses an unknown field or a value of the
wrong type. A policy applies whole or not at all: when one of its patches fails (no such
resource, a path that is missing, a result that is no longer a valid resource) every change of
that policy is dropped and `XdsResources.patch_failures` says why, with the patch index; the
other policies' patches still apply. `add` with an empty path on a resource that does not exist
creates it.

Names are Propylon's (as `propylon translate` prints them). Envoy Gateway names the cluster of a
route rule `httproute/<namespace>/<name>/rule/<index>` (or `grpcroute/...`); where no cluster
has that name, it stands for the clusters that rule's route entries send traffic to, so the same
manifest patches the same cluster on both. Messages are never mutated: a patched resource is a
new message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from envoy.config.cluster.v3.cluster_pb2 import Cluster
from envoy.config.endpoint.v3.endpoint_pb2 import ClusterLoadAssignment
from envoy.config.listener.v3.listener_pb2 import Listener
from envoy.config.route.v3.route_components_pb2 import VirtualHost
from envoy.config.route.v3.route_pb2 import RouteConfiguration
from envoy.extensions.transport_sockets.tls.v3.secret_pb2 import Secret
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from google.protobuf.message import Message

from propylon.ir.patches import JsonPatch
from propylon.xds.translate.jsonpaths import locate
from propylon.xds.translate.resources import (
    CLUSTER,
    ENDPOINT,
    LISTENER,
    ROUTE,
    SECRET,
    VHOST,
    XdsResources,
)
from propylon.xds.translate.routes import vhost_clusters

# type URL -> the XdsResources field holding that type, and the type
_FIELDS = {LISTENER: "listeners", ROUTE: "routes", VHOST: "virtual_hosts", CLUSTER: "clusters",
           ENDPOINT: "endpoints", SECRET: "secrets"}
_TYPES: dict[str, type[Message]] = {
    "listeners": Listener, "routes": RouteConfiguration, "virtual_hosts": VirtualHost,
    "clusters": Cluster, "endpoints": ClusterLoadAssignment, "secrets": Secret}
_EG_RULE = re.compile(r"^(httproute|grpcroute)/[^/]+/[^/]+/rule/\d+$")


class PatchError(Exception):
    """Why one operation cannot apply."""


def patched(resources: XdsResources, patches: Iterable[JsonPatch]) -> XdsResources:
    """`resources` with the patches of every policy whose patches all apply (see the module
    docstring)."""
    by_policy: dict[str, list[JsonPatch]] = {}
    for patch in patches:
        by_policy.setdefault(patch.policy, []).append(patch)
    maps = {f: dict(getattr(resources, f)) for f in _FIELDS.values()}
    failures: dict[str, str] = {}
    for policy, items in by_policy.items():
        work = {f: dict(m) for f, m in maps.items()}
        try:
            for patch in items:
                _apply(work, patch, resources)
        except PatchError as e:
            failures[policy] = str(e)
            continue
        maps = work
    vhosts = maps["virtual_hosts"]
    used = {name: (resources.vhost_clusters.get(name, frozenset())
                   if message is resources.virtual_hosts.get(name) else vhost_clusters(message))
            for name, message in vhosts.items()}
    return replace(resources, **{f: dict(sorted(m.items())) for f, m in maps.items()},
                   vhost_clusters=used, patch_failures=failures)


def _apply(work: dict[str, dict[str, Message]], patch: JsonPatch,
           resources: XdsResources) -> None:
    where = f"jsonPatches[{patch.index}]"
    kind = patch.type_url.rsplit(".", 1)[-1]
    field = _FIELDS[patch.type_url]
    messages = work[field]
    names = _names(patch, messages, resources)
    if not names:
        if patch.op == "add" and patch.path == "" and patch.value is not None:
            messages[patch.name] = _parse(json.loads(patch.value), _TYPES[field], where)
            return
        raise PatchError(f"{where}: the Gateway's Envoy configuration has no {kind} named "
                         f'"{patch.name}": name one that `propylon translate` prints')
    for name in names:
        message = messages[name]
        document = MessageToDict(message, preserving_proto_field_name=True)
        try:
            for operation in _operations(document, patch):
                document = apply_operation(document, operation)
        except (PatchError, ValueError) as e:
            raise PatchError(f"{where}: {kind} {name}: {e}") from None
        messages[name] = _parse(document, type(message), f"{where}: {kind} {name}")


def _operations(document: Any, patch: JsonPatch) -> list[JsonPatch]:
    """`patch`, or with a `json_path` one operation per place it selects (`path` under it),
    the last place first so that removing list items leaves the others' pointers right."""
    if patch.json_path is None:
        return [patch]
    places = locate(document, patch.json_path)
    if not places:
        raise PatchError(f"jsonPath {patch.json_path!r} selects nothing")
    return [replace(patch, path=place + patch.path, json_path=None)
            for place in reversed(places)]


def _parse(document: Any, message_type: type[Message], where: str) -> Message:
    try:
        return ParseDict(document, message_type())
    except (ParseError, TypeError, ValueError) as e:
        raise PatchError(f"{where}: the patched resource is not a valid "
                         f"{message_type.DESCRIPTOR.full_name}: {e}") from None


def _names(patch: JsonPatch, messages: Mapping[str, Message],
           resources: XdsResources) -> list[str]:
    """The resources a patch names: its own name, or an Envoy Gateway route-rule cluster
    name's clusters."""
    if patch.name in messages:
        return [patch.name]
    if patch.type_url not in (CLUSTER, ENDPOINT) or not _EG_RULE.match(patch.name):
        return []
    prefix = f"{patch.name}/match/"
    found: set[str] = set()
    for vhost in resources.virtual_hosts.values():
        for route in vhost.routes:
            if route.name.startswith(prefix):
                found.update([route.route.cluster] if route.route.cluster else
                             (w.name for w in route.route.weighted_clusters.clusters))
    return sorted(n for n in found if n in messages)




def apply_operation(document: Any, patch: JsonPatch) -> Any:
    """`document` (JSON values) after one RFC 6902 operation; raises PatchError."""
    value = json.loads(patch.value) if patch.value is not None else None
    if patch.op == "test":
        if _get(document, _tokens(patch.path)) != value:
            raise PatchError(f"test failed: the value at {patch.path!r} is not {patch.value}")
        return document
    if patch.op in ("move", "copy"):
        assert patch.from_ is not None
        value = _get(document, _tokens(patch.from_))
        if patch.op == "move":
            document = _remove(document, _tokens(patch.from_))
        return _add(document, _tokens(patch.path), value)
    if patch.op == "remove":
        return _remove(document, _tokens(patch.path))
    if patch.op == "replace":
        _get(document, _tokens(patch.path))  # must exist
        return _add(_remove(document, _tokens(patch.path)), _tokens(patch.path), value)
    return _add(document, _tokens(patch.path), value)


def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _get(document: Any, tokens: list[str]) -> Any:
    for i, token in enumerate(tokens):
        if isinstance(document, dict) and token in document:
            document = document[token]
        elif isinstance(document, list) and token.isdigit() and int(token) < len(document):
            document = document[int(token)]
        else:
            raise PatchError(f"path {_pointer(tokens[:i + 1])!r} does not exist")
    return document


def _parent(document: Any, tokens: list[str]) -> Any:
    """A copy of `document` and the container the last token is in (within the copy)."""
    root = _copy(document)
    return root, _get(root, tokens[:-1])


def _add(document: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return _copy(value)
    root, parent = _parent(document, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = _copy(value)
    elif isinstance(parent, list) and (last == "-" or (last.isdigit()
                                                        and int(last) <= len(parent))):
        parent.insert(len(parent) if last == "-" else int(last), _copy(value))
    else:
        raise PatchError(f"cannot add at {_pointer(tokens)!r}: no such object member or "
                         "list index")
    return root


def _remove(document: Any, tokens: list[str]) -> Any:
    if not tokens:
        raise PatchError("cannot remove the whole resource")
    _get(document, tokens)
    root, parent = _parent(document, tokens)
    if isinstance(parent, dict):
        del parent[tokens[-1]]
    else:
        del parent[int(tokens[-1])]
    return root


def _pointer(tokens: list[str]) -> str:
    return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens)
