"""Metric steps of Envoy Gateway's cases, answered from the Gateway's own Envoy stats.

Envoy Gateway's e2e tests read Envoy counters through Prometheus (`action: expect` with
`metric:`, see `envoy-gateway/README.md`). Standalone Propylon has no Prometheus, so the runner
asks each Gateway's Envoy itself, on its admin socket (`/stats`), for the counter a query names:

- `envoy_cluster_<stat>{envoy_cluster_name="httproute/<ns>/<name>/rule/<N>"}` is Envoy Gateway's
  cluster of rule N of that route. Propylon names clusters by Service port (`<ns>/<svc>/<port>`,
  and `<ns>/<svc>/<port>/<policy ns>/<policy name>` for a copy a BackendTrafficPolicy made), so
  the value is the sum of `cluster.<c>.<stat>` over the clusters of that rule's backendRefs
  (`rule_clusters`); without `envoy_cluster_name`, over every cluster. The Gateway is the one
  named by `gateway_envoyproxy_io_owning_gateway_name`, else the case's.
- `envoy_connection_limit_<stat>{...}` is the sum of `connection_limit.<prefix>.<stat>` over
  the Gateway's listeners.
- Any other query raises `Unsupported` (the step is skipped, saying so).

`evaluate(condition, names)` computes a step's `condition` (`value > 0`, or
`delta = value - base; delta > 0 and delta % 5 == 0`): statements separated by `;`, the last
one the verdict, with names, integers, + - * % // and comparisons, `and`, `or`, `not` only.
"""

from __future__ import annotations

import ast
import json
import operator
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from propylon.infra.host.envoy_admin import admin_get
from propylon.infra.host.envoy_process import PID_FILE
from propylon.infra.host.manager import PROXIES_DIR, proxy_dir_name
from propylon.ir.model import GatewayKey

_QUERY = re.compile(r"^envoy_(cluster|connection_limit)_(\w+)\{(.*)\}$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')
_EG_CLUSTER = re.compile(r"^(httproute|grpcroute)/([^/]+)/([^/]+)/rule/(\d+)$")


class Unsupported(Exception):
    """The runner cannot answer this metric query."""


def parse(query: str) -> tuple[str, str, dict[str, str]]:
    """(family: cluster or connection_limit, Envoy stat, labels) of a query the runner can
    answer."""
    found = _QUERY.match(query.strip())
    if found is None:
        raise Unsupported(f"metric query {query!r}: only envoy_cluster_<stat>{{...}} and "
                          "envoy_connection_limit_<stat>{...} queries are read from Envoy's "
                          "stats")
    family, stat, labels = found.group(1), found.group(2), dict(_LABEL.findall(found.group(3)))
    return family, stat, labels


def eg_route_rule(cluster_name: str) -> tuple[str, str, str, int]:
    """(route kind, namespace, name, rule index) of an Envoy Gateway route-rule cluster name."""
    found = _EG_CLUSTER.match(cluster_name)
    if found is None:
        raise Unsupported(f"cluster {cluster_name!r} is not an Envoy Gateway route rule cluster")
    kind, ns, name, index = found.groups()
    return ({"httproute": "HTTPRoute", "grpcroute": "GRPCRoute"}[kind], ns, name, int(index))


def rule_clusters(route: Mapping[str, Any], index: int) -> list[str]:
    """Propylon's cluster names (`<ns>/<svc>/<port>`) of one rule's Service backendRefs."""
    ns = str((route.get("metadata") or {}).get("namespace") or "")
    rules = (route.get("spec") or {}).get("rules") or []
    if index >= len(rules):
        return []
    return [f"{ref.get('namespace') or ns}/{ref['name']}/{ref.get('port')}"
            for ref in rules[index].get("backendRefs") or ()
            if (ref.get("kind") or "Service") == "Service" and not ref.get("group")]


def admin_socket(state_dir: Path, gateway: GatewayKey) -> Path:
    """The admin socket of a Gateway's Envoy, as its `pid.json` records it."""
    pid_file = state_dir / PROXIES_DIR / proxy_dir_name(gateway) / PID_FILE
    return Path(json.loads(pid_file.read_text())["admin"])


async def _stats(socket: Path, family: str, stat: str) -> list[tuple[str, int]]:
    """(middle, value) of Envoy's `<family>.<middle>.<stat>` counters. Prometheus names have
    "_" where Envoy's have "." or "_" (`health_check_success` is `health_check.success`)."""
    pattern = re.escape(stat).replace("_", "[._]")
    status, body = await admin_get(socket, "/stats?filter=" + quote(rf"\.{pattern}$"))
    if status != 200:
        raise RuntimeError(f"Envoy admin /stats answered {status}: {body}")
    out = []
    for line in body.splitlines():
        name, _, value = line.rpartition(": ")
        found = re.fullmatch(rf"{re.escape(family)}\.(.+)\.{pattern}", name)
        if found is not None:
            out.append((found.group(1), int(value)))
    return out


async def cluster_stat(socket: Path, clusters: list[str] | None, stat: str) -> int:
    """The sum of `cluster.<c>.<stat>` over `clusters` and the copies of them a policy made
    (None: over every cluster)."""
    return sum(value for cluster, value in await _stats(socket, "cluster", stat)
               if clusters is None
               or any(cluster == c or cluster.startswith(f"{c}/") for c in clusters))


async def connection_limit_stat(socket: Path, stat: str) -> int:
    """The sum of `connection_limit.<prefix>.<stat>` over the Envoy's listeners (Propylon's
    stat prefix is the listener's name, not Envoy Gateway's `http-<port>`)."""
    return sum(value for _, value in await _stats(socket, "connection_limit", stat))


_ALLOWED = (ast.Module, ast.Expr, ast.Assign, ast.Name, ast.Load, ast.Store, ast.Constant,
            ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Add, ast.Sub, ast.Mult,
            ast.Mod, ast.FloorDiv, ast.USub, ast.Not, ast.And, ast.Or, ast.Gt, ast.GtE, ast.Lt,
            ast.LtE, ast.Eq, ast.NotEq)


def evaluate(condition: str, names: Mapping[str, int]) -> bool:
    """The verdict of a step's `condition` (see the module docstring)."""
    tree = ast.parse("\n".join(part.strip() for part in condition.split(";")))
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise Unsupported(f"condition {condition!r}: {type(node).__name__} not understood")
    scope = dict(names)
    result: Any = None
    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            [target] = statement.targets
            assert isinstance(target, ast.Name)
            scope[target.id] = _value(statement.value, scope)
        else:
            assert isinstance(statement, ast.Expr)
            result = _value(statement.value, scope)
    return bool(result)


def _value(node: ast.expr, scope: Mapping[str, int]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in scope:
            raise Unsupported(f"condition names {node.id!r}, which no step read")
        return scope[node.id]
    if isinstance(node, ast.UnaryOp):
        operand = _value(node.operand, scope)
        return not operand if isinstance(node.op, ast.Not) else -operand
    if isinstance(node, ast.BoolOp):
        values = [_value(v, scope) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.BinOp):
        return _OPERATORS[type(node.op)](_value(node.left, scope), _value(node.right, scope))
    assert isinstance(node, ast.Compare)
    left = _value(node.left, scope)
    for op, comparator in zip(node.ops, node.comparators, strict=True):
        right = _value(comparator, scope)
        if not _OPERATORS[type(op)](left, right):
            return False
        left = right
    return True


_OPERATORS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Mod: operator.mod,
    ast.FloorDiv: operator.floordiv, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Eq: operator.eq, ast.NotEq: operator.ne}
