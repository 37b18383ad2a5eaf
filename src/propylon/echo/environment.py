"""How the echo backends read echo-basic's environment: listening ports and the context fields.

echo-basic is configured only by environment variables, and every mode (HTTP, TCP, gRPC) reads
them the same way: `port` takes a variable's TCP port (unset or empty -> the default; anything
else that is not a port in 1-65535 is a ValueError naming the variable) and `context` the pod's
identity that every echo reports (`NAMESPACE`, `INGRESS_NAME`, `SERVICE_NAME`, `POD_NAME`,
empty when unset).
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
