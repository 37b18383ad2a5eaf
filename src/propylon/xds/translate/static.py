"""`static_bootstrap(gateways)`: what the xDS server would serve, as one static Envoy bootstrap.

Envoy checks a configuration without serving it with `envoy --mode validate -c FILE` (see
`propylon.xds.validate`), but only a static one: nothing may come over xDS. This module turns
the `XdsResources` of one or more Gateways into such a bootstrap, changing only where each
resource comes from, never what it says:
- listeners and clusters are `static_resources`;
- a connection manager's RDS route table is inlined as its `route_config`, holding the VHDS
  virtual hosts of that table (those whose name is `<table>/...`);
- an EDS cluster becomes a STATIC one with its load assignment inline (a STRICT_DNS one has
  it inline already);
- an SDS secret config over ADS names a static secret (`static_resources.secrets`).
There is no admin listener and no ADS. A reference to a route table or secret the resources do
not hold raises `MissingResource`: Envoy would wait for it forever, so it is an error too.
Resources of several Gateways may share one bootstrap when their listeners' names and addresses
differ; a cluster or secret they share (the same Service or Secret) is held once, and two
different ones of the same name raise `ValueError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from propylon.xds.translate.resources import XdsResources, vhost_namespace

Json = dict[str, Any]


class MissingResource(ValueError):
    """A resource names a route table or secret that was not translated."""


def _json(message: Message) -> Json:
    json: Json = MessageToDict(message, preserving_proto_field_name=True)
    return json


def _tables(resources: XdsResources) -> dict[str, Json]:
    tables = {name: _json(table) for name, table in resources.routes.items()}
    for table in tables.values():
        table.pop("vhds", None)
    for name, vhost in resources.virtual_hosts.items():
        table_name = vhost_namespace(name)
        if table_name not in tables:
            raise MissingResource(f'virtual host "{name}" belongs to no route table')
        tables[table_name].setdefault("virtual_hosts", []).append(_json(vhost))
    return tables


def _inlined(value: Any, tables: Mapping[str, Json], secrets: Mapping[str, Any]) -> Any:
    """`value` with RDS route tables inlined and SDS secret configs naming static secrets."""
    if isinstance(value, list):
        return [_inlined(v, tables, secrets) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _inlined(v, tables, secrets) for k, v in value.items()}
    rds = out.pop("rds", None)
    if rds is not None:
        name = rds["route_config_name"]
        if name not in tables:
            raise MissingResource(f'route table "{name}" is referenced but not translated')
        out["route_config"] = tables[name]
    if "sds_config" in out:
        if out["name"] not in secrets:
            raise MissingResource(f'secret "{out["name"]}" is referenced but not translated')
        del out["sds_config"]
    return out


def _static_cluster(cluster: Json, assignment: Json | None) -> Json:
    if cluster.get("type") == "STRICT_DNS":  # its endpoints are in it already
        return cluster
    cluster.pop("eds_cluster_config", None)
    cluster["type"] = "STATIC"
    cluster["load_assignment"] = assignment or {"cluster_name": cluster["name"]}
    return cluster


def _add(into: dict[str, Json], item: Json) -> None:
    name = item["name"]
    if into.setdefault(name, item) != item:
        raise ValueError(f'two different resources are named "{name}"')


def static_bootstrap(gateways: Iterable[XdsResources], node: str = "validate") -> Json:
    """One static bootstrap serving the resources of every Gateway in `gateways`."""
    listeners: dict[str, Json] = {}
    clusters: dict[str, Json] = {}
    secrets: dict[str, Json] = {}
    for resources in gateways:
        tables = _tables(resources)
        for message in resources.secrets.values():
            _add(secrets, _json(message))
        for message in resources.listeners.values():
            _add(listeners, _inlined(_json(message), tables, resources.secrets))
        for name, message in resources.clusters.items():
            assignment = resources.endpoints.get(name)
            _add(clusters, _static_cluster(
                _inlined(_json(message), tables, resources.secrets),
                _json(assignment) if assignment is not None else None))
    return {"node": {"id": node, "cluster": node},
            "static_resources": {"listeners": list(listeners.values()),
                                 "clusters": list(clusters.values()),
                                 "secrets": list(secrets.values())}}
