"""`auth-tls-*`: client certificate authentication, a ClientTrafficPolicy `tls.clientValidation`
on the HTTPS listener of the Ingress's hosts.

ingress-nginx checks client certificates per server (host), from the Secret `auth-tls-secret`
(`namespace/name`, key `ca.crt`); the conversion gives each TLS host its own HTTPS listener, so
the check becomes a `Policy` fragment aimed at the host's listener (`target="listener"`,
merged by `ingress.listenerpolicies`). `auth-tls-verify-client`: `on` (the default) requires a
certificate, `optional` asks for one and checks it when given (`optional: true`),
`optional_no_ca` asks for one without checking it, which Envoy Gateway cannot express (nothing
is checked by either, so nothing is emitted), `off` checks nothing. Envoy refuses a client
failing the check in the TLS handshake where nginx answers 400, which every note says.
`auth-tls-verify-depth` has no Envoy Gateway field (chains of any length are accepted);
`auth-tls-error-page` cannot be served (no HTTP answer after a refused handshake);
`auth-tls-match-cn` (a subject CN regex) has no Envoy Gateway field, so every request is answered
503 rather than serve certificates nginx would refuse; `auth-tls-pass-certificate-to-upstream`
sends it in header `ssl-client-cert` as nginx does. A Lua script (an EnvoyExtensionPolicy on the
routes, `luascripts.client_certificate`) sets that header and the ones nginx always sets
(`ssl-client-verify`, `ssl-client-subject-dn`, `ssl-client-issuer-dn`), so a client cannot
send its own to a backend that trusts them (with `optional_no_ca` too: `ssl-client-verify` is
then always `NONE`). A Secret that does not exist or has
no `ca.crt` makes every request answered 503, as the location is never served without the
check.
"""

from __future__ import annotations

from propylon.ingress.annotations.policyparts import (
    CLOSED,
    CONVERTED,
    DIFFERS,
    REFUSED,
    Made,
    Note,
    answer_all,
    family,
)
from propylon.ingress.effects import Context, Policy
from propylon.ingress.luascripts import client_certificate
from propylon.ingress.report import Outcome

ANNOTATIONS = ("auth-tls-secret", "auth-tls-verify-client", "auth-tls-verify-depth",
               "auth-tls-error-page", "auth-tls-match-cn", "auth-tls-pass-certificate-to-upstream")
MODES = ("on", "off", "optional", "optional_no_ca")
CA_KEY = "ca.crt"
CERT_HEADER = "ssl-client-cert"  # where ingress-nginx forwards the certificate
HANDSHAKE = ("a client without a valid certificate is refused in the TLS handshake, where "
             "ingress-nginx answers 400 (\"No required SSL certificate was sent\" or \"The SSL "
             "certificate error\")")


