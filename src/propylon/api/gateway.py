"""Typed, frozen models of GatewayClass, Gateway, ListenerSet and ReferenceGrant
(gateway.networking.k8s.io/v1).

`decode(obj)` first fills the CRD defaults (`validation.with_defaults`), then reads the fields the
translator uses. Decoding is lenient: the API server has validated writes already, and the
translator turns whatever remains wrong into conditions rather than exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from propylon.api.meta import ObjectMeta
from propylon.api.validation import with_defaults

GROUP = "gateway.networking.k8s.io"


@dataclass(frozen=True)
class GatewayClass:
    meta: ObjectMeta
    controller_name: str

    @classmethod
    def decode(cls, obj: dict[str, Any]) -> GatewayClass:
        return cls(ObjectMeta.of(obj), str((obj.get("spec") or {}).get("controllerName", "")))


@dataclass(frozen=True)
class SecretRef:
    name: str
    namespace: str | None = None
    group: str = ""
    kind: str = "Secret"


@dataclass(frozen=True)
class LabelSelector:
    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # key, operator, values

    def matches(self, labels: dict[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.match_labels):
            return False
        return all(_expression_matches(labels, key, op, values)
                   for key, op, values in self.match_expressions)


def _expression_matches(labels: dict[str, str], key: str, op: str,
                        values: tuple[str, ...]) -> bool:
    """One matchExpression: In, NotIn, Exists or DoesNotExist; an unknown operator never matches."""
    if op == "In":
        return labels.get(key) in values
    if op == "NotIn":
        return labels.get(key) not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False


@dataclass(frozen=True)
class RouteKind:
    group: str
    kind: str


@dataclass(frozen=True)
class Listener:
    name: str
    port: int
    protocol: str
    hostname: str | None = None
    tls_mode: str | None = None  # None when no tls block
    certificate_refs: tuple[SecretRef, ...] = ()
    namespaces_from: str = "Same"
    selector: LabelSelector | None = None
    kinds: tuple[RouteKind, ...] | None = None  # None: the protocol's default kinds


@dataclass(frozen=True)
class FrontendValidation:
    """`spec.tls.frontend` client-certificate validation: CA references (ConfigMaps) and mode
    (`AllowValidOnly` or `AllowInsecureFallback`)."""

    ca_refs: tuple[SecretRef, ...]
    mode: str = "AllowValidOnly"


@dataclass(frozen=True)
class GatewayAddress:
    type: str
    value: str


@dataclass(frozen=True)
class Gateway:
    meta: ObjectMeta
    class_name: str
    listeners: tuple[Listener, ...]
    addresses: tuple[GatewayAddress, ...] = ()
    infra_labels: tuple[tuple[str, str], ...] = ()
    infra_annotations: tuple[tuple[str, str], ...] = ()
    listener_sets_from: str = "None"  # spec.allowedListeners.namespaces.from
    listener_sets_selector: LabelSelector | None = None
    frontend_default: FrontendValidation | None = None
    frontend_per_port: tuple[tuple[int, FrontendValidation | None], ...] = ()

    def frontend_validation(self, port: int) -> FrontendValidation | None:
        """The client-certificate validation of HTTPS listeners on `port`: a perPort entry
        replaces the default."""
        return dict(self.frontend_per_port).get(port, self.frontend_default)

    @classmethod
    def decode(cls, obj: dict[str, Any]) -> Gateway:
        spec = (with_defaults(obj).get("spec") or {})
        infra = spec.get("infrastructure") or {}
        allowed = (spec.get("allowedListeners") or {}).get("namespaces") or {}
        return cls(
            ObjectMeta.of(obj), str(spec.get("gatewayClassName", "")),
            tuple(_listener(li) for li in spec.get("listeners") or () if isinstance(li, dict)),
            tuple(GatewayAddress(str(a.get("type") or "IPAddress"), str(a.get("value") or ""))
                  for a in spec.get("addresses") or () if isinstance(a, dict)),
            tuple(sorted((infra.get("labels") or {}).items())),
            tuple(sorted((infra.get("annotations") or {}).items())),
            str(allowed.get("from") or "None"), label_selector(allowed.get("selector")),
            *_frontend((spec.get("tls") or {}).get("frontend") or {}),
        )


def _validation(tls: Any) -> FrontendValidation | None:
    validation = tls.get("validation") if isinstance(tls, dict) else None
    if not isinstance(validation, dict):
        return None
    return FrontendValidation(
        tuple(SecretRef(str(r.get("name", "")), r.get("namespace"), str(r.get("group") or ""),
                        str(r.get("kind") or "ConfigMap"))
              for r in validation.get("caCertificateRefs") or () if isinstance(r, dict)),
        str(validation.get("mode") or "AllowValidOnly"))


def _frontend(raw: dict[str, Any]) -> tuple[FrontendValidation | None,
                                             tuple[tuple[int, FrontendValidation | None], ...]]:
    per_port = tuple((int(p.get("port") or 0), _validation(p.get("tls")))
                     for p in raw.get("perPort") or () if isinstance(p, dict))
    return _validation(raw.get("default")), per_port


@dataclass(frozen=True)
class ListenerSetParent:
    name: str
    namespace: str
    group: str = GROUP
    kind: str = "Gateway"


@dataclass(frozen=True)
class ListenerSet:
    """Listeners that attach to a parent Gateway (`spec.parentRef`), owned by another namespace
    or team; the Gateway decides whether it accepts them (`spec.allowedListeners`)."""

    meta: ObjectMeta
    parent: ListenerSetParent
    listeners: tuple[Listener, ...]

    @classmethod
    def decode(cls, obj: dict[str, Any]) -> ListenerSet:
        meta = ObjectMeta.of(obj)
        spec = (with_defaults(obj).get("spec") or {})
        ref = spec.get("parentRef") or {}
        return cls(
            meta,
            ListenerSetParent(str(ref.get("name", "")), str(ref.get("namespace") or meta.namespace),
                              str(ref.get("group", GROUP)), str(ref.get("kind") or "Gateway")),
            tuple(_listener(li) for li in spec.get("listeners") or () if isinstance(li, dict)))


def label_selector(raw: dict[str, Any] | None) -> LabelSelector | None:
    """A LabelSelector from its JSON form (matchLabels, matchExpressions); None for None."""
    if raw is None:
        return None
    return LabelSelector(
        tuple(sorted((raw.get("matchLabels") or {}).items())),
        tuple((str(e.get("key")), str(e.get("operator")), tuple(e.get("values") or ()))
              for e in raw.get("matchExpressions") or ()))


def _listener(raw: dict[str, Any]) -> Listener:
    tls = raw.get("tls")
    routes = raw.get("allowedRoutes") or {}
    namespaces = routes.get("namespaces") or {}
    kinds = routes.get("kinds")
    return Listener(
        name=str(raw.get("name", "")), port=int(raw.get("port") or 0),
        protocol=str(raw.get("protocol", "")), hostname=raw.get("hostname") or None,
        tls_mode=str(tls.get("mode") or "Terminate") if isinstance(tls, dict) else None,
        certificate_refs=tuple(
            SecretRef(str(r.get("name", "")), r.get("namespace"), str(r.get("group") or ""),
                      str(r.get("kind") or "Secret"))
            for r in (tls or {}).get("certificateRefs") or ()),
        namespaces_from=str(namespaces.get("from") or "Same"),
        selector=label_selector(namespaces.get("selector")),
        kinds=None if not kinds else tuple(
            RouteKind(str(k.get("group", GROUP)), str(k.get("kind", ""))) for k in kinds),
    )


@dataclass(frozen=True)
class GrantFrom:
    group: str
    kind: str
    namespace: str


@dataclass(frozen=True)
class GrantTo:
    group: str
    kind: str
    name: str | None


@dataclass(frozen=True)
class ReferenceGrant:
    meta: ObjectMeta
    from_: tuple[GrantFrom, ...]
    to: tuple[GrantTo, ...]

    @classmethod
    def decode(cls, obj: dict[str, Any]) -> ReferenceGrant:
        spec = obj.get("spec") or {}
        return cls(
            ObjectMeta.of(obj),
            tuple(GrantFrom(str(f.get("group", "")), str(f.get("kind", "")), str(f.get("namespace", "")))
                  for f in spec.get("from") or ()),
            tuple(GrantTo(str(t.get("group", "")), str(t.get("kind", "")), t.get("name") or None)
                  for t in spec.get("to") or ()),
        )
