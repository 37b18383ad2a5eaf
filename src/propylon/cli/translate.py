"""`propylon translate -f PATH...`: what the controller would do with these manifests, offline.

No server is involved. The manifests are loaded (`propylon.manifests.load_manifests`), namespaced
objects without a namespace get `default`, Gateway API objects generation 1 and a Secret's
stringData goes into data, as an API server would do. Each Gateway is given a preview address
from the default loopback pool (127.0.10.1, 127.0.10.2, ... in namespace/name order) with every
listener port bound as written and the proxy ready. The same pure
`propylon.translate.translate()` the controller runs computes the result.

Printed as YAML documents: first every object with its computed status merged in as the status
writer would (`propylon.translate.statusmerge`: the whole status of GatewayClasses, Gateways and
ListenerSets; for routes and policies this controller's `parents`/`ancestors` entries, keeping
other controllers' entries; an unchanged condition keeps its lastTransitionTime), Secrets with
their data values replaced by `REDACTED`, then, per Gateway, the Envoy configuration that would
be served to its proxies (`propylon.xds.translate.translate()`, each protobuf as JSON via
`MessageToDict`), with private keys, basic_auth users and api_key_auth keys replaced by
`REDACTED`: one section per xDS type, `listeners`, `routes`, `virtual_hosts`, `clusters`,
`endpoints` and `secrets`. Virtual hosts are printed as the proxy receives them,
each a VHDS resource of its own next to the route tables (which only name VHDS as their
source), named `<route table>/<first domain>`.

A GatewayClass that names another controller gets a note on stderr saying so and how to make it
Propylon's (`propylon.translate.foreignclasses`).

`--check-with-envoy` also hands that configuration, as one static bootstrap
(`propylon.xds.translate.static`), to `envoy --mode validate` (`propylon.xds.validate`) and
exits 1 with Envoy's message when Envoy refuses it.
"""

from __future__ import annotations

import argparse
import base64
import ipaddress
import sys
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from propylon.api.kinds import GATEWAY_GROUP, by_api_version
from propylon.cli.apply import add_filename_arg
from propylon.cli.output import to_yaml
from propylon.ir.model import GatewayKey, InfraState, PortState, Rejections
from propylon.manifests import load_manifests
from propylon.translate import foreignclasses
from propylon.translate.statusmerge import wanted_status
from propylon.translate.types import DEFAULT_CONTROLLER_NAME, Snapshot, StatusUpdate

if TYPE_CHECKING:
    from propylon.xds.translate import XdsResources

POOL_START = ipaddress.IPv4Address("127.0.10.1")
REDACTED = "REDACTED"
_SECRET_SOURCES = ("privateKey", "users")  # DataSource fields holding secrets


