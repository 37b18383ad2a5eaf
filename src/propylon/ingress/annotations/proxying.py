"""The proxying annotations: timeouts and retries as a BackendTrafficPolicy, nginx's buffer
settings (no HTTP-visible effect), and what Envoy Gateway cannot express.

- `proxy-connect-timeout` (seconds) -> `timeout.tcp.connectTimeout`.
- `proxy-read-timeout` -> `timeout.http.requestTimeout`. Differs: nginx limits each wait
  between two reads of the backend's answer, Envoy the time until the whole answer is in, so a
  slow stream that keeps sending is cut here and not by nginx.
- `proxy-next-upstream` (`error timeout http_502 ...`, `off`), `proxy-next-upstream-tries`
  -> `retry` (triggers, status codes, retries = tries - 1). Differs: Envoy retries any method,
  where nginx does not retry a non-idempotent request (POST) without `non_idempotent`.
- buffering (`proxy-buffering`, `proxy-request-buffering`, `proxy-buffer-size`,
  `proxy-buffers-number`, `proxy-busy-buffers-size`, `proxy-max-temp-file-size`,
  `client-body-buffer-size`): how nginx holds bodies in memory or on disk; no effect on status,
  headers or body, and Envoy streams: ignored, reported as such.
- not convertible: `proxy-send-timeout` (each wait between two writes to the backend),
  `proxy-next-upstream-timeout` (a time limit on retries alone), `proxy-http-version: "1.0"`,
  `proxy-cookie-domain`, `proxy-cookie-path`, `proxy-redirect-from`, `proxy-redirect-to`
  (rewriting Set-Cookie and Location headers of answers).
- `proxy-body-size`: see `bodysize`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from propylon.ingress.annotations.policyparts import (
    CONVERTED,
    DIFFERS,
    REFUSED,
    Made,
    Note,
    family,
)
from propylon.ingress.annotations.policyvalues import duration, millis
from propylon.ingress.effects import Context, Policy

BUFFERING = ("proxy-buffering", "proxy-request-buffering", "proxy-buffer-size",
             "proxy-buffers-number", "proxy-busy-buffers-size", "proxy-max-temp-file-size",
             "client-body-buffer-size")
REFUSALS = {
    "proxy-send-timeout": "not convertible: Envoy Gateway has no limit on each wait between "
                          "two writes to the backend (the request's whole time is limited by "
                          "proxy-read-timeout's requestTimeout)",
    "proxy-next-upstream-timeout": "not convertible: Envoy Gateway limits each try "
                                   "(retry.perRetry.timeout) or the whole request, not the "
                                   "retries alone",
    "proxy-cookie-domain": "not convertible: Envoy Gateway cannot rewrite the Domain of the "
                           "backend's Set-Cookie headers: set it in the backend",
    "proxy-cookie-path": "not convertible: Envoy Gateway cannot rewrite the Path of the "
                         "backend's Set-Cookie headers: set it in the backend",
    "proxy-redirect-from": "not convertible: Envoy Gateway cannot rewrite the Location "
                           "header of the backend's answers: make the backend send the "
                           "public URL",
    "proxy-redirect-to": "not convertible: Envoy Gateway cannot rewrite the Location header "
                         "of the backend's answers: make the backend send the public URL",
}
ANNOTATIONS = ("proxy-connect-timeout", "proxy-read-timeout", "proxy-next-upstream",
               "proxy-next-upstream-tries", "proxy-http-version", *BUFFERING, *REFUSALS)
_CONDITIONS = {"error": ("connect-failure", "reset"), "timeout": ("reset",),
               "invalid_header": ("reset",)}
_STATUSES = {"http_500": 500, "http_502": 502, "http_503": 503, "http_504": 504,
             "http_403": 403, "http_404": 404, "http_429": 429}


def made(ctx: Context) -> Made:
    """Timeouts and retries of an Ingress."""
    annotations = ctx.annotations
    notes = [Note(name, REFUSED, message) for name, message in REFUSALS.items()
             if name in annotations]
    notes.extend(Note(name, DIFFERS, "ignored: nginx's buffering has no effect on status, "
                      "headers or body, and Envoy streams bodies")
                 for name in BUFFERING if name in annotations)
    spec: dict[str, Any] = {}
    for name, path, how in (("proxy-connect-timeout", ("tcp", "connectTimeout"), CONVERTED),
                            ("proxy-read-timeout", ("http", "requestTimeout"), DIFFERS)):
        if name not in annotations:
            continue
        ms = millis(annotations[name])
        if ms is None or ms == 0:
            notes.append(Note(name, DIFFERS, f"{annotations[name]!r} is not a time: ignored, "
                              "as ingress-nginx ignores it"))
            continue
        spec.setdefault("timeout", {}).setdefault(path[0], {})[path[1]] = duration(ms)
        notes.append(Note(name, how, f"BackendTrafficPolicy timeout.{'.'.join(path)}" + (
            "; differs: Envoy limits the time until the whole answer is in, nginx each wait "
            "between two reads" if how == DIFFERS else "")))
    if "proxy-http-version" in annotations:
        one_one = annotations["proxy-http-version"].strip() == "1.1"
        notes.append(Note("proxy-http-version", CONVERTED if one_one else REFUSED,
                          "Envoy speaks HTTP/1.1 to backends" if one_one else
                          "not convertible: Envoy speaks HTTP/1.1 (or HTTP/2) to backends, "
                          "never HTTP/1.0"))
    retry, retry_notes = _retry(annotations)
    notes.extend(retry_notes)
    if retry is not None:
        spec["retry"] = retry
    return Made((Policy("BackendTrafficPolicy", spec),) if spec else (), tuple(notes))


def _retry(annotations: Mapping[str, str]) -> tuple[dict[str, Any] | None, list[Note]]:
    if "proxy-next-upstream" not in annotations and "proxy-next-upstream-tries" not in \
            annotations:
        return None, []
    notes = []
    words = annotations.get("proxy-next-upstream", "error timeout").split()
    tries = annotations.get("proxy-next-upstream-tries", "3").strip()
    if "off" in words or tries == "1":
        names = [n for n in ("proxy-next-upstream", "proxy-next-upstream-tries")
                 if n in annotations]
        return {"numRetries": 0}, [Note(n, CONVERTED, "BackendTrafficPolicy retry "
                                        "(numRetries 0: no retry)") for n in names]
    unknown = [w for w in words if w not in _CONDITIONS and w not in _STATUSES
               and w != "non_idempotent"]
    triggers = sorted({t for w in words for t in _CONDITIONS.get(w, ())})
    codes = sorted({_STATUSES[w] for w in words if w in _STATUSES})
    if codes:
        triggers.append("retriable-status-codes")
    retry: dict[str, Any] = {"retryOn": {"triggers": triggers}}
    if codes:
        retry["retryOn"]["httpStatusCodes"] = codes
    if tries.isdigit() and int(tries) > 1:
        retry["numRetries"] = int(tries) - 1
    if "proxy-next-upstream" in annotations:
        message = ("BackendTrafficPolicy retry.retryOn; differs: Envoy retries requests of "
                   "any method, nginx only idempotent ones unless non_idempotent is listed")
        if unknown:
            message += f"; {', '.join(unknown)} not known: ignored"
        notes.append(Note("proxy-next-upstream", DIFFERS, message))
    if "proxy-next-upstream-tries" in annotations:
        notes.append(Note("proxy-next-upstream-tries", CONVERTED,
                          "BackendTrafficPolicy retry.numRetries (tries minus the first)"
                          if "numRetries" in retry else
                          "0 (no limit in nginx): Envoy Gateway's default of 2 retries"))
    return retry, notes


CONVERTERS = family(ANNOTATIONS, made)
