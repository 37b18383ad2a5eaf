"""`auth-type: basic` with `auth-secret`, `auth-secret-type` and `auth-realm`: a
SecurityPolicy `basicAuth`.

ingress-nginx reads the users from the Secret `auth-secret` (`name` or `namespace/name`):
`auth-file` (default) holds htpasswd lines in its key `auth`, `auth-map` holds one key per user
whose value is the password hash. Envoy Gateway wants htpasswd lines in the key `.htpasswd`,
so the converter emits a Secret `<ingress>-basic-auth` holding the lines Propylon checks (every
hash nginx does: bcrypt, Apache MD5, MD5-, SHA-256- and SHA-512-crypt, `{SHA}`, `{SSHA}`,
`{PLAIN}`; `propylon.htpasswd.lines`), and reports each line it cannot (its number, user and
format) with the fix. When no user is left, every request is refused with 401 (as ingress-nginx
does for a Secret without a usable line). A Secret that does not exist makes ingress-nginx refuse the whole location with
503; the converter does the same (a BackendTrafficPolicy fault that aborts every request with
503) and says which Secret to create. `auth-type: digest` is refused: Envoy has no Digest
authentication (every request is answered 503 then, never served unauthenticated).
`auth-realm` is not configurable in Envoy (its challenge names no realm of ours); the 401 page
is nginx's (a BackendTrafficPolicy responseOverride of the gateway's own refusals).
"""

from __future__ import annotations

import base64
import binascii

from propylon.htpasswd import lines as htpasswd
from propylon.ingress.annotations.policyparts import (
    CLOSED,
    CONVERTED,
    DIFFERS,
    REFUSED,
    Made,
    Note,
    answer_all,
    family,
    nginx_page,
)
from propylon.ingress.effects import Context, Manifest, Policy
from propylon.ingress.model import Json
from propylon.ingress.report import Outcome

ANNOTATIONS = ("auth-type", "auth-secret", "auth-secret-type", "auth-realm")
HTPASSWD_KEY = ".htpasswd"


def made(ctx: Context) -> Made:
    """Basic authentication of an Ingress, from the Secrets given to the conversion."""
    annotations, namespace, ingress = ctx.annotations, ctx.ingress.namespace, ctx.ingress.name
    present = [name for name in ANNOTATIONS if name in annotations]
    kind = annotations.get("auth-type", "").strip().lower()
    if not present:
        return Made()
    if kind == "digest":
        refusal = _all(present, REFUSED, "Digest authentication is not convertible: Envoy has no "
                       "Digest authentication; use auth-type basic (over HTTPS) or auth-url"
                       + CLOSED)
        return Made((answer_all(503),), refusal.notes)
    if kind != "basic":
        return _all(present, CONVERTED, "no effect without auth-type basic or digest, as in "
                    "ingress-nginx")
    ref = annotations.get("auth-secret", "").strip()
    secret_ns, _, secret_name = ref.rpartition("/")
    secret_ns = secret_ns or namespace
    data = secret_data(ctx.secrets.get((secret_ns, secret_name))) if secret_name else None
    if data is None:
        return _unavailable(present, f"Secret {secret_ns}/{secret_name or '(none)'}")
    by_map = annotations.get("auth-secret-type", "").strip() == "auth-map"
    lines = ([f"{user}:{hashed}" for user, hashed in sorted(data.items())] if by_map
             else data.get("auth", "").replace("\r\n", "\n").split("\n"))
    found = htpasswd.read("\n".join(lines))
    usable, unusable = found.text(), found.problems
    if not usable:
        return _deny(present, unusable, f"{secret_ns}/{secret_name}")
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": f"{ingress}-basic-auth", "namespace": namespace},
              "data": {HTPASSWD_KEY: base64.b64encode(
                  usable.encode()).decode()}}
    users = {"basicAuth": {"users": {"name": f"{ingress}-basic-auth"}}}
    notes = [Note(name, CONVERTED, f"SecurityPolicy basicAuth with the Secret {ingress}-"
                  f"basic-auth (key {HTPASSWD_KEY}) made from {secret_ns}/{secret_name}")
             for name in present]
    notes = [_realm_note(n) if n.annotation == "auth-realm" else n for n in notes]
    if unusable:
        notes = [Note(n.annotation, DIFFERS, f"{n.message}; {_unusable(unusable)}")
                 if n.annotation == "auth-secret" else n for n in notes]
    return Made((Policy("SecurityPolicy", users), Manifest(secret), _refusal_page()), tuple(notes))


def _refusal_page() -> Policy:
    """nginx's 401 page for the gateway's own refusals (they carry the challenge of Envoy's
    basic auth, `Basic realm="http://...`), not for a 401 the backend sends."""
    return Policy("BackendTrafficPolicy", {"responseOverride": [{"match": {
        "statusCodes": [{"type": "Value", "value": 401}],
        "responseHeaders": [{"name": "www-authenticate",
                             "value": {"type": "Prefix", "value": 'Basic realm="http://'}}]},
        "response": nginx_page(401)}]})


def _unusable(problems: tuple[str, ...]) -> str:
    return f"these lines cannot log in: {'; '.join(problems)}"


def _realm_note(base: Note) -> Note:
    return Note(base.annotation, DIFFERS, "the realm is not configurable: Envoy's challenge "
                "does not carry it")


def _deny(present: list[str], unusable: tuple[str, ...], where: str) -> Made:
    """No line Envoy can check: every request is refused with 401."""
    return Made((answer_all(401),), tuple(
        Note(name, DIFFERS if unusable else CONVERTED,
             f"Secret {where} has no htpasswd line Propylon can check: every request is refused "
             f"with 401" + (f"; {_unusable(unusable)}" if unusable else ""))
        for name in present))


def _unavailable(present: list[str], what: str) -> Made:
    """The Secret is missing: ingress-nginx refuses the location with 503, and so do we."""
    return Made((answer_all(503),), tuple(
        Note(name, CONVERTED, f"{what} does not exist: every request is answered 503, as "
             "ingress-nginx does; create it and convert again") for name in present))


def _all(present: list[str], outcome: Outcome, message: str) -> Made:
    return Made(notes=tuple(Note(name, outcome, message) for name in present))


def secret_data(secret: Json | None) -> dict[str, str] | None:
    """A Secret's entries (`data` decoded from base64, `stringData` over them), or None
    without a Secret; an entry that is not base64 of UTF-8 text is left out."""
    if secret is None:
        return None
    out = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            out[str(key)] = base64.b64decode(str(value), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            continue
    out.update({str(k): str(v) for k, v in (secret.get("stringData") or {}).items()})
    return out


CONVERTERS = family(ANNOTATIONS, made)
