"""Kubernetes `Status` errors.

Every failure the API server reports is an `APIError` carrying the HTTP code, the machine reason
(`NotFound`, `Conflict`, `Invalid`, ...) and a message a user can act on. `to_response()` renders
it as a `Status` object with `Content-Type: application/json` exactly, which is what kubectl and
lightkube parse. The helpers build the messages a real API server sends, so kubectl prints them
the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from propylon.api.kinds import KindInfo

JSON_CONTENT_TYPE = "application/json"


@dataclass
class APIError(Exception):
    """A request failure rendered as a Kubernetes Status."""

    code: int
    reason: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code} {self.reason}: {self.message}"

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                "status": "Failure", "message": self.message, "code": self.code}
        if self.reason:  # an unknown reason is left out, as kube-apiserver does
            body["reason"] = self.reason
        if self.details:
            body["details"] = self.details
        return body


def json_response(body: Any, status: int = 200,
                  headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response whose Content-Type is exactly `application/json`."""
    resp = web.Response(body=json.dumps(body, separators=(",", ":")).encode(), status=status)
    resp.headers["Content-Type"] = JSON_CONTENT_TYPE
    for key, value in (headers or {}).items():
        resp.headers.add(key, value)
    return resp


def to_response(err: APIError) -> web.Response:
    return json_response(err.status(), status=err.code)


def _details(info: KindInfo, name: str) -> dict[str, Any]:
    return {"name": name, "group": info.group, "kind": info.plural}


def not_found(info: KindInfo, name: str) -> APIError:
    return APIError(404, "NotFound", f'{info.plural} "{name}" not found', _details(info, name))


def namespace_not_found(namespace: str) -> APIError:
    return APIError(404, "NotFound", f'namespaces "{namespace}" not found',
                    {"name": namespace, "kind": "namespaces"})


def resource_not_found() -> APIError:
    return APIError(404, "NotFound", "the server could not find the requested resource")


def already_exists(info: KindInfo, name: str) -> APIError:
    return APIError(409, "AlreadyExists", f'{info.plural} "{name}" already exists',
                    _details(info, name))


def conflict(info: KindInfo, name: str) -> APIError:
    qualified = f"{info.plural}.{info.group}" if info.group else info.plural
    return APIError(409, "Conflict",
                    f'Operation cannot be fulfilled on {qualified} "{name}": the object has been '
                    "modified; please apply your changes to the latest version and try again",
                    _details(info, name))


def storage_failure(cause: str) -> APIError:
    """A write the storage refused: 500 with no reason and the storage's own message, which is
    what kube-apiserver answers when etcd refuses a write ("database space exceeded")."""
    return APIError(500, "", f"{cause}: nothing was written; what was stored before is intact "
                             "and readable, and writes work again once the cause is gone (for a "
                             "full disk: free space where the state directory is)")


class StrictDecodingError(APIError):
    """400: fields a `fieldValidation=Strict` request may not have (unknown or duplicate)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(400, "BadRequest", "strict decoding error: " + ", ".join(problems))

    def decoding(self, info: KindInfo) -> APIError:
        """The error as a create or update reports it (a patch reports it as it is)."""
        return APIError(400, "BadRequest", f'{info.kind} in version "{info.version}" cannot be '
                                           f"handled as a {info.kind}: {self.message}")


def bad_request(message: str) -> APIError:
    return APIError(400, "BadRequest", message)


def unsupported_media_type(content_type: str, accepted: list[str]) -> APIError:
    return APIError(415, "UnsupportedMediaType",
                    f"the body of the request was in an unknown format ({content_type}) - "
                    f"accepted media types include: {', '.join(accepted)}")


def invalid(info: KindInfo, name: str, causes: list[dict[str, str]]) -> APIError:
    """422 Invalid, formatted so kubectl prints `The Kind "name" is invalid:` and one line per
    cause."""
    qualified = f"{info.kind}.{info.group}" if info.group else info.kind
    parts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return APIError(422, "Invalid", f'{qualified} "{name}" is invalid: {joined}',
                    {"name": name, "group": info.group, "kind": info.kind, "causes": causes})
