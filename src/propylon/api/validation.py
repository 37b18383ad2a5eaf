"""Validation of written objects, as the Gateway API CRDs' OpenAPI schemas and CEL rules define it.

`validate(obj)` picks the schema of the object's kind from `SCHEMAS` (a table written in the small
language of `propylon.api.schema`) and returns every `FieldError` found: required fields, enums,
patterns, lengths, item counts, list-map key uniqueness, unknown fields (`unknown=True`, for
strict decoding) and the CEL rules that users hit (unique listener names, TLS required for HTTPS
and forbidden for HTTP, path values starting with '/', filter/type consistency, ...).

`metadata` is free-form here (the API server checks names itself) and `status` is checked loosely
(anything goes). Kinds without a schema validate as `[]`. `with_defaults(obj)` returns a copy
with the CRD defaults filled in, status defaults included (a GatewayClass or Gateway without
status gets the CRDs' "Waiting for controller" conditions). Rules are Python, not the CRD files, so the product needs no data
files at run time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, cast

from propylon.api.core import is_endpoint_address
from propylon.api.formats import DNS_LABEL, DNS_SUBDOMAIN, LABEL_VALUE, duration_ms
from propylon.api.schema import (
    Arr,
    Bool,
    FieldError,
    Free,
    Int,
    Map,
    Node,
    Obj,
    Rule,
    Str,
    cel,
    check,
    defaults,
    each,
    invalid,
)

__all__ = ["FieldError", "validate", "with_defaults", "SCHEMAS"]

HOSTNAME = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
PRECISE_HOSTNAME = DNS_SUBDOMAIN
GROUP_PATTERN = r"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
KIND_PATTERN = r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$"
HEADER_NAME = r"^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$"
PROTOCOL = (r"^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$|[a-z0-9]([-a-z0-9]*[a-z0-9])?"
            r"(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9]+$")
ADDRESS_TYPE = (r"^Hostname|IPAddress|NamedAddress|[a-z0-9]([-a-z0-9]*[a-z0-9])?"
                r"(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9\/\-._~%!$&'()*+,;=:]+$")
DURATION = r"^([0-9]{1,5}(h|m|s|ms)){1,4}$"
LABEL_KEY = (r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
             r"([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$")
PATH_CHARS = r"^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$"

GROUP = Str(pattern=GROUP_PATTERN, max_len=253)
KIND = Str(pattern=KIND_PATTERN, min_len=1, max_len=63)
NAME = Str(min_len=1, max_len=253)
NAMESPACE = Str(pattern=DNS_LABEL, min_len=1, max_len=63)
PORT = Int(minimum=1, maximum=65535)
SECTION = Str(pattern=DNS_SUBDOMAIN, min_len=1, max_len=253)

# ---------------------------------------------------------------------------------------- shared


def loose(fields: Mapping[str, Node]) -> Obj:
    """An object this schema does not check beyond its type, declared only to carry the CRD's
    defaults (`Free(default=...)` leaves) so it is stored as on a cluster."""
    return Obj(fields, open=True)


def _kind_ref(group: str, kind: str) -> Obj:
    return loose({"group": Free(default=group), "kind": Free(default=kind)})


SESSION_PERSISTENCE = Obj({
    "sessionName": Str(max_len=128),
    "absoluteTimeout": Str(pattern=DURATION),
    "type": Str(enum=("Cookie", "Header"), default="Cookie"),
    "cookieConfig": Obj({"lifetimeType": Str(enum=("Permanent", "Session"), default="Session")}),
}, rules=(
    cel("AbsoluteTimeout must be specified when cookie lifetimeType is Permanent",
        lambda p: not isinstance(p.get("cookieConfig"), dict)
        or p["cookieConfig"].get("lifetimeType") != "Permanent" or "absoluteTimeout" in p),
    cel("cookieConfig can only be set with type Cookie",
        lambda p: "cookieConfig" not in p or p.get("type", "Cookie") == "Cookie"),
))

LABEL_SELECTOR = Obj({
    "matchLabels": Map(Str()),
    "matchExpressions": Arr(Obj({
        "key": Str(), "operator": Str(), "values": Arr(Str()),
    }, required=("key", "operator"))),
})

PARAMETERS_REF = Obj({"group": GROUP, "kind": KIND, "name": NAME, "namespace": NAMESPACE},
                     required=("group", "kind", "name"))


def _secret_ref(default_kind: str = "Secret") -> Obj:
    return Obj({"group": Str(pattern=GROUP_PATTERN, max_len=253, default=""),
                "kind": Str(pattern=KIND_PATTERN, min_len=1, max_len=63, default=default_kind),
                "name": NAME, "namespace": NAMESPACE}, required=("name",))


def _keys_valid(what: str, pattern: str) -> Rule:
    return cel(f"{what} keys must be in the form of an optional DNS subdomain prefix followed by "
               "a required name segment of up to 63 characters.",
               lambda m: all(re.search(pattern, k) and len(k.split("/")[0]) < 253 for k in m))


# ---------------------------------------------------------------------------------- GatewayClass

GATEWAY_CLASS_SPEC = Obj({
    "controllerName": Str(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
                                  r"\/[A-Za-z0-9\/\-._~%!$&'()*+,;=:]+$", min_len=1, max_len=253),
    "description": Str(max_len=64),
    "parametersRef": PARAMETERS_REF,
}, required=("controllerName",))

# --------------------------------------------------------------------------------------- Gateway


def _listeners_unique_by_port_protocol_hostname(listeners: list[Any]) -> bool:
    seen = [(li.get("port"), li.get("protocol"), li.get("hostname")) for li in each(listeners)]
    return len(seen) == len(set(seen))


def _no_tls_for(protocols: tuple[str, ...]) -> Any:
    return lambda ls: all("tls" not in li for li in each(ls) if li.get("protocol") in protocols)


def _https_tls_terminate(ls: list[Any]) -> bool:
    return all(li["tls"].get("mode", "") in ("", "Terminate")
               for li in each(ls) if li.get("protocol") == "HTTPS" and isinstance(li.get("tls"), dict))


def _tls_mode_set(ls: list[Any]) -> bool:
    return all(isinstance(li.get("tls"), dict) and li["tls"].get("mode")
               for li in each(ls) if li.get("protocol") == "TLS")


def _no_hostname_for_l4(ls: list[Any]) -> bool:
    return all(not li.get("hostname") for li in each(ls) if li.get("protocol") in ("TCP", "UDP"))


def _unique_rule_names(names: list[Any]) -> bool:
    return len(names) == len(set(names))


def _unique_names(ls: list[Any]) -> bool:
    names = [li.get("name") for li in each(ls)]
    return len(names) == len(set(names))


def _unique_address_values(address_type: str) -> Any:
    def predicate(addresses: list[Any]) -> bool:
        values = [a.get("value") for a in each(addresses)
                  if a.get("type", "IPAddress") == address_type and a.get("value") is not None]
        return len(values) == len(set(values))

    return predicate


def _hostname_address_valid(address: dict[str, Any]) -> bool:
    return (address.get("type", "IPAddress") != "Hostname" or not address.get("value")
            or re.search(HOSTNAME, address["value"]) is not None)


LISTENER = Obj({
    "name": SECTION,
    "hostname": Str(pattern=HOSTNAME, min_len=1, max_len=253),
    "port": PORT,
    "protocol": Str(pattern=PROTOCOL, min_len=1, max_len=255),
    "tls": Obj({
        "mode": Str(enum=("Terminate", "Passthrough"), default="Terminate"),
        "certificateRefs": Arr(_secret_ref(), max_items=64),
        "options": Map(Str(max_len=4096)),
    }, rules=(cel("certificateRefs or options must be specified when mode is Terminate",
                  lambda t: t.get("mode", "Terminate") != "Terminate"
                  or bool(t.get("certificateRefs")) or bool(t.get("options"))),)),
    "allowedRoutes": Obj({
        "namespaces": Obj({
            "from": Str(enum=("All", "Selector", "Same"), default="Same"),
            "selector": LABEL_SELECTOR,
        }, default={"from": "Same"}),
        "kinds": Arr(Obj({"group": Str(pattern=GROUP_PATTERN, max_len=253,
                                       default="gateway.networking.k8s.io"),
                          "kind": KIND}, required=("kind",)), max_items=8),
    }, default={"namespaces": {"from": "Same"}}),
}, required=("name", "port", "protocol"))

_LISTENER_RULES = (
    cel("tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']",
        _no_tls_for(("HTTP", "TCP", "UDP"))),
    cel("tls mode must be Terminate for protocol HTTPS", _https_tls_terminate),
    cel("tls mode must be set for protocol TLS", _tls_mode_set),
    cel("hostname must not be specified for protocols ['TCP', 'UDP']", _no_hostname_for_l4),
    cel("Listener name must be unique within the Gateway", _unique_names),
    cel("Combination of port, protocol and hostname must be unique for each listener",
        _listeners_unique_by_port_protocol_hostname),
)

_FRONTEND_VALIDATION = loose({"validation": loose({"mode": Free(default="AllowValidOnly")})})

GATEWAY_SPEC = Obj({
    "gatewayClassName": NAME,
    "listeners": Arr(LISTENER, max_items=64, min_items=1, keys=("name",), rules=(
        cel("tls must be specified for protocol HTTPS",
            lambda ls: all("tls" in li for li in each(ls) if li.get("protocol") == "HTTPS")),
        *_LISTENER_RULES,
    )),
    "addresses": Arr(Obj({
        "type": Str(pattern=ADDRESS_TYPE, min_len=1, max_len=253, default="IPAddress"),
        "value": Str(max_len=253),
    }, rules=(cel("Hostname value must be empty or contain only valid characters (matching "
                  + HOSTNAME + ")", _hostname_address_valid),)), max_items=16, rules=(
        cel("IPAddress values must be unique", _unique_address_values("IPAddress")),
        cel("Hostname values must be unique", _unique_address_values("Hostname")),
    )),
    "infrastructure": Obj({
        "labels": Map(Str(pattern=LABEL_VALUE, max_len=63), rules=(_keys_valid("Label", LABEL_KEY),)),
        "annotations": Map(Str(max_len=4096), rules=(_keys_valid("Annotation", LABEL_KEY),)),
        "parametersRef": Obj({"group": GROUP, "kind": KIND, "name": NAME},
                             required=("group", "kind", "name")),
    }),
    "allowedListeners": Obj({
        "namespaces": Obj({
            "from": Str(enum=("All", "Selector", "Same", "None"), default="None"),
            "selector": LABEL_SELECTOR,
        }, default={"from": "None"}),
    }),
    "tls": loose({
        "backend": loose({"clientCertificateRef": _kind_ref("", "Secret")}),
        "frontend": loose({"default": _FRONTEND_VALIDATION,
                           "perPort": Arr(loose({"tls": _FRONTEND_VALIDATION}), keys=("port",))}),
    }),
}, required=("gatewayClassName", "listeners"))

# ----------------------------------------------------------------------------------- ListenerSet

LISTENER_SET_SPEC = Obj({
    "parentRef": Obj({
        "group": Str(pattern=GROUP_PATTERN, max_len=253, default="gateway.networking.k8s.io"),
        "kind": Str(pattern=KIND_PATTERN, min_len=1, max_len=63, default="Gateway"),
        "name": NAME, "namespace": NAMESPACE,
    }, required=("name",)),
    "listeners": Arr(LISTENER, max_items=64, min_items=1, keys=("name",), rules=_LISTENER_RULES),
}, required=("listeners", "parentRef"))

# ------------------------------------------------------------------------------------- HTTPRoute

FILTER_TYPES = ("RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror",
                "RequestRedirect", "URLRewrite", "ExtensionRef", "CORS")
FILTER_FIELDS = {"RequestHeaderModifier": "requestHeaderModifier",
                  "ResponseHeaderModifier": "responseHeaderModifier",
                  "RequestMirror": "requestMirror", "RequestRedirect": "requestRedirect",
                  "URLRewrite": "urlRewrite", "ExtensionRef": "extensionRef", "CORS": "cors"}

HEADER_VALUE = Obj({"name": Str(pattern=HEADER_NAME, min_len=1, max_len=256),
                    "value": Str(min_len=1, max_len=4096)}, required=("name", "value"))
HEADER_MODIFIER = Obj({
    "set": Arr(HEADER_VALUE, max_items=16, keys=("name",)),
    "add": Arr(HEADER_VALUE, max_items=16, keys=("name",)),
    "remove": Arr(Str(), max_items=16, unique=True),
})


def _path_modifier_rules() -> tuple[Rule, ...]:
    def field_with_type(type_: str, field_: str) -> Callable[[Any], bool]:
        return lambda p: p.get("type") != type_ or field_ in p

    def type_with_field(type_: str, field_: str) -> Callable[[Any], bool]:
        return lambda p: field_ not in p or p.get("type") == type_

    rules: list[Rule] = []
    for type_, field_ in (("ReplaceFullPath", "replaceFullPath"),
                          ("ReplacePrefixMatch", "replacePrefixMatch")):
        rules.append(cel(f"{field_} must be specified when type is set to '{type_}'",
                         field_with_type(type_, field_)))
        rules.append(cel(f"type must be '{type_}' when {field_} is set",
                         type_with_field(type_, field_)))
    return tuple(rules)


PATH_MODIFIER = Obj({
    "type": Str(enum=("ReplaceFullPath", "ReplacePrefixMatch")),
    "replaceFullPath": Str(max_len=1024),
    "replacePrefixMatch": Str(max_len=1024),
}, required=("type",), rules=_path_modifier_rules())

BACKEND_OBJECT_REF = Obj({
    "group": Str(pattern=GROUP_PATTERN, max_len=253, default=""),
    "kind": Str(pattern=KIND_PATTERN, min_len=1, max_len=63, default="Service"),
    "name": NAME, "namespace": NAMESPACE, "port": PORT,
}, required=("name",), rules=(cel("Must have port for Service reference",
                                  lambda b: not (b.get("group", "") == "" and b.get("kind", "Service")
                                                 == "Service") or "port" in b),))


def _filter_consistency(value: dict[str, Any], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for type_, field_ in FILTER_FIELDS.items():
        if field_ in value and value.get("type") != type_:
            errors.extend(cel(f"filter.{field_} must be nil if the filter.type is not {type_}",
                              lambda _: False)(value, path))
        if field_ not in value and value.get("type") == type_:
            errors.extend(cel(f"filter.{field_} must be specified for {type_} filter.type",
                              lambda _: False)(value, path))
    return errors


CORS_ORIGIN = (r"(^\*$)|(^(http(s)?):\/\/(((\*\.)?([a-zA-Z0-9\-]+\.)*[a-zA-Z0-9-]+|\*)"
               r"(:([0-9]{1,5}))?)$)")
CORS_HEADER = Str(pattern=HEADER_NAME, min_len=1, max_len=256)


def _star_alone(message: str) -> Rule:
    return cel(message, lambda values: not ("*" in values and len(values) > 1))


CORS = Obj({
    "allowOrigins": Arr(Str(pattern=CORS_ORIGIN, min_len=1, max_len=253), max_items=64,
                        unique=True, rules=(
                            _star_alone("AllowOrigins cannot contain '*' alongside other origins"),)),
    "allowCredentials": Bool(),
    "allowMethods": Arr(Str(enum=("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS",
                                  "TRACE", "PATCH", "*")), max_items=9, unique=True, rules=(
        _star_alone("AllowMethods cannot contain '*' alongside other methods"),)),
    "allowHeaders": Arr(CORS_HEADER, max_items=64, unique=True, rules=(
        _star_alone("AllowHeaders cannot contain '*' alongside other methods"),)),
    "exposeHeaders": Arr(CORS_HEADER, max_items=64, unique=True),
    "maxAge": Int(minimum=1, maximum=2**31 - 1, default=5),
})

FILTER = Obj({
    "type": Str(enum=FILTER_TYPES),
    "requestHeaderModifier": HEADER_MODIFIER,
    "responseHeaderModifier": HEADER_MODIFIER,
    "requestMirror": Obj({
        "backendRef": BACKEND_OBJECT_REF,
        "percent": Int(minimum=0, maximum=100),
        "fraction": Obj({"numerator": Int(minimum=0), "denominator": Int(minimum=1, default=100)},
                        required=("numerator",),
                        rules=(cel("numerator must be less than or equal to denominator",
                                   lambda f: f["numerator"] <= f.get("denominator", 100)),)),
    }, required=("backendRef",), rules=(
        cel("Only one of percent or fraction may be specified in HTTPRequestMirrorFilter",
            lambda m: not ("percent" in m and "fraction" in m)),)),
    "requestRedirect": Obj({
        "scheme": Str(enum=("http", "https")),
        "hostname": Str(pattern=PRECISE_HOSTNAME, min_len=1, max_len=253),
        "path": PATH_MODIFIER,
        "port": PORT,
        "statusCode": Int(enum=(301, 302, 303, 307, 308), default=302),
    }),
    "urlRewrite": Obj({"hostname": Str(pattern=PRECISE_HOSTNAME, min_len=1, max_len=253),
                       "path": PATH_MODIFIER}),
    "extensionRef": Obj({"group": GROUP, "kind": KIND, "name": NAME},
                        required=("group", "kind", "name")),
    "cors": CORS,
    "externalAuth": loose({"backendRef": _kind_ref("", "Service")}),
}, required=("type",), rules=(_filter_consistency,))


def _not_repeated(type_: str) -> Rule:
    return cel(f"{type_} filter cannot be repeated",
               lambda fs: sum(1 for f in each(fs) if f.get("type") == type_) <= 1)


FILTERS = Arr(FILTER, max_items=16, rules=(
    cel("May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, "
        "but not both", lambda fs: not ({"RequestRedirect", "URLRewrite"}
                                        <= {f.get("type") for f in each(fs)})),
    *(_not_repeated(t) for t in ("CORS", "RequestHeaderModifier", "ResponseHeaderModifier",
                                 "RequestRedirect", "URLRewrite")),
))

_EXACT_OR_PREFIX = ("Exact", "PathPrefix")
_PATH_RULES: tuple[tuple[str, Any], ...] = (
    ("value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']",
     lambda v: v.startswith("/")),
    *((f"must not contain '{s}' when type one of ['Exact', 'PathPrefix']",
       lambda v, s=s: s not in v) for s in ("//", "/./", "/../", "%2f", "%2F", "#")),
    *((f"must not end with '{s}' when type one of ['Exact', 'PathPrefix']",
       lambda v, s=s: not v.endswith(s)) for s in ("/..", "/.")),
    ("must only contain valid characters (matching " + PATH_CHARS + ") for types "
     "['Exact', 'PathPrefix']", lambda v: re.search(PATH_CHARS, v) is not None),
)


def _path_match_rules(value: dict[str, Any], path: str) -> list[FieldError]:
    if value.get("type", "PathPrefix") not in _EXACT_OR_PREFIX:
        return []
    v = value.get("value", "/")
    errors: list[FieldError] = []
    for message, ok in _PATH_RULES:
        if not ok(v):
            errors.extend(cel(message, lambda _: False)(value, path))
    return errors


STRING_MATCH_TYPES = ("Exact", "RegularExpression")
MATCH = Obj({
    "path": Obj({"type": Str(enum=("Exact", "PathPrefix", "RegularExpression"), default="PathPrefix"),
                 "value": Str(max_len=1024, default="/")},
                default={"type": "PathPrefix", "value": "/"}, rules=(_path_match_rules,)),
    "headers": Arr(Obj({"name": Str(pattern=HEADER_NAME, min_len=1, max_len=256),
                        "type": Str(enum=STRING_MATCH_TYPES, default="Exact"),
                        "value": Str(min_len=1, max_len=4096)}, required=("name", "value")),
                   max_items=16, keys=("name",)),
    "queryParams": Arr(Obj({"name": Str(pattern=HEADER_NAME, min_len=1, max_len=256),
                            "type": Str(enum=STRING_MATCH_TYPES, default="Exact"),
                            "value": Str(min_len=1, max_len=1024)}, required=("name", "value")),
                       max_items=16, keys=("name",)),
    "method": Str(enum=("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE",
                        "PATCH")),
})

_DEFAULT_MATCHES = [{"path": {"type": "PathPrefix", "value": "/"}}]


def _redirect_prefix_needs_one_prefix_match(rule: dict[str, Any]) -> bool:
    uses = any(isinstance(f.get(k), dict) and isinstance(f[k].get("path"), dict)
               and f[k]["path"].get("type") == "ReplacePrefixMatch"
               for f in each(rule.get("filters") or []) for k in ("requestRedirect", "urlRewrite"))
    if not uses:
        return True
    matches = rule.get("matches", _DEFAULT_MATCHES)
    return len(matches) == 1 and (matches[0].get("path") or {}).get("type", "PathPrefix") == "PathPrefix"


RULE = Obj({
    "name": SECTION,
    "matches": Arr(MATCH, max_items=64, default=_DEFAULT_MATCHES),
    "filters": FILTERS,
    "backendRefs": Arr(Obj({
        "group": Str(pattern=GROUP_PATTERN, max_len=253, default=""),
        "kind": Str(pattern=KIND_PATTERN, min_len=1, max_len=63, default="Service"),
        "name": NAME, "namespace": NAMESPACE, "port": PORT,
        "weight": Int(minimum=0, maximum=1_000_000, default=1),
        "filters": FILTERS,
    }, required=("name",), rules=BACKEND_OBJECT_REF.rules), max_items=16),
    "timeouts": Obj({"request": Str(pattern=DURATION), "backendRequest": Str(pattern=DURATION)},
                    rules=(cel("backendRequest timeout cannot be longer than request timeout",
                               lambda t: not ("request" in t and "backendRequest" in t
                                              and duration_ms(t["request"]) != 0
                                              and duration_ms(t["backendRequest"])
                                              > duration_ms(t["request"]))),)),
    "retry": Obj({"attempts": Int(minimum=1),
                  "codes": Arr(Int(minimum=400, maximum=599), unique=True),
                  "backoff": Str(pattern=DURATION)}),
    "sessionPersistence": SESSION_PERSISTENCE,
}, rules=(
    cel("RequestRedirect filter must not be used together with backendRefs",
        lambda r: not r.get("backendRefs")
        or not any("requestRedirect" in f for f in each(r.get("filters") or []))),
    cel("When using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix "
        "match must be specified", _redirect_prefix_needs_one_prefix_match),
))


def _same_parent(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(a.get(k, d) == b.get(k, d) for k, d in (
        ("group", "gateway.networking.k8s.io"), ("kind", "Gateway"), ("name", None),
        ("namespace", "")))


def _section_unique(refs: list[Any]) -> bool:
    keys = [(r.get("group", "gateway.networking.k8s.io"), r.get("kind", "Gateway"), r.get("name"),
             r.get("namespace", ""), r.get("sectionName", ""), r.get("port")) for r in each(refs)]
    return len(keys) == len(set(keys))


def _section_given(refs: list[Any]) -> bool:
    rs = each(refs)
    return all(not _same_parent(a, b) or (a.get("sectionName") and b.get("sectionName"))
               or (a.get("port") and b.get("port"))
               for i, a in enumerate(rs) for b in rs[i + 1:])


PARENT_REF = Obj({
    "group": Str(pattern=GROUP_PATTERN, max_len=253, default="gateway.networking.k8s.io"),
    "kind": Str(pattern=KIND_PATTERN, min_len=1, max_len=63, default="Gateway"),
    "namespace": NAMESPACE, "name": NAME, "sectionName": SECTION, "port": PORT,
}, required=("name",))

HTTP_ROUTE_SPEC = Obj({
    "parentRefs": Arr(PARENT_REF, max_items=32, rules=(
        cel("sectionName must be specified when parentRefs includes 2 or more references to the "
            "same parent", _section_given),
        cel("sectionName must be unique when parentRefs includes 2 or more references to the "
            "same parent", _section_unique),
    )),
    "hostnames": Arr(Str(pattern=HOSTNAME, min_len=1, max_len=253), max_items=16),
    "rules": Arr(RULE, max_items=16, min_items=1, default=[{"matches": _DEFAULT_MATCHES}], rules=(
        cel("While 16 rules and 64 matches per rule are allowed, the total number of matches "
            "across all rules in a route must be less than 128",
            lambda rs: sum(len(r.get("matches") or []) for r in each(rs)) <= 128),
        cel("Rule name must be unique within the route",
            lambda rs: _unique_rule_names([r.get("name") for r in each(rs) if "name" in r])),
    )),
})

# ------------------------------------------------------------------------------------- GRPCRoute

GRPC_SERVICE = r"(?i)^\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$"
GRPC_METHOD = r"^[A-Za-z_][A-Za-z_0-9]*$"
GRPC_FILTER_TYPES = ("RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror",
                     "ExtensionRef")


def _exact_name(key: str, pattern: str) -> Rule:
    return cel(f"{key} must only contain valid characters (matching {pattern})",
               lambda m: m.get("type", "Exact") != "Exact" or key not in m
               or re.search(pattern, str(m[key])) is not None)


GRPC_METHOD_MATCH = Obj({
    "type": Str(enum=STRING_MATCH_TYPES, default="Exact"),
    "service": Str(max_len=1024),
    "method": Str(max_len=1024),
}, rules=(cel("One or both of 'service' or 'method' must be specified",
              lambda m: bool(m.get("service") or m.get("method"))),
          _exact_name("service", GRPC_SERVICE), _exact_name("method", GRPC_METHOD)))

GRPC_FILTER = Obj({
    "type": Str(enum=GRPC_FILTER_TYPES),
    **{name: FILTER.fields[name] for name in (
        "requestHeaderModifier", "responseHeaderModifier", "requestMirror", "extensionRef")},
}, required=("type",), rules=(_filter_consistency,))
GRPC_FILTERS = Arr(GRPC_FILTER, max_items=16, rules=tuple(
    _not_repeated(t) for t in ("RequestHeaderModifier", "ResponseHeaderModifier")))

GRPC_RULE = Obj({
    "name": SECTION,
    "matches": Arr(Obj({
        "method": GRPC_METHOD_MATCH,
        "headers": Arr(Obj({"name": Str(pattern=HEADER_NAME, min_len=1, max_len=256),
                            "type": Str(enum=STRING_MATCH_TYPES, default="Exact"),
                            "value": Str(min_len=1, max_len=4096)}, required=("name", "value")),
                       max_items=16, keys=("name",)),
    }), max_items=64),
    "filters": GRPC_FILTERS,
    "backendRefs": Arr(Obj({
        "group": Str(pattern=GROUP_PATTERN, max_len=253, default=""),
        "kind": Str(pattern=KIND_PATTERN, min_len=1, max_len=63, default="Service"),
        "name": NAME, "namespace": NAMESPACE, "port": PORT,
        "weight": Int(minimum=0, maximum=1_000_000, default=1),
        "filters": GRPC_FILTERS,
    }, required=("name",), rules=BACKEND_OBJECT_REF.rules), max_items=16),
    "sessionPersistence": SESSION_PERSISTENCE,
})

GRPC_ROUTE_SPEC = Obj({
    "parentRefs": HTTP_ROUTE_SPEC.fields["parentRefs"],
    "hostnames": HTTP_ROUTE_SPEC.fields["hostnames"],
    "rules": Arr(GRPC_RULE, max_items=16, rules=cast(Arr, HTTP_ROUTE_SPEC.fields["rules"]).rules),
})

# --------------------------------------------------------------------------- TCPRoute, UDPRoute

_L4_BACKEND_REF = Obj({
    key: field_ for key, field_ in cast(Obj, cast(Arr, RULE.fields["backendRefs"]).items).fields.items()
    if key != "filters"}, required=("name",), rules=BACKEND_OBJECT_REF.rules)

# v1 of both allows one rule (v1alpha2 allowed 16; an object is stored as v1)
L4_ROUTE_SPEC = Obj({
    "parentRefs": HTTP_ROUTE_SPEC.fields["parentRefs"],
    "rules": Arr(Obj({"name": SECTION,
                      "backendRefs": Arr(_L4_BACKEND_REF, max_items=16, min_items=1)},
                     required=("backendRefs",)), max_items=1, min_items=1),
}, required=("rules",))

# -------------------------------------------------------------------------------- ReferenceGrant

REFERENCE_GRANT_SPEC = Obj({
    "from": Arr(Obj({"group": GROUP, "kind": KIND, "namespace": NAMESPACE},
                    required=("group", "kind", "namespace")), max_items=16, min_items=1),
    "to": Arr(Obj({"group": GROUP, "kind": KIND, "name": NAME}, required=("group", "kind")),
              max_items=16, min_items=1),
}, required=("from", "to"))

# ------------------------------------------------------------------------------ BackendTLSPolicy

WELL_KNOWN_CA = (r"^(System|([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/"
                 r"([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]))$")
URI = r"^(([^:/?#]+):)(//([^/?#]*))([^?#]*)(\?([^#]*))?(#(.*))?"


def _target(ref: dict[str, Any]) -> tuple[Any, Any, Any]:
    return (ref.get("group"), ref.get("kind"), ref.get("name"))


def _targets_sectioned_alike(refs: list[Any]) -> bool:
    rs = each(refs)
    return all(_target(a) != _target(b) or bool(a.get("sectionName")) == bool(b.get("sectionName"))
               for a in rs for b in rs)


def _targets_unique(refs: list[Any]) -> bool:
    keys = [(*_target(r), r.get("sectionName") or "") for r in each(refs)]
    return len(keys) == len(set(keys))


def _san_field(type_: str, key: str) -> tuple[Rule, Rule]:
    label = "Hostname" if key == "hostname" else "URI"
    return (cel(f"SubjectAltName element must contain {label}, if Type is set to {type_}",
                lambda s: s.get("type") != type_ or bool(s.get(key))),
            cel(f"SubjectAltName element must not contain {label}, if Type is not set to {type_}",
                lambda s: s.get("type") == type_ or not s.get(key)))


BACKEND_TLS_POLICY_SPEC = Obj({
    "targetRefs": Arr(Obj({
        "group": GROUP, "kind": KIND, "name": NAME, "sectionName": SECTION,
    }, required=("group", "kind", "name")), max_items=16, min_items=1, rules=(
        cel("sectionName must be specified when targetRefs includes 2 or more references to the "
            "same target", _targets_sectioned_alike),
        cel("sectionName must be unique when targetRefs includes 2 or more references to the same "
            "target", _targets_unique),
    )),
    "validation": Obj({
        "caCertificateRefs": Arr(Obj({"group": GROUP, "kind": KIND, "name": NAME},
                                     required=("group", "kind", "name")), max_items=8),
        "wellKnownCACertificates": Str(pattern=WELL_KNOWN_CA, min_len=1, max_len=253),
        "hostname": Str(pattern=PRECISE_HOSTNAME, min_len=1, max_len=253),
        "subjectAltNames": Arr(Obj({
            "type": Str(enum=("Hostname", "URI")),
            "hostname": Str(pattern=HOSTNAME, min_len=1, max_len=253),
            "uri": Str(pattern=URI, min_len=1, max_len=253),
        }, required=("type",), rules=(*_san_field("Hostname", "hostname"),
                                      *_san_field("URI", "uri"))), max_items=5),
    }, required=("hostname",), rules=(
        cel("must not contain both CACertificateRefs and WellKnownCACertificates",
            lambda v: not (v.get("caCertificateRefs") and v.get("wellKnownCACertificates"))),
        cel("must specify either CACertificateRefs or WellKnownCACertificates",
            lambda v: bool(v.get("caCertificateRefs") or v.get("wellKnownCACertificates"))),
    )),
    "options": Map(Str(max_len=4096), rules=(
        cel("options must have at most 16 entries", lambda m: len(m) <= 16),)),
}, required=("targetRefs", "validation"))

# ------------------------------------------------------------------------------------------ core

SERVICE_SPEC = Obj({
    "type": Str(enum=("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"), default="ClusterIP"),
    "ports": Arr(Obj({
        "name": Str(max_len=63),
        "port": PORT,
        "targetPort": Free(),
        "protocol": Str(enum=("TCP", "UDP", "SCTP"), default="TCP"),
        "appProtocol": Str(),
        "nodePort": Int(minimum=0, maximum=65535),
    }, required=("port",), rules=(cel("must be between 1 and 65535, inclusive", lambda p: (
        not isinstance(p.get("targetPort"), int) or 1 <= p["targetPort"] <= 65535), ".targetPort"),)),
        keys=("port", "protocol")),
}, open=True)

def _endpoint_addresses(value: dict[str, Any], path: str) -> list[FieldError]:
    """Each address is an IP of the slice's addressType (FQDN: a DNS subdomain), as
    kube-apiserver checks it."""
    address_type = value.get("addressType")
    errors: list[FieldError] = []
    for i, endpoint in enumerate(each(value.get("endpoints") or [])):
        for j, address in enumerate(endpoint.get("addresses") or []):
            where = f"{path + '.' if path else ''}endpoints[{i}].addresses[{j}]"
            if address_type == "FQDN":
                ok = isinstance(address, str) and len(address) <= 253 \
                    and re.search(DNS_SUBDOMAIN, address) is not None
                fix = "must be a lowercase RFC 1123 subdomain"
            else:
                ok = isinstance(address, str) and is_endpoint_address(address, str(address_type))
                fix = f"must be a valid {address_type} address"
            if not ok:
                errors.append(invalid(where, address, fix))
    return errors


ENDPOINT_SLICE = Obj({
    "addressType": Str(enum=("IPv4", "IPv6", "FQDN")),
    "endpoints": Arr(Obj({
        "addresses": Arr(Str(), min_items=1, max_items=100),
        "conditions": Obj({"ready": Bool(), "serving": Bool(), "terminating": Bool()}),
    }, required=("addresses",), open=True), max_items=1000),
    "ports": Arr(Obj({"name": Str(max_len=63), "port": Int(minimum=0, maximum=65535),
                      "protocol": Str(enum=("TCP", "UDP", "SCTP"), default="TCP"),
                      "appProtocol": Str()}), max_items=100),
    "apiVersion": Free(), "kind": Free(), "metadata": Free(),
}, required=("addressType",), rules=(_endpoint_addresses,))

SECRET = Obj({
    "type": Str(), "data": Map(Str(pattern=r"^[A-Za-z0-9+/]*={0,2}$")), "stringData": Map(Str()),
    "immutable": Bool(), "apiVersion": Free(), "kind": Free(), "metadata": Free(),
})


# ------------------------------------------------------------------ GatewayParameters (propylon.dev)

QUANTITY = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?[0-9]+))?$"
SERVICE_TYPES = ("LoadBalancer", "NodePort", "ClusterIP")


def _quantities(values: Any) -> bool:
    return all(isinstance(v, int) or (isinstance(v, str) and re.search(QUANTITY, v))
               for v in (values or {}).values())


RESOURCE_LIST = Map(Free(), rules=(cel("quantities must be numbers such as 100m, 128Mi or 2",
                                       _quantities),))
GATEWAY_PARAMETERS_SPEC = Obj({
    "image": Str(min_len=1, max_len=1024),
    "replicas": Int(minimum=0, maximum=1000),
    "resources": Obj({"requests": RESOURCE_LIST, "limits": RESOURCE_LIST}),
    "nodeSelector": Map(Str(pattern=LABEL_VALUE, max_len=63),
                        rules=(_keys_valid("Label", LABEL_KEY),)),
    "tolerations": Arr(Obj({
        "key": Str(), "operator": Str(enum=("Exists", "Equal")), "value": Str(),
        "effect": Str(enum=("", "NoSchedule", "PreferNoSchedule", "NoExecute")),
        "tolerationSeconds": Int(),
    })),
    "affinity": Obj({"nodeAffinity": Free(), "podAffinity": Free(), "podAntiAffinity": Free()}),
    "podLabels": Map(Str(pattern=LABEL_VALUE, max_len=63), rules=(_keys_valid("Label", LABEL_KEY),)),
    "podAnnotations": Map(Str(), rules=(_keys_valid("Annotation", LABEL_KEY),)),
    "serviceType": Str(enum=SERVICE_TYPES),
    "concurrency": Int(minimum=1, maximum=1024),
    "autoscaling": Obj({"minReplicas": Int(minimum=1), "maxReplicas": Int(minimum=1),
                        "metrics": Arr(Obj({}, open=True)), "behavior": Obj({}, open=True)},
                       required=("maxReplicas",)),
    "podDisruptionBudget": Obj({"minAvailable": Free(), "maxUnavailable": Free()}),
    "topologySpreadConstraints": Arr(Obj({}, open=True)),
    "priorityClassName": Str(max_len=253),
    "imagePullSecrets": Arr(Obj({"name": Str()}, required=("name",))),
    "podSecurityContext": Obj({}, open=True),
    "securityContext": Obj({}, open=True),
})


# ---------------------------------------------------------------------------------------- status
# Checked loosely (open objects, free values) but defaulted as the CRDs default it: a class or
# Gateway no controller has written shows "Waiting for controller", and references written by a
# controller get their group and kind.

EPOCH = "1970-01-01T00:00:00Z"


def _pending(*types: str) -> list[dict[str, str]]:
    """The CRDs' default conditions: each type Unknown, reason Pending, at the epoch."""
    return [{"lastTransitionTime": EPOCH, "message": "Waiting for controller",
             "reason": "Pending", "status": "Unknown", "type": t} for t in types]


