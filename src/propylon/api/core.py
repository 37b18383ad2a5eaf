"""Typed, frozen models of the core kinds the translator reads: Namespace, Service, EndpointSlice,
Secret, ConfigMap.

Each `decode(obj)` takes the JSON dict the API server returned and fills the defaults Kubernetes
would (Service type ClusterIP, port protocol TCP, targetPort = port). Secret data stays base64 as
stored; `Secret.value(key)` decodes one entry, returning None when it is absent or not base64.
ConfigMap data is plain text. `is_endpoint_address` says whether an EndpointSlice address is an
IP of the slice's addressType (what a proxy can connect to, and what the API validation demands
of IPv4 and IPv6 slices).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from dataclasses import dataclass
from typing import Any

from propylon.api.meta import ObjectMeta

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True)
class Namespace:
    meta: ObjectMeta

    @classmethod
    def decode(cls, obj: dict[str, Any]) -> Namespace:
        return cls(ObjectMeta.of(obj))


@dataclass(frozen=True)
class ServicePort:
    name: str
    port: int
    target_port: int | str
    protocol: str = "TCP"
    app_protocol: str | None = None


@dataclass(frozen=True)
class Service:
    meta: ObjectMeta
    type: str
    cluster_ip: str
    ports: tuple[ServicePort, ...]

    @classmethod
    def decode(cls, obj: dict[str, Any]) -> Service:
        spec = obj.get("spec") or {}
        ports = tuple(
            ServicePort(name=str(p.get("name") or ""), port=int(p.get("port") or 0),
                        target_port=p.get("targetPort") or int(p.get("port") or 0),
                        protocol=str(p.get("protocol") or "TCP"),
                        app_protocol=p.get("appProtocol"))
            for p in spec.get("ports") or () if isinstance(p, dict))
        return cls(ObjectMeta.of(obj), str(spec.get("type") or "ClusterIP"),
                   str(spec.get("clusterIP") or ""), ports)

    def port(self, number: int) -> ServicePort | None:
        return next((p for p in self.ports if p.port == number), None)


_IP_VERSIONS = {"IPv4": 4, "IPv6": 6}


def is_endpoint_address(address: str, address_type: str) -> bool:
    """Whether `address` is an IP address (no zone) of an EndpointSlice's `address_type`."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.version == _IP_VERSIONS.get(address_type) and "%" not in address


def service_of_host(hostname: str) -> tuple[str, str] | None:
    """(namespace, name) of the Service a cluster DNS name names
    (`<service>.<namespace>[.svc[.cluster.local]]`), or None."""
    labels = hostname.split(".")
    if len(labels) in (2, 3, 5) and labels[2:] in ([], ["svc"], ["svc", "cluster", "local"]):
        return labels[1], labels[0]
    return None


@dataclass(frozen=True)
class SliceEndpoint:
    addresses: tuple[str, ...]
    ready: bool  # an absent `ready` means ready, as the EndpointSlice API defines


@dataclass(frozen=True)
class SlicePort:
    name: str
    port: int


@dataclass(frozen=True)
class EndpointSlice:
    meta: ObjectMeta
    address_type: str
    endpoints: tuple[SliceEndpoint, ...]
    ports: tuple[SlicePort, ...]

    @property
    def service_name(self) -> str:
        return self.meta.label_map.get(SERVICE_NAME_LABEL, "")

    @classmethod
    def decode(cls, obj: dict[str, Any]) -> EndpointSlice:
        endpoints = tuple(
            SliceEndpoint(tuple(str(a) for a in e.get("addresses") or ()),
                          (e.get("conditions") or {}).get("ready") is not False)
            for e in obj.get("endpoints") or () if isinstance(e, dict))
        ports = tuple(SlicePort(str(p.get("name") or ""), int(p.get("port") or 0))
                      for p in obj.get("ports") or () if isinstance(p, dict))
        return cls(ObjectMeta.of(obj), str(obj.get("addressType") or ""), endpoints, ports)


@dataclass(frozen=True)
class Secret:
    meta: ObjectMeta
    type: str
    data: tuple[tuple[str, str], ...]  # key -> base64, as stored

    @classmethod
    def decode(cls, obj: dict[str, Any]) -> Secret:
        return cls(ObjectMeta.of(obj), str(obj.get("type") or "Opaque"),
                   tuple(sorted((obj.get("data") or {}).items())))

    def value(self, key: str) -> str | None:
        raw = dict(self.data).get(key)
        if raw is None:
            return None
        try:
            return base64.b64decode(raw, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None


@dataclass(frozen=True)
class ConfigMap:
    meta: ObjectMeta
    data: tuple[tuple[str, str], ...]

    @classmethod
    def decode(cls, obj: dict[str, Any]) -> ConfigMap:
        return cls(ObjectMeta.of(obj),
                   tuple(sorted((str(k), str(v)) for k, v in (obj.get("data") or {}).items())))

    def value(self, key: str) -> str | None:
        return dict(self.data).get(key)
