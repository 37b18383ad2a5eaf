"""How the echo backends read echo-basic's environment: listening ports and the context fields.

echo-basic is configured only by environment variables, and every mode (HTTP, TCP, gRPC) reads
them the same way: `port` takes a variable's TCP port (unset or empty -> the default; anything
else that is not a port in 1-65535 is a ValueError naming the variable) and `context` the pod's
identity that every echo reports (`NAMESPACE`, `INGRESS_NAME`, `SERVICE_NAME`, `POD_NAME`,
empty when unset); `load_report` the ORCA load report the backend-utilization image adds to
its answers. `named("[NAMESPACE/]SERVICE")` is that identity for an echo that stands
for a Service's backend without a pod of its own (`propylon echo --service`,
`propylon up --echo SERVICE=HOST:PORT`).
"""

from __future__ import annotations

from collections.abc import Mapping


def port(environ: Mapping[str, str], name: str, default: int) -> int:
    """The TCP port in `environ[name]`, or `default` when it is unset or empty."""
    text = environ.get(name) or str(default)
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{name}={text!r} is not a TCP port")
    return int(text)


def context(environ: Mapping[str, str]) -> dict[str, str]:
    """The context fields of an echo (`namespace`, `ingress`, `service`, `pod`)."""
    return {
        "namespace": environ.get("NAMESPACE", ""),
        "ingress": environ.get("INGRESS_NAME", ""),
        "service": environ.get("SERVICE_NAME", ""),
        "pod": environ.get("POD_NAME", ""),
    }


def load_report(environ: Mapping[str, str]) -> str:
    """The ORCA load report an echo sends with each answer (response header
    `endpoint-load-metrics`), as Envoy Gateway's backend-utilization image does: with
    `ORCA_CPU_UTILIZATION` set and `ORCA_INBAND` not `false`, `JSON {"cpu_utilization": U,
    "rps_fractional": 1000}`; else none ("")."""
    cpu = environ.get("ORCA_CPU_UTILIZATION", "")
    if not cpu or environ.get("ORCA_INBAND", "").lower() == "false":
        return ""
    return f'JSON {{"cpu_utilization": {float(cpu)}, "rps_fractional": 1000}}'


def named(backend: str) -> dict[str, str]:
    """The context of an echo serving the Service `[NAMESPACE/]SERVICE` (namespace `default`
    when not given): `service` is its name and so is `pod`, the echo being its one backend."""
    namespace, _, service = backend.rpartition("/")
    if not service or "/" in namespace:
        raise ValueError(f"{backend!r} is not a Service name: write SERVICE or NAMESPACE/SERVICE, "
                         "e.g. backend-1")
    return {"namespace": namespace or "default", "service": service, "pod": service}
