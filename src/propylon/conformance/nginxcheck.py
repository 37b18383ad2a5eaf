"""What ingress-nginx's cases expect of a response, and of all responses of an entry (pure).

`check(expect, response)` returns None when `response` satisfies the entry's `expect`, else a
one-line reason; `check_counts(counts, responses)` does the same for `counts`. The rules are the
README's "expect field" and "counts" tables. Which backend answered (`servedBy`, `samePodAs`,
`distinctPods`) and what it received (`backendSees`) are read from the answer of the
ingress-nginx backends (`propylon.echo.ingressnginx`): the echo body's `Hostname:` line or
httpbun's `{"hostname": ...}`, and the echo body's `real path=`, `host=` and header lines. A
pod named `<service>-<hash>-<suffix>` belongs to Service `<service>`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from http.cookies import SimpleCookie
from typing import Any

from propylon.conformance.matching import Response


def pod_of(response: Response) -> str:
    """The pod that produced the answer ("" when no backend's answer)."""
    text = response.body.decode(errors="replace")
    found = re.search(r"^Hostname: (\S+)", text, re.M)
    if found:
        return found.group(1)
    try:
        data = json.loads(response.body)
    except ValueError:
        return ""
    return str(data.get("hostname", "")) if isinstance(data, dict) else ""


def service_of(pod: str) -> str:
    return pod.rsplit("-", 2)[0] if pod.count("-") >= 2 else ""


def _received(response: Response) -> tuple[str, dict[str, str]]:
    """The path and headers (lower-cased names) the echo backend reports it received."""
    text = response.body.decode(errors="replace")
    path = re.search(r"^\treal path=(.*)$", text, re.M)
    section = text.split("Request Headers:\n", 1)[-1].split("\nRequest Body:", 1)[0]
    headers = dict(line.strip().split("=", 1) for line in section.splitlines() if "=" in line)
    return (path.group(1) if path else "", headers)


def _backend_sees(sees: Mapping[str, Any], response: Response) -> str | None:
    if "Request Headers:" not in response.body.decode(errors="replace"):
        return "the answer is not the echo backend's, which reports what it received"
    path, headers = _received(response)
    if "path" in sees and path != sees["path"]:
        return f"backend received path {path!r}, want {sees['path']!r}"
    if "host" in sees and headers.get("host") != sees["host"]:
        return f"backend received Host {headers.get('host')!r}, want {sees['host']!r}"
    for name, value in (sees.get("headers") or {}).items():
        if headers.get(name.lower()) != str(value):
            return f"backend received {name}: {headers.get(name.lower())!r}, want {value!r}"
    for name in sees.get("absentHeaders") or []:
        if name.lower() in headers:
            return f"backend received {name}: {headers[name.lower()]!r}, want it absent"
    return None


def set_cookie_names(response: Response) -> set[str]:
    names: set[str] = set()
    for value in response.header_values("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(value)
        except Exception:  # noqa: BLE001 - a malformed cookie names nothing
            continue
        names.update(cookie.keys())
    return names


def _headers(expect: Mapping[str, Any], response: Response) -> str | None:
    for name, value in (expect.get("headers") or {}).items():
        got = response.header_values(name)
        if got != [str(value)]:
            return f"response header {name}: {got}, want [{value!r}]"
    for name, texts in (expect.get("headersContain") or {}).items():
        got = response.header_values(name)
        first = got[0] if got else None
        for text in [texts] if isinstance(texts, str) else texts:
            if first is None or str(text) not in first:
                return f"response header {name}: {first!r} does not contain {text!r}"
    for name, texts in (expect.get("headersNotContain") or {}).items():
        got = response.header_values(name)
        first = got[0] if got else ""
        for text in [texts] if isinstance(texts, str) else texts:
            if str(text) in first:
                return f"response header {name}: {first!r} contains {text!r}"
    for name in expect.get("presentHeaders") or []:
        if not response.header_values(name):
            return f"response header {name} is absent"
    for name in expect.get("absentHeaders") or []:
        got = response.header_values(name)
        if got and (name.lower() != "set-cookie" or got[0]):
            return f"response header {name}: {got}, want it absent"
    for name in expect.get("absentCookies") or []:
        if name in set_cookie_names(response):
            return f"the response sets cookie {name}"
    return None


def _body(expect: Mapping[str, Any], response: Response) -> str | None:
    text = response.body.decode(errors="replace")
    for part in expect.get("bodyContains") or []:
        if str(part) not in text:
            return f"body does not contain {part!r}: {text[:200]!r}"
    for part in expect.get("bodyNotContains") or []:
        if str(part) in text:
            return f"body contains {part!r}"
    for part in expect.get("bodyNotContainsIgnoreCase") or []:
        if str(part).lower() in text.lower():
            return f"body contains {part!r} (ignoring case)"
    return None


def check(expect: Mapping[str, Any], response: Response,
          captured: Mapping[str, str]) -> str | None:
    """None when `response` satisfies `expect`; `captured` holds the saved pod names."""
    if "status" in expect and response.status != int(expect["status"]):
        return f"status {response.status}, want {expect['status']}"
    redirect = expect.get("redirect") or {}
    if "location" in redirect and response.header_values("location") != [redirect["location"]]:
        return (f"Location {response.header_values('location')}, "
                f"want {redirect['location']!r}")
    reason = _headers(expect, response) or _body(expect, response)
    if reason:
        return reason
    pod = pod_of(response)
    if "servedBy" in expect and service_of(pod) != expect["servedBy"]:
        return f"served by pod {pod!r}, want a pod of Service {expect['servedBy']}"
    for field, same in (("samePodAs", True), ("differentPodFrom", False)):
        if field in expect:  # the saved pod's name (`${var}` replaced), or the variable's name
            saved = captured.get(str(expect[field]), str(expect[field]))
            if (pod == saved) != same:
                return f"answered by pod {pod!r}, {field} {saved!r}"
    if "backendSees" in expect:
        return _backend_sees(expect["backendSees"], response)
    return None


def check_counts(counts: Mapping[str, Any], responses: Sequence[Response]) -> str | None:
    """None when the responses of an entry satisfy `counts`."""
    statuses = Counter(r.status for r in responses)
    wanted = {int(k): int(v) for k, v in (counts.get("status") or {}).items()}
    for code, number in wanted.items():
        if statuses[code] != number:
            return f"{statuses[code]} answers with status {code}, want {number} ({dict(statuses)})"
    if "otherStatuses" in counts:
        others = sum(n for code, n in statuses.items() if code not in wanted)
        if others != int(counts["otherStatuses"]):
            return f"{others} answers with other statuses, want {counts['otherStatuses']}"
    pods = [pod_of(r) for r in responses]
    served = Counter(service_of(p) for p in pods)
    for service, bounds in (counts.get("servedBy") or {}).items():
        if served[service] < int(bounds.get("min", 0)):
            return f"{served[service]} answers from {service}, want at least {bounds['min']}"
    if "distinctPods" in counts:
        distinct = len({p for p in pods if p})
        if distinct != int(counts["distinctPods"]):
            return f"{distinct} different pods answered, want {counts['distinctPods']}"
    return None
