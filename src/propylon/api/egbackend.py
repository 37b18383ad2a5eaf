"""Envoy Gateway's Backend (gateway.envoyproxy.io/v1alpha1), decoded: where a backendRef of
group gateway.envoyproxy.io, kind Backend sends traffic.

`EgBackend.decode(obj)` reads `endpoints` (each one of `ip` address and port, `fqdn` hostname
and port, `unix` socket path), `appProtocols` (`gateway.envoyproxy.io/h2c`: HTTP/2 without TLS;
`gateway.envoyproxy.io/ws`: websockets) and `tls` where it is simple: the backend is reached
over TLS, its certificate verified for the SNI name (`sni`, by default the first FQDN
endpoint's hostname) against `wellKnownCACertificates: System` (the system's trusted roots) or
`caCertificateRefs` (ConfigMaps with `ca.crt`, read by `translate.backends`). `problems` lists, as messages naming the field and the fix, what cannot be used: a
field Propylon does not implement yet (`type: DynamicResolver`, `fallback`, endpoint `zone` and
`hostname`, the other `tls` fields), FQDN endpoints mixed with IP or socket ones (one cluster
resolves either by DNS or not at all), a Backend with no endpoint. A Backend with problems is
not used: routes naming it say why (ResolvedRefs False).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Literal

from propylon.api.backendtlspolicy import LocalObjectRef
from propylon.api.meta import ObjectMeta

GROUP = "gateway.envoyproxy.io"
KIND = "Backend"
H2C = "gateway.envoyproxy.io/h2c"
WEBSOCKET = "gateway.envoyproxy.io/ws"
_PROTOCOLS: dict[str, Literal["h2c", "websocket"]] = {H2C: "h2c", WEBSOCKET: "websocket"}
_SUPPORTED_SPEC = ("endpoints", "appProtocols", "tls", "type")
_SUPPORTED_TLS = ("sni", "wellKnownCACertificates", "caCertificateRefs")


@dataclass(frozen=True)
class BackendEndpoint:
    kind: Literal["ip", "fqdn", "unix"]
    address: str  # IP address, hostname or socket path
    port: int  # 0 for a socket


@dataclass(frozen=True)
class BackendTLSSettings:
    sni: str  # also the name the certificate must carry
    ca_refs: tuple[LocalObjectRef, ...] = ()  # none: the system's trusted roots


@dataclass(frozen=True)
class EgBackend:
    meta: ObjectMeta
    endpoints: tuple[BackendEndpoint, ...]
    protocol: Literal["h2c", "websocket"] | None
    tls: BackendTLSSettings | None
    problems: tuple[str, ...]

    @property
    def dns(self) -> bool:
        """Whether its endpoints are DNS names the proxy resolves."""
        return any(e.kind == "fqdn" for e in self.endpoints)

    @classmethod
    def decode(cls, obj: dict[str, Any]) -> EgBackend:
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        assert isinstance(spec, dict)
        problems = [_not_yet(f"spec.{key}") for key in sorted(spec)
                    if key not in _SUPPORTED_SPEC]
        if spec.get("type", "Endpoints") != "Endpoints":
            problems.append(_not_yet("spec.type DynamicResolver"))
        endpoints = tuple(e for i, raw in enumerate(spec.get("endpoints") or ())
                          if (e := _endpoint(raw, i, problems)) is not None)
        if not endpoints and not problems:
            problems.append("spec.endpoints: list at least one endpoint (ip, fqdn or unix)")
        if len({e.kind == "fqdn" for e in endpoints}) > 1:
            problems.append("spec.endpoints: FQDN endpoints cannot be mixed with IP or unix "
                            "ones: use one Backend for each")
        protocol = None
        for i, name in enumerate(spec.get("appProtocols") or ()):
            if name in _PROTOCOLS:
                protocol = _PROTOCOLS[name]
            else:
                problems.append(f"spec.appProtocols[{i}]: {name!r} is not supported by Propylon "
                                f"yet: use {H2C} or {WEBSOCKET}, or remove it")
        tls = _tls(spec.get("tls"), endpoints, problems)
        return cls(ObjectMeta.of(obj), endpoints, protocol, tls, tuple(problems))


def _not_yet(path: str) -> str:
    return f"{path} is not implemented by Propylon yet: remove it from the Backend"


def _endpoint(raw: Any, index: int, problems: list[str]) -> BackendEndpoint | None:
    where = f"spec.endpoints[{index}]"
    raw = raw if isinstance(raw, dict) else {}
    for key in ("zone", "hostname"):
        if key in raw:
            problems.append(_not_yet(f"{where}.{key}"))
    if isinstance(raw.get("ip"), dict):
        address, port = raw["ip"].get("address"), raw["ip"].get("port")
        try:
            ipaddress.ip_address(str(address))
        except ValueError:
            problems.append(f"{where}.ip.address: {address!r} is not an IP address")
            return None
        return _with_port(BackendEndpoint("ip", str(address), 0), port, f"{where}.ip", problems)
    if isinstance(raw.get("fqdn"), dict):
        hostname, port = raw["fqdn"].get("hostname"), raw["fqdn"].get("port")
        if not isinstance(hostname, str) or not hostname:
            problems.append(f"{where}.fqdn.hostname: give the backend's DNS name")
            return None
        return _with_port(BackendEndpoint("fqdn", hostname.rstrip("."), 0), port,
                          f"{where}.fqdn", problems)
    if isinstance(raw.get("unix"), dict):
        path = raw["unix"].get("path")
        if not isinstance(path, str) or not path:
            problems.append(f"{where}.unix.path: give the socket's path")
            return None
        return BackendEndpoint("unix", path, 0)
    problems.append(f"{where}: give one of ip, fqdn or unix")
    return None


def _with_port(endpoint: BackendEndpoint, port: Any, where: str,
               problems: list[str]) -> BackendEndpoint | None:
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        problems.append(f"{where}.port: {port!r} is not a port: give a number from 1 to 65535")
        return None
    return BackendEndpoint(endpoint.kind, endpoint.address, port)


def _tls(raw: Any, endpoints: tuple[BackendEndpoint, ...],
         problems: list[str]) -> BackendTLSSettings | None:
    if not isinstance(raw, dict):
        return None
    problems.extend(_not_yet(f"spec.tls.{key}") for key in sorted(raw)
                    if key not in _SUPPORTED_TLS)
    refs = tuple(LocalObjectRef(str(r.get("group") or ""), str(r.get("kind") or "ConfigMap"),
                                str(r.get("name") or ""))
                 for r in raw.get("caCertificateRefs") or () if isinstance(r, dict))
    if (raw.get("wellKnownCACertificates") == "System") == bool(refs):
        problems.append("spec.tls: set wellKnownCACertificates to System (the system's trusted "
                        "roots) or caCertificateRefs (ConfigMaps with ca.crt), one of the two")
    sni = raw.get("sni") or next((e.address for e in endpoints if e.kind == "fqdn"), None)
    if not isinstance(sni, str) or not sni:
        problems.append("spec.tls.sni: give the name the backend's certificate carries")
        return None
    return BackendTLSSettings(sni, refs)
