"""Log steps (`action: expect` with `log:`) read without Loki: the lines a case's LogQL query
would count, from where Envoy Gateway's CI pipeline collects them.

- Labels of the Envoy container (`container: envoy`, `job ...`): the stdout of the case's
  Gateway's Envoy, which the host infrastructure appends to `envoy.log` in the proxy's
  directory (`envoy_lines`).
- Labels of the OpenTelemetry collector's exporter (`exporter: OTLP`): the records the log
  collector the runner plays (`collector_objects`: Service monitoring/otel-collector with
  OTLP/gRPC on 4317 and ALS on 9000, as in Envoy Gateway's CI, run by `propylon.echo.collector`)
  received (`collector_lines`).

A query's count is the number of those lines matching `lineRegex` (all lines without one).
Envoy Gateway names a route rule's cluster `httproute/<ns>/<name>/rule/<N>`, so its health
check events name the route; Propylon's clusters are named after the Service port
(`<ns>/<service>/<port>`, a policy's copy after it with the policy's name), so on Envoy's
stdout a route name in `lineRegex` also matches the clusters of that route's backendRefs
(`with_route_clusters`), as metric steps read the route's clusters (`metrics.rule_clusters`).
`condition`s are evaluated as metric conditions (`metrics.evaluate`), `count(after)` and
`count(before)` read as the names `after` and `before`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from propylon.conformance.backends import COLLECTOR_IMAGE
from propylon.conformance.metrics import rule_clusters
from propylon.infra.host.envoy_process import LOG_FILE
from propylon.infra.host.manager import PROXIES_DIR, proxy_dir_name
from propylon.ir.model import GatewayKey

COLLECTOR_NAMESPACE, COLLECTOR_NAME = "monitoring", "otel-collector"
COLLECTOR_HTTP_PORT = 3000
_PORTS = (("otlp-grpc", 4317, "grpc"), ("als-grpc", 9000, "grpc"),
          ("http", COLLECTOR_HTTP_PORT, "http"))


def collector_objects() -> list[dict[str, Any]]:
    """The namespace, Deployment and Service of the log collector the access-log cases name."""
    meta = {"namespace": COLLECTOR_NAMESPACE, "name": COLLECTOR_NAME}
    labels = {"app": COLLECTOR_NAME}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": COLLECTOR_NAMESPACE}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": {
            "replicas": 1, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                "name": "collector", "image": COLLECTOR_IMAGE,
                "env": [{"name": "LOG_COLLECTOR", "value": "1"}],
                "ports": [{"name": n, "containerPort": p} for n, p, _ in _PORTS]}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {
            "selector": labels,
            "ports": [{"name": n, "port": p, "targetPort": p, "appProtocol": a}
                      for n, p, a in _PORTS]}},
    ]


def reads_collector(labels: Mapping[str, Any]) -> bool:
    return "exporter" in labels


def envoy_lines(state_dir: Path, gateway: GatewayKey) -> list[str]:
    path = state_dir / PROXIES_DIR / proxy_dir_name(gateway) / LOG_FILE
    return path.read_text(errors="replace").splitlines()


async def collector_lines(ip: str) -> list[str]:
    async with aiohttp.ClientSession() as session, session.get(
            f"http://{ip}:{COLLECTOR_HTTP_PORT}/records",
            timeout=aiohttp.ClientTimeout(total=5)) as response:
        body = await response.json()
    return [str(r["line"]) for r in body["records"]]


def with_route_clusters(line_regex: str | None,
                        objects: Iterable[Mapping[str, Any]]) -> str | None:
    """`line_regex` with each HTTPRoute name of `objects` in it also matching the clusters of
    that route's rules."""
    if not line_regex:
        return line_regex
    for obj in objects:
        name = str((obj.get("metadata") or {}).get("name") or "")
        if obj.get("kind") != "HTTPRoute" or not name or name not in line_regex:
            continue
        rules = (obj.get("spec") or {}).get("rules") or []
        clusters = sorted({c for i in range(len(rules)) for c in rule_clusters(obj, i)})
        alternatives = "|".join(re.escape(x) for x in [name, *clusters])
        line_regex = line_regex.replace(name, f"(?:{alternatives})")
    return line_regex


def count(lines: Iterable[str], line_regex: str | None) -> int:
    pattern = re.compile(line_regex or "")
    return sum(1 for line in lines if pattern.search(line))


def delta_condition(condition: str) -> str:
    """A condition on `count(after)` and `count(before)` in the names metric conditions use."""
    return condition.replace("count(after)", "after").replace("count(before)", "before")