def _holds_secret(message: dict[str, Any]) -> bool:
    """Whether the fields of this message named in `_redact` hold secrets: any privateKey,
    a basic_auth filter's users, an api_key_auth filter's credentials."""
    kind = str(message.get("@type", ""))
    return "privateKey" in message or ".basic_auth." in kind or ".api_key_auth." in kind


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("translate", help="print the status and Envoy configuration these "
                                                "manifests would produce (offline)")
    add_filename_arg(p, "translate")
    p.add_argument("--controller-name", default=DEFAULT_CONTROLLER_NAME,
                   help="GatewayClass controllerName handled (default %(default)s)")
    p.add_argument("--check-with-envoy", action="store_true",
                   help="also have Envoy validate the configuration (envoy --mode validate); "
                        "exit 1 with its message when it is refused")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: the translators load every Envoy protobuf, which only this command needs.
    from propylon.translate import translate
    from propylon.xds.translate import translate as xds_translate

    objects = [as_stored(m.obj) for m in load_manifests(args.paths)]
    classes = [o for o in objects if o.get("kind") == "GatewayClass"]
    for name, theirs in foreignclasses.foreign(classes, args.controller_name):
        sys.stderr.write(f"note: {foreignclasses.note(name, theirs, args.controller_name)}\n")
    sys.stdout.write(render(objects, args.controller_name,
                            datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")))
    if not args.check_with_envoy:
        return 0
    from propylon.xds.translate.static import static_bootstrap
    from propylon.xds.validate import envoy_rejects

    result = translate(snapshot_of(objects, args.controller_name, "1970-01-01T00:00:00Z"))
    refused = envoy_rejects(static_bootstrap(xds_translate(ir) for ir in result.gateways.values()))
    if refused is not None:
        sys.stderr.write(f"error: Envoy refuses this configuration: {refused}\n")
        return 1
    sys.stderr.write(f"Envoy accepts the configuration of {len(result.gateways)} Gateway(s)\n")
    return 0


def snapshot_of(objects: list[dict[str, Any]], controller_name: str, now: str,
                pool_start: ipaddress.IPv4Address = POOL_START) -> Snapshot:
    """The Snapshot of these (stored-form) objects, each Gateway with a preview address from
    the pool starting at `pool_start`."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], []).append(obj)
    return Snapshot(objects={k: tuple(v) for k, v in by_kind.items()},
                    infra=preview_infra(by_kind.get("Gateway", []), pool_start),
                    controller_name=controller_name, now=now)


def render(objects: list[dict[str, Any]], controller_name: str, now: str) -> str:
    """The YAML documents `propylon translate` prints for these (stored-form) objects."""
    from propylon.translate import translate
    from propylon.xds.translate import translate as xds_translate

    snapshot = snapshot_of(objects, controller_name, now)
    result = translate(snapshot)
    xds = {key: xds_translate(ir) for key, ir in result.gateways.items()}
    failed = {key: Rejections(patches=r.patch_failures) for key, r in xds.items()
              if r.patch_failures}
    if failed:  # the statuses of the EnvoyPatchPolicies the xDS translation left out
        result = translate(replace(snapshot, rejections=failed))
    docs = [to_yaml(_redacted_object(obj))
            for obj in with_statuses(objects, result.statuses, controller_name)]
    for key in sorted(xds):
        docs.append(f"# Envoy configuration served to the proxies of Gateway {key}\n"
                    + to_yaml(envoy_config(str(key), xds[key])))
    return "---\n".join(docs)


def preview_infra(gateways: list[dict[str, Any]],
                  pool_start: ipaddress.IPv4Address = POOL_START) -> dict[GatewayKey, InfraState]:
    keys = sorted(GatewayKey(g["metadata"]["namespace"], g["metadata"]["name"]) for g in gateways)
    listeners = {(g["metadata"]["namespace"], g["metadata"]["name"]):
                 (g.get("spec") or {}).get("listeners") or [] for g in gateways}
    infra: dict[GatewayKey, InfraState] = {}
    for i, key in enumerate(keys):
        ports = sorted({int(li["port"]) for li in listeners[(key.namespace, key.name)]
                        if isinstance(li, dict) and isinstance(li.get("port"), int)})
        infra[key] = InfraState(key, str(pool_start + i), tuple(PortState(p, p) for p in ports),
                                ready=True)
    return infra


def with_statuses(objects: list[dict[str, Any]], updates: tuple[StatusUpdate, ...],
                  controller_name: str) -> list[dict[str, Any]]:
    """Copies of `objects` with the computed statuses merged in, as the status writer would."""
    index = {(u.kind, u.namespace, u.name): u for u in updates}
    out = []
    for obj in objects:
        meta = obj["metadata"]
        update = index.get((obj["kind"], meta.get("namespace"), meta["name"]))
        if update is None:
            out.append(obj)
            continue
        out.append({**obj, "status": wanted_status(obj.get("status"), update.status,
                                                    controller_name)})
    return out


def _redacted_object(obj: dict[str, Any]) -> dict[str, Any]:
    """A Secret with every data value `REDACTED` (its keys kept); any other object as is."""
    if obj.get("kind") != "Secret" or not isinstance(obj.get("data"), dict):
        return obj
    return {**obj, "data": dict.fromkeys(obj["data"], REDACTED)}


def envoy_config(node: str, resources: XdsResources) -> dict[str, Any]:
    """`node` and one section per xDS type the proxy receives (a type given no section name
    here raises KeyError rather than going unprinted)."""
    from google.protobuf.json_format import MessageToDict

    from propylon.xds.translate import CLUSTER, ENDPOINT, LISTENER, ROUTE, SECRET, VHOST

    sections = {LISTENER: "listeners", ROUTE: "routes", VHOST: "virtual_hosts",
                CLUSTER: "clusters", ENDPOINT: "endpoints", SECRET: "secrets"}
    config: dict[str, Any] = {"node": node}
    for type_url, messages in resources.by_type.items():
        config[sections[type_url]] = [_redact(MessageToDict(m)) for m in messages.values()]
    return config


def _redact(value: Any) -> Any:
    """Private keys, basic_auth users (htpasswd lines) and api_key_auth keys replaced."""
    if isinstance(value, dict):
        return {k: ({"inlineString": REDACTED} if k in _SECRET_SOURCES and _holds_secret(value)
                    else [{**c, "key": REDACTED} for c in v] if k == "credentials"
                    and _holds_secret(value) else _redact(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def as_stored(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as an API server would store it: namespace defaulted, generation set on
    Gateway API objects (their conditions report it as observedGeneration), a Secret's
    stringData encoded into data."""
    meta = dict(obj["metadata"])
    try:
        info = by_api_version(obj["apiVersion"], obj["kind"])
    except KeyError:
        return obj
    if info.namespaced:
        meta.setdefault("namespace", "default")
    if info.group == GATEWAY_GROUP:
        meta.setdefault("generation", 1)
    stored = {**obj, "metadata": meta}
    if info.kind == "Secret" and isinstance(obj.get("stringData"), dict):
        encoded = {k: base64.b64encode(str(v).encode()).decode()
                   for k, v in stored.pop("stringData").items()}
        stored["data"] = {**(obj.get("data") or {}), **encoded}
    return stored