def _waiting(*types: str, fields: Mapping[str, Node] | None = None) -> Obj:
    return Obj({"conditions": Arr(Free(), default=_pending(*types)), **(fields or {})},
               open=True, default={"conditions": _pending(*types)})


_SUPPORTED_KINDS = {"listeners": Arr(loose({"supportedKinds": Arr(loose({
    "group": Free(default="gateway.networking.k8s.io")}))}))}
_PARENT = _kind_ref("gateway.networking.k8s.io", "Gateway")
ROUTE_STATUS = loose({"parents": Arr(loose({"parentRef": _PARENT}))})
POLICY_STATUS = loose({"ancestors": Arr(loose({"ancestorRef": _PARENT}))})
GATEWAY_CLASS_STATUS = _waiting("Accepted")
GATEWAY_STATUS = _waiting("Accepted", "Programmed", fields={
    "addresses": Arr(loose({"type": Free(default="IPAddress")})), **_SUPPORTED_KINDS})
LISTENER_SET_STATUS = _waiting("Accepted", "Programmed", fields=_SUPPORTED_KINDS)


def _with_spec(spec: Node, status: Node | None = None) -> Obj:
    return Obj({"apiVersion": Free(), "kind": Free(), "metadata": Free(), "spec": spec,
                "status": status or Free()})


