"""The decoded inputs of a conversion: Ingress objects, as frozen values.

`decode_ingress(obj)` reads a `networking.k8s.io/v1` Ingress manifest: its rules (host and HTTP
paths with pathType), TLS sections, default backend and annotations. A backend is a Service with a
port number or name, or a resource reference (which the conversion refuses). Missing or odd fields
decode to empty values; the conversion reports what it cannot use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Json = Mapping[str, Any]

#: The prefix of ingress-nginx's annotations (its default `--annotations-prefix`).
PREFIX = "nginx.ingress.kubernetes.io/"


@dataclass(frozen=True)
class Backend:
    """A path's backend: a Service port (by number or by name), or a resource reference."""
    service: str = ""
    port_number: int | None = None
    port_name: str = ""
    resource: str = ""          # "Kind/name" of a resource backend


@dataclass(frozen=True)
class Path:
    path: str
    path_type: str              # Exact, Prefix or ImplementationSpecific
    backend: Backend
    at: str                     # field path, e.g. "spec.rules[0].http.paths[1]"


@dataclass(frozen=True)
class Rule:
    host: str                   # "" for a rule without host
    paths: tuple[Path, ...]


@dataclass(frozen=True)
class TLS:
    hosts: tuple[str, ...]
    secret: str
    at: str


@dataclass(frozen=True)
class Ingress:
    namespace: str
    name: str
    class_name: str             # the kubernetes.io/ingress.class annotation, else the spec's
    annotations: Mapping[str, str]  # ingress-nginx's, keyed without PREFIX
    other_annotations: Mapping[str, str]
    rules: tuple[Rule, ...]
    tls: tuple[TLS, ...]
    default_backend: Backend | None
    created: str                # creationTimestamp, "" if unknown (ingress-nginx's order)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(rule.host for rule in self.rules))


def _map(value: Any) -> Json:
    return value if isinstance(value, Mapping) else {}


def _maps(value: Any) -> tuple[Json, ...]:
    """The mappings of a list (a malformed entry is skipped: the API server would refuse it)."""
    return tuple(v for v in value if isinstance(v, Mapping)) if isinstance(value, list) else ()


def decode_ingress(obj: Json) -> Ingress:
    meta = _map(obj.get("metadata"))
    spec = _map(obj.get("spec"))
    raw = {str(k): str(v) for k, v in _map(meta.get("annotations")).items()}
    ours = {k[len(PREFIX):]: v for k, v in raw.items() if k.startswith(PREFIX)}
    others = {k: v for k, v in raw.items() if not k.startswith(PREFIX)}
    class_name = others.get("kubernetes.io/ingress.class") or str(spec.get("ingressClassName") or "")
    rules = tuple(
        Rule(host=str(rule.get("host") or "").lower(),
             paths=tuple(_path(p, f"spec.rules[{i}].http.paths[{j}]")
                         for j, p in enumerate(_maps(_map(rule.get("http")).get("paths")))))
        for i, rule in enumerate(_maps(spec.get("rules"))))
    tls = tuple(TLS(hosts=tuple(str(h).lower() for h in t.get("hosts") or () if h),
                    secret=str(t.get("secretName") or ""), at=f"spec.tls[{i}]")
                for i, t in enumerate(_maps(spec.get("tls"))))
    default = spec.get("defaultBackend")
    return Ingress(namespace=str(meta.get("namespace") or "default"), name=str(meta.get("name")),
                   class_name=class_name, annotations=ours, other_annotations=others,
                   rules=rules, tls=tls,
                   default_backend=_backend(default) if isinstance(default, Mapping) else None,
                   created=str(meta.get("creationTimestamp") or ""))


def _path(raw: Json, at: str) -> Path:
    return Path(path=str(raw.get("path") or "/"),
                path_type=str(raw.get("pathType") or "ImplementationSpecific"),
                backend=_backend(_map(raw.get("backend"))), at=at)


def _backend(raw: Json) -> Backend:
    resource = raw.get("resource")
    if isinstance(resource, Mapping):
        return Backend(resource=f"{resource.get('kind')}/{resource.get('name')}")
    service = _map(raw.get("service"))
    port = _map(service.get("port"))
    number = port.get("number")
    return Backend(service=str(service.get("name") or ""),
                   port_number=int(number) if isinstance(number, int) else None,
                   port_name=str(port.get("name") or ""))
