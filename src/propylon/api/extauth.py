"""A SecurityPolicy's `extAuth`, decoded: which service authorises each request, and how.

`ext_auth(raw)` reads `spec.extAuth` into an `ExtAuthSettings` and the list of what is wrong
with it (messages naming the field and the fix): exactly one of `http` and `grpc`, each with
one backend (`backendRef`, or `backendRefs` with a single entry), a core Service (with its
port) or an Envoy Gateway Backend (whose endpoints carry their ports); `http.path` (a prefix put before the request's path in the auth request) or
`http.pathOverride` (the auth request's whole path), `http.headersToBackend` (auth response
headers copied onto the upstream request), `headersToExtAuth` (request headers sent to the
service besides Envoy's defaults), `failOpen`, `bodyToExtAuth.maxRequestBytes`,
`recomputeRoute`, `timeout` (Envoy Gateway's default: 10 s), `statusOnError` (the answer
when the service fails or cannot be reached; Envoy's default 403) and `contextExtensions`
written inline (type Value; sent to gRPC services in the CheckRequest's context).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from propylon.api.formats import duration_ms

DEFAULT_TIMEOUT_MS = 10_000
_DURATION = re.compile(r"^([0-9]{1,5}(h|m|s|ms)){1,4}$")
BACKEND_KINDS = (("", "Service"), ("gateway.envoyproxy.io", "Backend"))
# statusOnError: the 4xx and 5xx codes of the CRD's enum (Envoy's StatusCode names them all)
ERROR_STATUSES = (*range(400, 418), 421, 422, 423, 424, 426, 428, 429, 431, *range(500, 509),
                  510, 511)


@dataclass(frozen=True)
class ServiceRef:
    """The authorisation service: a backend in `namespace` (None: the policy's own)."""

    group: str
    kind: str
    name: str
    namespace: str | None
    port: int | None


@dataclass(frozen=True)
class ExtAuthSettings:
    grpc: bool
    backend: ServiceRef
    path: str = ""
    path_override: str | None = None
    headers_to_backend: tuple[str, ...] = ()
    headers_to_ext_auth: tuple[str, ...] = ()
    fail_open: bool = False
    body_max_bytes: int | None = None
    recompute_route: bool = False
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    status_on_error: int | None = None
    context_extensions: tuple[tuple[str, str], ...] = ()


def ext_auth(raw: Mapping[str, Any]) -> tuple[ExtAuthSettings | None, list[str]]:
    """The decoded `spec.extAuth` (None when unusable), and what is wrong with it."""
    errors: list[str] = []
    http, grpc = raw.get("http"), raw.get("grpc")
    if isinstance(http, Mapping) == isinstance(grpc, Mapping):
        return None, ["spec.extAuth: set exactly one of http and grpc"]
    section: Mapping[str, Any] = http if isinstance(http, Mapping) else grpc  # type: ignore[assignment]
    field = "spec.extAuth.http" if isinstance(http, Mapping) else "spec.extAuth.grpc"
    backend = _backend(section, field, errors)
    timeout = raw.get("timeout")
    timeout_ms = DEFAULT_TIMEOUT_MS
    if timeout is not None:
        if isinstance(timeout, str) and _DURATION.match(timeout):
            timeout_ms = duration_ms(timeout)
        else:
            errors.append(f"spec.extAuth.timeout: {timeout!r} is not a duration: write it as "
                          "10s or 500ms")
    body = raw.get("bodyToExtAuth")
    body_max = body.get("maxRequestBytes") if isinstance(body, Mapping) else None
    if body_max is not None and (not isinstance(body_max, int) or body_max < 1):
        errors.append(f"spec.extAuth.bodyToExtAuth.maxRequestBytes: {body_max!r} is not a "
                      "number of bytes: use 1 or more")
        body_max = None
    extensions = []
    for i, ext in enumerate(raw.get("contextExtensions") or ()):
        if not isinstance(ext, Mapping):
            continue
        if ext.get("type", "Value") != "Value" or "valueRef" in ext:
            errors.append(f"spec.extAuth.contextExtensions[{i}].valueRef is not implemented by "
                          "Propylon yet: write the value inline (type Value, value)")
            continue
        extensions.append((str(ext.get("name", "")), str(ext.get("value", ""))))
    status_on_error = raw.get("statusOnError")
    if status_on_error is not None and status_on_error not in ERROR_STATUSES:
        errors.append(f"spec.extAuth.statusOnError: {status_on_error!r} is not a status Propylon "
                      "can answer with: use a 4xx or 5xx code such as 403 or 503")
    path = str(section.get("path") or "") if isinstance(http, Mapping) else ""
    override = section.get("pathOverride") if isinstance(http, Mapping) else None
    for name, value in (("path", path or None), ("pathOverride", override)):
        if value is not None and not str(value).startswith("/"):
            errors.append(f"{field}.{name}: {value!r} is not a path: start it with /")
    if path and override:
        errors.append(f"{field}: set path or pathOverride, not both")
    if backend is None or errors:
        return None, errors
    return ExtAuthSettings(
        grpc=isinstance(grpc, Mapping), backend=backend, path=path.rstrip("/"),
        path_override=str(override) if override else None,
        headers_to_backend=_strings(section.get("headersToBackend")),
        headers_to_ext_auth=_strings(raw.get("headersToExtAuth")),
        fail_open=bool(raw.get("failOpen")), body_max_bytes=body_max,
        recompute_route=bool(raw.get("recomputeRoute")), timeout_ms=timeout_ms,
        status_on_error=status_on_error, context_extensions=tuple(extensions)), errors


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value or ())


def _backend(section: Mapping[str, Any], field: str, errors: list[str]) -> ServiceRef | None:
    refs = [(f"{field}.backendRef", section["backendRef"])] \
        if isinstance(section.get("backendRef"), Mapping) else []
    refs.extend((f"{field}.backendRefs[{i}]", r)
                for i, r in enumerate(section.get("backendRefs") or ()) if isinstance(r, Mapping))
    if len(refs) != 1:
        errors.append(f"{field}: name the authorisation service in backendRef (or one "
                      f"backendRefs entry); {len(refs)} given")
        return None
    path, ref = refs[0]
    group, kind = str(ref.get("group") or ""), str(ref.get("kind") or "Service")
    if (group, kind) not in BACKEND_KINDS:
        errors.append(f"{path}: kind {kind!r} in group {group!r} is not supported by Propylon "
                      "yet: name a core Service (group \"\", kind Service) or an Envoy Gateway "
                      "Backend (group gateway.envoyproxy.io, kind Backend)")
        return None
    port = ref.get("port")
    if kind == "Backend":
        port = None  # its endpoints carry their ports
    elif not isinstance(port, int):
        errors.append(f"{path}.port: set the Service port of the authorisation service")
        return None
    namespace = ref.get("namespace")
    return ServiceRef(group, kind, str(ref.get("name", "")),
                      str(namespace) if namespace else None, port)