def made(ctx: Context) -> Made:
    """The client certificate check of an Ingress (see the module docstring)."""
    present = [name for name in ANNOTATIONS if name in ctx.annotations]
    if not present:
        return Made()
    ref = ctx.annotation("auth-tls-secret").strip()
    mode = ctx.annotation("auth-tls-verify-client", "on").strip().lower()
    if not ref or mode == "off":
        why = "auth-tls-verify-client is off" if ref else "there is no auth-tls-secret"
        return _all(present, CONVERTED, f"no effect: {why}, as in ingress-nginx")
    if mode not in MODES:
        return _closed(present, f"auth-tls-verify-client {mode!r} is not one of "
                       f"{', '.join(MODES)}: use one")
    namespace, _, name = ref.rpartition("/")
    namespace = namespace or ctx.ingress.namespace
    secret = ctx.secret(ref)
    data = {**((secret or {}).get("stringData") or {}), **((secret or {}).get("data") or {})}
    if secret is None or not data.get(CA_KEY):
        problem = "does not exist" if secret is None else f"has no key {CA_KEY}"
        return _closed(present, f"Secret {namespace}/{name} {problem}: store the PEM CA "
                       f"certificates under {CA_KEY} there")
    if mode == "optional_no_ca":
        unasked = ("the client certificate is not asked for: Envoy Gateway cannot ask for one "
                   "without checking it; ingress-nginx does not check it either, so every "
                   "client is served alike")
        return Made((_headers(None),), tuple(
            _note(n, ctx, DIFFERS, unasked) if n in ("auth-tls-secret", "auth-tls-verify-client")
            else _note(n, ctx, REFUSED, "not convertible with auth-tls-verify-client "
                       "optional_no_ca: no client certificate is asked for, so none can be "
                       "forwarded") if n == "auth-tls-pass-certificate-to-upstream" and _passes(ctx)
            else _note(n, ctx, None, None) for n in present))
    validation: dict[str, object] = {"caCertificateRefs": [
        {"kind": "Secret", "name": name, "namespace": namespace}]}
    if mode == "optional":
        validation["optional"] = True
    messages = {
        "auth-tls-secret": (DIFFERS, f"client certificates are checked against {CA_KEY} of "
                            f"Secret {namespace}/{name} on the host's HTTPS listener (a "
                            f"ClientTrafficPolicy); {HANDSHAKE}"),
        "auth-tls-verify-client": (
            DIFFERS if mode == "optional" else CONVERTED,
            "a client without certificate is served; one whose certificate fails the check is "
            "refused in the TLS handshake, where ingress-nginx answers 400"
            if mode == "optional" else "a client certificate is required"),
    }
    effects: list[Policy] = [Policy("ClientTrafficPolicy", {"tls": {"clientValidation": validation}},
                      target="listener")]
    if "auth-tls-match-cn" in present:
        effects.append(answer_all(503))
    effects.append(_headers(CERT_HEADER if _passes(ctx) else None))
    return Made(tuple(effects), tuple(_note(n, ctx, *messages.get(n, (None, None)))
                                      for n in present))


def _note(name: str, ctx: Context, outcome: Outcome | None, message: str | None) -> Note:
    """The note of `name`: `outcome` and `message` when given, else its own (below)."""
    if outcome is not None and message is not None:
        return Note(name, outcome, message)
    value = ctx.annotation(name).strip()
    if name == "auth-tls-verify-depth":
        return Note(name, DIFFERS, f"Envoy Gateway has no verify depth: certificates whose "
                    f"chain to the CA is longer than {value} are accepted too")
    if name == "auth-tls-error-page":
        return Note(name, REFUSED, f"not convertible: a client failing the check is refused "
                    f"in the TLS handshake, before any HTTP answer, so it cannot be sent to "
                    f"{value}")
    if name == "auth-tls-match-cn":
        return Note(name, REFUSED, "not convertible: Envoy Gateway checks a certificate's "
                    "subject alternative names, not its subject CN" + CLOSED)
    if not _passes(ctx):
        return Note(name, CONVERTED, "no effect, as in ingress-nginx")
    return Note(name, DIFFERS, f"the client certificate, URL-encoded PEM, is sent in request "
                f"header {CERT_HEADER} by a Lua script (an EnvoyExtensionPolicy on the routes); "
                "Envoy escapes fewer characters than nginx: URL-decoded, it is the same PEM")


def _headers(cert_header: str | None) -> Policy:
    """The script setting the client certificate headers ingress-nginx sets."""
    return Policy("EnvoyExtensionPolicy", {"lua": [
        {"type": "Inline", "inline": client_certificate(cert_header)}]})


def _passes(ctx: Context) -> bool:
    return ctx.flag("auth-tls-pass-certificate-to-upstream")


def _all(present: list[str], outcome: Outcome, message: str) -> Made:
    return Made(notes=tuple(Note(n, outcome, message) for n in present))


def _closed(present: list[str], message: str) -> Made:
    return Made((answer_all(503),), _all(present, REFUSED, message + CLOSED).notes)


CONVERTERS = family(ANNOTATIONS, made)