SCHEMAS: Mapping[tuple[str, str], Node] = {
    ("gateway.networking.k8s.io", "GatewayClass"): _with_spec(GATEWAY_CLASS_SPEC, GATEWAY_CLASS_STATUS),
    ("gateway.networking.k8s.io", "Gateway"): _with_spec(GATEWAY_SPEC, GATEWAY_STATUS),
    ("gateway.networking.k8s.io", "ListenerSet"): _with_spec(LISTENER_SET_SPEC, LISTENER_SET_STATUS),
    ("gateway.networking.k8s.io", "HTTPRoute"): _with_spec(HTTP_ROUTE_SPEC, ROUTE_STATUS),
    ("gateway.networking.k8s.io", "GRPCRoute"): _with_spec(GRPC_ROUTE_SPEC, ROUTE_STATUS),
    ("gateway.networking.k8s.io", "ReferenceGrant"): _with_spec(REFERENCE_GRANT_SPEC),
    ("gateway.networking.k8s.io", "TCPRoute"): _with_spec(L4_ROUTE_SPEC, ROUTE_STATUS),
    ("gateway.networking.k8s.io", "UDPRoute"): _with_spec(L4_ROUTE_SPEC, ROUTE_STATUS),
    ("gateway.networking.k8s.io", "BackendTLSPolicy"): _with_spec(BACKEND_TLS_POLICY_SPEC, POLICY_STATUS),
    ("", "Namespace"): _with_spec(Obj({"finalizers": Arr(Str())})),
    ("", "Service"): _with_spec(SERVICE_SPEC),
    ("discovery.k8s.io", "EndpointSlice"): ENDPOINT_SLICE,
    ("", "Secret"): SECRET,
    ("propylon.dev", "GatewayParameters"): _with_spec(GATEWAY_PARAMETERS_SPEC),
}

_REQUIRES_SPEC = {"GatewayClass", "Gateway", "ListenerSet", "HTTPRoute", "GRPCRoute",
                  "ReferenceGrant", "BackendTLSPolicy", "TCPRoute", "UDPRoute"}


def _schema_of(obj: dict[str, Any]) -> Node | None:
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    return SCHEMAS.get((group, str(obj.get("kind", ""))))


def validate(obj: dict[str, Any]) -> list[FieldError]:
    """Every way `obj` breaks its kind's schema; [] for kinds without a schema."""
    schema = _schema_of(obj)
    if schema is None:
        return []
    errors = check(schema, obj)
    if obj.get("kind") in _REQUIRES_SPEC and obj.get("spec") is None:
        errors.insert(0, FieldError("spec", "FieldValueRequired", "Required value"))
    return errors


def with_defaults(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of `obj` with the CRD defaults filled in (unchanged for kinds without a schema)."""
    schema = _schema_of(obj)
    return obj if schema is None else defaults(schema, obj)
