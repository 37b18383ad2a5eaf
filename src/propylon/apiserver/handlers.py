"""HTTP routing: discovery, OpenAPI and the REST paths of every kind.

Resource paths are parsed by hand: `/api/v1/...` (core) or `/apis/<group>/<version>/...`, then
`[namespaces/<ns>/]<plural>[/<name>[/status]]`. The verb comes from the method (GET with
`watch=true` is a watch). Two paths are no stored kind: a TokenRequest (`POST
.../serviceaccounts/<name>/token`) and a TokenReview (`POST
/apis/authentication.k8s.io/v1/tokenreviews`), answered by `tokens`.
Bodies are decoded from JSON or YAML by Content-Type (a YAML body that
is JSON, as kubectl sends an apply, is decoded as JSON). A JSON field given twice keeps its last
value and is refused, warned about or ignored as `fieldValidation` says, like unknown fields in
`admission`. Protobuf bodies of built-in kinds, as kubectl's `create` sends them, are decoded to
the same JSON (`protobody`); other formats get a 415 Status; a body over 3 MiB gets 413, as from
kube-apiserver. Responses are objects, Lists, or Tables when the
Accept header asks for `as=Table`; a List of every object (no selector, no `limit`) is assembled
from the objects' stored JSON without decoding it. A middleware checks the bearer token in constant time
(everything but `/healthz`) and turns every error into a `Status` (a write the storage refused:
500 with the storage's cause).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import yaml
from aiohttp import web

from propylon.api.kinds import KindInfo
from propylon.apiserver import (
    audit,
    bundledcrds,
    discovery,
    openapi,
    protobody,
    swaggerproto,
    tokens,
)
from propylon.apiserver.admission import field_validation
from propylon.apiserver.errors import (
    JSON_CONTENT_TYPE,
    APIError,
    StrictDecodingError,
    bad_request,
    invalid,
    json_response,
    resource_not_found,
    storage_failure,
    to_response,
    unsupported_media_type,
)
from propylon.apiserver.events import EventHub
from propylon.apiserver.registry import APPLY_PATCH, Registry
from propylon.apiserver.selectors import selectors
from propylon.apiserver.storage import StorageError
from propylon.apiserver.table import to_table, wants_table
from propylon.apiserver.watch import serve_watch

log = logging.getLogger(__name__)

_JSON_TYPES = ("application/json", "application/merge-patch+json",
               "application/json-patch+json", "application/strategic-merge-patch+json")
_YAML_TYPES = ("application/yaml", APPLY_PATCH)
# query parameters that make a list send less than every object
_PARTIAL_LIST = ("labelSelector", "fieldSelector", "limit", "continue")

# kube-apiserver's limit on a request body (3 MiB); a larger one is answered 413
MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _respond(obj: Any, status: int, warnings: list[str]) -> web.Response:
    resp = json_response(obj, status)
    for warning in warnings:
        resp.headers.add("Warning", "299 - " + json.dumps(warning))
    return resp


def _loads(raw: bytes, duplicates: list[str]) -> Any:
    """`json.loads`, appending to `duplicates` the path of every field given twice (the last
    value is kept, as in kube-apiserver)."""
    seen: dict[int, list[str]] = {}

    def pairs_to_dict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) < len(pairs):
            seen[id(obj)] = _repeated([k for k, _ in pairs])
        return obj

    value = json.loads(raw, object_pairs_hook=pairs_to_dict)
    if seen:
        _duplicate_paths(value, "", seen, duplicates)
    return value


def _repeated(keys: list[str]) -> list[str]:
    """Each key given again after its first occurrence, once per repetition, in order."""
    first: set[str] = set()
    repeated: list[str] = []
    for key in keys:
        if key in first:
            repeated.append(key)
        else:
            first.add(key)
    return repeated


def _duplicate_paths(value: Any, path: str, seen: dict[int, list[str]], out: list[str]) -> None:
    if isinstance(value, dict):
        out.extend(f"{path}.{key}" if path else key for key in seen.get(id(value), ()))
        for key, child in value.items():
            _duplicate_paths(child, f"{path}.{key}" if path else key, seen, out)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            _duplicate_paths(child, f"{path}[{i}]", seen, out)


def _strict_decoding(validation: str, duplicates: list[str]) -> list[str]:
    """Fields given twice under `fieldValidation`: Strict refuses them (400), Warn returns one
    warning each, Ignore says nothing."""
    if duplicates and validation == "Strict":
        raise StrictDecodingError([f'duplicate field "{f}"' for f in duplicates])
    return [f'duplicate field "{f}"' for f in duplicates] if validation == "Warn" else []


async def _decode_body(request: web.Request, required: bool = True,
                       duplicates: list[str] | None = None) -> Any:
    """The request's body decoded; the paths of JSON fields given twice go to `duplicates`."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as err:
        raise APIError(413, "RequestEntityTooLarge", "Request entity too large: limit is "
                       f"{MAX_REQUEST_BODY_BYTES}") from err
    if not raw:
        if required:
            raise bad_request("the request needs a body (a JSON object)")
        return None
    content_type = request.content_type
    found: list[str] = duplicates if duplicates is not None else []
    try:
        if content_type in _JSON_TYPES:
            return _loads(raw, found)
        if content_type in _YAML_TYPES:
            if raw.lstrip()[:1] == b"{":  # JSON, which kubectl sends: checked for duplicates
                with contextlib.suppress(ValueError):
                    return _loads(raw, found)
            return yaml.safe_load(raw)
    except (ValueError, yaml.YAMLError) as err:
        raise bad_request(f"the request body is not valid {content_type}: {err}") from err
    if content_type == protobody.CONTENT_TYPE:
        return protobody.decode(raw)
    raise unsupported_media_type(content_type, ["application/json", "application/yaml",
                                                protobody.CONTENT_TYPE])


