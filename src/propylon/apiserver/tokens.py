"""ServiceAccount tokens of the embedded API server: TokenRequest and TokenReview.

The embedded API server plays the cluster's token issuer, as kube-apiserver does for projected
ServiceAccount tokens:

- `issue()` answers a TokenRequest (`POST .../serviceaccounts/<name>/token`): a JWT for that
  ServiceAccount, signed (HS256) with a key the server draws at start and never writes anywhere
  (a restarted server no longer accepts earlier tokens, as if its signing key rotated; the
  kubelet requests new ones long before they expire), carrying `sub` `system:serviceaccount:<namespace>:<name>`, the requested audiences (the
  server's own when none), `iat`/`nbf`/`exp` (`expirationSeconds`, 3600 by default; as in
  Kubernetes, one that is no integer, under 600 or not under 2^32 is `Invalid`) and the ServiceAccount's uid;
- `review()` answers a TokenReview (`POST /apis/authentication.k8s.io/v1/tokenreviews`): the
  token is authenticated only when its signature is this server's, it is not expired, one of
  its audiences is one the review asks for (the server's own when none) and the ServiceAccount
  it names still exists with the same uid (a deleted and re-created one does not inherit its
  tokens). `status.error` says which check failed.

Nothing here does I/O: the handlers pass the ServiceAccount lookup and the time in.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from propylon.api.kinds import KindInfo

REVIEW_GROUP = "authentication.k8s.io"
TOKEN_REQUEST = KindInfo(REVIEW_GROUP, "v1", "TokenRequest", "token", "tokenrequest", True)
API_AUDIENCE = "https://kubernetes.default.svc"
ISSUER = "https://kubernetes.default.svc"
DEFAULT_EXPIRATION_S = 3600
MIN_EXPIRATION_S = 600
MAX_EXPIRATION_S = 2**32
SUBJECT_PREFIX = "system:serviceaccount:"

# (namespace, name) -> the ServiceAccount's uid, or None when it does not exist
UidLookup = Callable[[str, str], str | None]


class Invalid(ValueError):
    """A TokenRequest kube-apiserver refuses as invalid: the field and why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def _expiration(value: object) -> int:
    if value is None:
        return DEFAULT_EXPIRATION_S
    if not isinstance(value, int) or isinstance(value, bool):
        raise Invalid("spec.expirationSeconds", f"Invalid value: {value!r}: must be an integer")
    if value < MIN_EXPIRATION_S:
        raise Invalid("spec.expirationSeconds", f"Invalid value: {value}: may not specify a "
                      "duration less than 10 minutes")
    if value >= MAX_EXPIRATION_S:
        raise Invalid("spec.expirationSeconds", f"Invalid value: {value}: may not specify a "
                      "duration larger than 2^32 seconds")
    return value


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, signing_input: str) -> str:
    return _b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())


def issue(key: bytes, namespace: str, name: str, uid: str, request: dict[str, Any],
          now: int) -> dict[str, Any]:
    """The TokenRequest `request` answered (its `status.token` and `expirationTimestamp`);
    `Invalid` for a bad `expirationSeconds`."""
    spec = request.get("spec") or {}
    audiences = list(spec.get("audiences") or [API_AUDIENCE])
    expiration = _expiration(spec.get("expirationSeconds"))
    claims = {"iss": ISSUER, "sub": f"{SUBJECT_PREFIX}{namespace}:{name}", "aud": audiences,
              "iat": now, "nbf": now, "exp": now + expiration,
              "kubernetes.io": {"namespace": namespace,
                                "serviceaccount": {"name": name, "uid": uid}}}
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    token = f"{head}.{body}.{_sign(key, f'{head}.{body}')}"
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"audiences": audiences, "expirationSeconds": expiration},
            "status": {"token": token, "expirationTimestamp": _timestamp(now + expiration)}}


def _timestamp(epoch: int) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _claims(key: bytes, token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWT")
    if not hmac.compare_digest(parts[2], _sign(key, f"{parts[0]}.{parts[1]}")):
        raise ValueError("invalid signature")
    claims = json.loads(_unb64(parts[1]))
    if not isinstance(claims, dict):
        raise ValueError("invalid claims")
    return claims


def review(key: bytes, request: dict[str, Any], now: int, uid_of: UidLookup) -> dict[str, Any]:
    """The TokenReview `request` answered with its `status`."""
    spec = request.get("spec") or {}
    wanted = list(spec.get("audiences") or [API_AUDIENCE])
    answer = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
              "metadata": {}, "spec": spec}
    try:
        status = _authenticate(key, str(spec.get("token") or ""), wanted, now, uid_of)
    except (ValueError, KeyError, TypeError) as err:
        status = {"authenticated": False, "error": f"token rejected: {err}"}
    return {**answer, "status": status}


def _authenticate(key: bytes, token: str, wanted: list[str], now: int,
                  uid_of: UidLookup) -> dict[str, Any]:
    claims = _claims(key, token)
    if int(claims["exp"]) <= now:
        raise ValueError("expired")
    if int(claims.get("nbf", 0)) > now:
        raise ValueError("not valid yet")
    audiences = [a for a in claims.get("aud") or [] if a in wanted]
    if not audiences:
        raise ValueError(f"audience {claims.get('aud')} is none of {wanted}")
    sa = claims["kubernetes.io"]["serviceaccount"]
    namespace = claims["kubernetes.io"]["namespace"]
    uid = uid_of(namespace, sa["name"])
    if uid is None:
        raise ValueError(f"ServiceAccount {namespace}/{sa['name']} does not exist")
    if uid != sa["uid"]:
        raise ValueError(f"ServiceAccount {namespace}/{sa['name']} was re-created "
                         "(uid differs)")
    return {"authenticated": True, "audiences": audiences,
            "user": {"username": claims["sub"], "uid": uid,
                     "groups": ["system:serviceaccounts",
                                f"system:serviceaccounts:{namespace}", "system:authenticated"]}}