class Routes:
    """The aiohttp handlers of one API server."""

    def __init__(self, registry: Registry, hub: EventHub, token: str,
                 bookmark_interval: float, audit: Callable[[audit.Request], None] | None = None
                 ) -> None:
        self.audit = audit
        self.registry = registry
        self.catalog = registry.catalog
        self.hub = hub
        self.token = token
        self.bookmark_interval = bookmark_interval
        self.token_key = secrets.token_bytes(32)  # signs ServiceAccount tokens (`tokens`)

    def install(self, app: web.Application) -> None:
        app.middlewares.append(self.middleware)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.healthz)
        app.router.add_get("/livez", self.healthz)
        app.router.add_get("/version", self.version)
        app.router.add_get("/api", self.core_discovery)
        app.router.add_get("/apis", self.group_discovery)
        app.router.add_get("/openapi/v2", self.openapi_v2)
        app.router.add_get("/openapi/v3", self.openapi_root)
        app.router.add_get("/openapi/v3/{gv:.+}", self.openapi_gv)
        app.router.add_route("*", "/api/{tail:.*}", self.resource)
        app.router.add_route("*", "/apis/{tail:.*}", self.resource)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get("Authorization", "").encode(errors="surrogateescape")
        if request.path not in ("/healthz", "/readyz", "/livez") and \
                not hmac.compare_digest(given, f"Bearer {self.token}".encode()):
            return to_response(APIError(401, "Unauthorized", "Unauthorized: use the bearer "
                                        "token from the kubeconfig the server wrote"))
        try:
            return await handler(request)
        except APIError as err:
            return to_response(err)
        except StorageError as err:
            log.error("storage refused %s %s: %s", request.method, request.path_qs, err)
            return to_response(storage_failure(str(err)))
        except web.HTTPException as err:
            if err.status == 404:
                return to_response(resource_not_found())
            return to_response(APIError(err.status, err.reason, err.text or err.reason))
        except Exception as err:
            log.exception("internal error on %s %s", request.method, request.path_qs)
            return to_response(APIError(500, "InternalError", f"internal error: {err!r}"))

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def version(self, request: web.Request) -> web.Response:
        return json_response({"major": "1", "minor": "33", "gitVersion": "v1.33.0-propylon",
                              "platform": "linux/amd64"})

    def _discovery(self, request: web.Request, core: bool, legacy: Any) -> web.Response:
        media_type = discovery.negotiate(request.headers.get("Accept", ""))
        if media_type is None:
            resp = json_response(legacy)
        else:
            resp = json_response(discovery.aggregated(self.catalog.kinds(), core, media_type))
            resp.headers["Content-Type"] = media_type
        resp.headers["Vary"] = "Accept"
        return resp

    async def core_discovery(self, request: web.Request) -> web.Response:
        return self._discovery(request, True, discovery.api_versions(request.host))

    async def group_discovery(self, request: web.Request) -> web.Response:
        return self._discovery(request, False, discovery.api_group_list(self.catalog.kinds()))

    def _schema_of(self, info: KindInfo) -> dict[str, Any] | None:
        """A kind's CRD schema: its applied CRD's, else the bundled CRDs' (`bundledcrds`)."""
        schema = self.catalog.schema(info)
        return schema if schema is not None else bundledcrds.schema_of(info)

    def _openapi_v3(self, gv: str) -> tuple[bytes, str] | None:
        """A group version's v3 document, encoded once per catalog change."""
        encoded: tuple[bytes, str] | None = self.catalog.memo(("openapi", gv), lambda: _encoded(
            openapi.group_version_document(self.catalog.kinds(), self._schema_of, gv)))
        return encoded

    async def openapi_root(self, request: web.Request) -> web.Response:
        def build() -> tuple[bytes, str]:
            hashes = {}
            for gv in openapi.group_versions(self.catalog.kinds()):
                encoded = self._openapi_v3(gv)
                assert encoded is not None
                hashes[gv] = encoded[1]
            return openapi.encode(openapi.root_document(hashes))
        return _document(request, self.catalog.memo("openapi", build))

    async def openapi_gv(self, request: web.Request) -> web.Response:
        encoded = self._openapi_v3(request.match_info["gv"])
        if encoded is None:
            raise resource_not_found()
        return _document(request, encoded)

    async def openapi_v2(self, request: web.Request) -> web.Response:
        """JSON, or the protobuf kubectl asks for (`swaggerproto`), by the Accept header."""
        def swagger() -> dict[str, Any]:
            doc: dict[str, Any] = self.catalog.memo("openapi-v2", lambda: openapi.swagger_document(
                self.catalog.kinds(), self._schema_of))
            return doc
        accept = request.headers.get("Accept", "")
        if accept.split(",")[0].split(";")[0].strip() in (swaggerproto.ACCEPT,
                                                          swaggerproto.CONTENT_TYPE):
            def proto() -> tuple[bytes, str]:
                body = swaggerproto.encode(swagger())
                return body, hashlib.sha512(body).hexdigest().upper()
            return _document(request, self.catalog.memo("openapi-v2-pb", proto),
                             swaggerproto.CONTENT_TYPE)
        if accept and not any(t in accept for t in ("application/json", "*/*")):
            raise APIError(406, "NotAcceptable", "/openapi/v2 is served as application/json "
                           f"or {swaggerproto.CONTENT_TYPE}")
        return _document(request, self.catalog.memo("openapi-v2-json", lambda: openapi.encode(
            swagger())))

    async def resource(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        if parts[0] == "api":
            group, rest = "", parts[1:]
        else:
            group, rest = (parts[1] if len(parts) > 1 else ""), parts[2:]
        if not rest:
            raise resource_not_found()
        version, rest = rest[0], rest[1:]
        if not rest and request.method == "GET":
            doc = discovery.api_resource_list(self.catalog.kinds(), group, version)
            if doc is None:
                raise resource_not_found()
            return json_response(doc)
        namespace: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        review = (group, version, rest) == (tokens.REVIEW_GROUP, "v1", ["tokenreviews"])
        token_request = group == "" and namespace is not None and len(rest) == 3 \
            and (rest[0], rest[2]) == ("serviceaccounts", "token")
        if request.method == "POST" and (review or token_request):
            return await self._token(request, namespace or "", rest, review)
        info = self.catalog.by_path(group, version, rest[0]) if rest else None
        if info is None or len(rest) > 3 or (len(rest) == 3 and rest[2] != "status") \
                or (namespace is not None and not info.namespaced) \
                or (len(rest) == 3 and not info.has_status):
            raise resource_not_found()
        if info.namespaced and namespace is None and len(rest) > 1:
            raise resource_not_found()
        if namespace is None and not info.namespaced:
            namespace = ""
        name = rest[1] if len(rest) > 1 else None
        status = len(rest) == 3
        if self.audit is not None:
            watching = request.query.get("watch") in ("true", "1")
            self.audit(audit.Request(audit.verb(request.method, name is not None, watching),
                                     group, info.plural, namespace or "",
                                     "status" if status else "", name or "",
                                     request.headers.get("User-Agent", "")))
        if name is None:
            return await self._collection(request, info, namespace)
        return await self._item(request, info, namespace or "", name, status)

    async def _collection(self, request: web.Request, info: KindInfo,
                          namespace: str | None) -> web.StreamResponse:
        query = dict(request.query)
        table = wants_table(request.headers.get("Accept", ""))
        if request.method == "GET":
            if query.get("watch") in ("true", "1"):
                return await serve_watch(request, info, namespace, self.registry, self.hub,
                                         table, self.bookmark_interval)
            return self._list(info, namespace, query, table)
        if request.method == "POST":
            if namespace is None:
                raise resource_not_found()
            validation = field_validation(query)
            duplicates: list[str] = []
            body = await _decode_body(request, duplicates=duplicates)
            try:
                early = _strict_decoding(validation, duplicates)
                obj, warnings = await self.registry.create(
                    info, namespace, body, query, validation, query.get("fieldManager"))
            except StrictDecodingError as err:
                raise err.decoding(info) from err
            return _respond(obj, 201, early + warnings)
        if request.method == "DELETE":
            await _decode_body(request, required=False)
            deleted = await self.registry.delete_collection(info, namespace, selectors(query, info.kind),
                                                            query)
            return json_response(self._list_doc(info, deleted, None))
        raise APIError(405, "MethodNotAllowed",
                       f"{request.method} is not supported on {info.plural}: use GET, POST or "
                       "DELETE")

    async def _token(self, request: web.Request, namespace: str, rest: list[str],
                     review: bool) -> web.Response:
        """A TokenReview (`review`) or a TokenRequest of ServiceAccount `rest[1]` (`tokens`)."""
        body = await _decode_body(request)
        sa_info = self.catalog.by_path("", "v1", "serviceaccounts")
        assert sa_info is not None
        if self.audit is not None:
            self.audit(audit.Request("create", tokens.REVIEW_GROUP if review else "",
                                     rest[0], namespace, "" if review else "token",
                                     "" if review else rest[1],
                                     request.headers.get("User-Agent", "")))
        if review:
            def uid_of(ns: str, name: str) -> str | None:
                with contextlib.suppress(APIError):
                    return str(self.registry.get(sa_info, ns, name)["metadata"]["uid"])
                return None
            return json_response(tokens.review(self.token_key, body, int(time.time()), uid_of),
                                 201)
        account = self.registry.get(sa_info, namespace, rest[1])
        try:
            answer = tokens.issue(self.token_key, namespace, rest[1], account["metadata"]["uid"],
                                  body, int(time.time()))
        except tokens.Invalid as err:
            raise invalid(tokens.TOKEN_REQUEST, rest[1], [{"field": err.field, "message": err.message,
                                                    "reason": "FieldValueInvalid"}]) from err
        return json_response(answer, 201)

    def _list_doc(self, info: KindInfo, items: list[dict[str, Any]],
                  continue_token: str | None) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "resourceVersion": str(self.registry.storage.resource_version)}
        if continue_token:
            metadata["continue"] = continue_token
        return {"kind": f"{info.kind}List", "apiVersion": info.api_version,
                "metadata": metadata, "items": items}

    def _list(self, info: KindInfo, namespace: str | None, query: dict[str, str],
              table: bool) -> web.Response:
        if not table and not any(query.get(k) for k in _PARTIAL_LIST):
            return self._whole_list(info, namespace)
        items = self.registry.list(info, namespace, selectors(query, info.kind))
        offset = _decode_continue(query.get("continue"))
        limit = query.get("limit")
        continue_token = None
        if limit:
            if not limit.isdigit():
                raise bad_request(f'invalid limit "{limit}": use a positive integer')
            end = offset + int(limit) if int(limit) > 0 else len(items)
            if end < len(items):
                continue_token = base64.urlsafe_b64encode(
                    json.dumps({"offset": end}).encode()).decode()
            items = items[offset:end]
        else:
            items = items[offset:]
        if table:
            return json_response(to_table(
                info, items, str(self.registry.storage.resource_version),
                query.get("includeObject", "Metadata"), continue_token=continue_token))
        return json_response(self._list_doc(info, items, continue_token))

    def _whole_list(self, info: KindInfo, namespace: str | None) -> web.Response:
        """A List of every object, built from their stored JSON (an informer's first list at
        5,000 routes spent most of its server time decoding and encoding them again)."""
        doc = self._list_doc(info, [], None)
        del doc["items"]
        head = json.dumps(doc, separators=(",", ":"))[:-1]  # without the closing brace
        body = f'{head},"items":[{",".join(self.registry.list_json(info, namespace))}]}}'
        return web.Response(body=body.encode(), headers={"Content-Type": JSON_CONTENT_TYPE})

    async def _item(self, request: web.Request, info: KindInfo, namespace: str, name: str,
                    status: bool) -> web.Response:
        query = dict(request.query)
        if request.method == "GET":
            obj = self.registry.get(info, namespace, name)
            if wants_table(request.headers.get("Accept", "")):
                return json_response(to_table(info, [obj], obj["metadata"]["resourceVersion"],
                                              query.get("includeObject", "Metadata")))
            return json_response(obj)
        if request.method in ("PUT", "PATCH"):
            validation = field_validation(query)
            duplicates: list[str] = []
            body = await _decode_body(request, duplicates=duplicates)
            if request.method == "PUT":
                try:
                    early = _strict_decoding(validation, duplicates)
                    obj, warnings = await self.registry.update(info, namespace, name, body,
                                                               query, validation, status)
                except StrictDecodingError as err:
                    raise err.decoding(info) from err
                return _respond(obj, 200, early + warnings)
            early = _strict_decoding(validation, duplicates)
            obj, warnings, created = await self.registry.patch(
                info, namespace, name, request.content_type, body, query, validation, status)
            return _respond(obj, 201 if created else 200, early + warnings)
        if request.method == "DELETE" and not status:
            options = await _decode_body(request, required=False)
            return json_response(await self.registry.delete(info, namespace, name, options,
                                                            query))
        raise APIError(405, "MethodNotAllowed",
                       f"{request.method} is not supported on this path: use GET, PUT, PATCH"
                       + ("" if status else " or DELETE"))


def _encoded(doc: dict[str, Any] | None) -> tuple[bytes, str] | None:
    return None if doc is None else openapi.encode(doc)


def _document(request: web.Request, encoded: tuple[bytes, str],
              content_type: str = JSON_CONTENT_TYPE) -> web.Response:
    """An OpenAPI document with its ETag; 304 when the client already has it."""
    body, digest = encoded
    etag = f'"{digest}"'
    headers = {"ETag": etag, "Vary": "Accept", "Content-Type": content_type}
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, headers=headers)


def _decode_continue(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
        if not isinstance(offset, int) or offset < 0:
            raise ValueError(offset)
        return offset
    except (ValueError, KeyError, TypeError) as err:
        raise APIError(410, "Expired", f"the continue token is invalid ({err}): list again "
                                       "without `continue`") from err
