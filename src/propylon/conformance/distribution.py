"""Envoy Gateway's load-balancing checks: `distribution` batches and `sticky` sequences.

`distribution(send, step)` sends the step's `count` requests one after another (each on a new
connection, as the harness's round tripper does) and counts the answers per echoed pod name:
with `counted: every response ...` a transport error or a mismatch fails at once, otherwise
those are skipped. The `condition` (prose in the case files) is then evaluated once on the
counts (`problem`): "exactly one distinct pod", "at least N distinct pods answered",
"every pod that answered received M +/- D of the counted responses", "floor(100 * low / total)
>= P" (low: the answers of pods whose name contains a text), "every Running <deployment>
pod answered at least once" and "every response comes from exactly that pod" (the pod whose IP
replaced `<IP of the first Running <deployment> pod>` in a request header: `with_pod_ip`). A
condition it does not know raises `Unknown`.

`sticky_cookie(send, step)` is the cookie-jar variant of `sticky` (CookieBasedConsistentHash):
for each of `cookieValues`, `perValue` requests carrying `Cookie: <name>=<value>`; a transport
error or a non-200 answer is skipped, a 200 that is not echo JSON fails, and every pod seen for
one value must be the first one seen for it.

`sticky_session(send, step, sleep)` is the `sticky` of SessionPersistence: a first request
whose answer must carry the session (a response header, or a Set-Cookie whose attributes are
exactly those the procedure lists), then requests carrying it back, all answered by the first
pod; in the "run" form, runs of such requests are repeated every second (up to the procedure's
limit) until one lands on another backend than the first run.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from propylon.conformance.matching import Response
from propylon.conformance.traffic import backend_of

# send(extra request headers) -> (response, transport error or "", mismatch or "")
Send = Callable[[Mapping[str, str]], Awaitable[tuple[Response, str, str]]]
_EVERY_POD = re.compile(r"^every Running ([a-z0-9-]+) pod .*answered at least once$")
_POD_IP = re.compile(r"<IP of the first Running ([a-z0-9-]+) pod>")
_SHARE = re.compile(r'^floor\(100 \* low / total\) >= (\d+), where low = counted responses from '
                    r'pods whose name contains "([^"]+)"')
_AT_LEAST = re.compile(r"^at least (\d+) distinct pods answered$")
_EVEN = re.compile(r"^every pod that answered received (\d+) \+/- (\d+) of the counted responses")
_COOKIE = re.compile(r"put cookie ([A-Za-z0-9_-]+)=v")
_HEADER_SESSION = re.compile(r"^request 1: the response must carry header ([A-Za-z0-9_-]+)")
_COOKIE_SESSION = re.compile(r"a Set-Cookie for ([A-Za-z0-9_-]+) whose parsed attributes are "
                             r"exactly: value in double quotes, ([^;]*);")
_RUNS = re.compile(r"^a run = (\d+) requests.* Set-Cookie for ([A-Za-z0-9_-]+) .*for up to "
                   r"(\d+) s until")


class Unknown(Exception):
    """A condition or procedure this module does not evaluate."""


def problem(condition: str, counts: Mapping[str, int],
            pods: Sequence[str] = (), sent_to: str = "") -> str | None:
    """None when `counts` (answers per pod) satisfy `condition`, else why not; `pods` are
    the pods of the Deployment the condition names, `sent_to` the one a request named."""
    seen = dict(sorted(counts.items()))
    if not counts:
        return "no counted response"
    if _EVERY_POD.match(condition):
        missing = sorted(set(pods) - set(counts))
        return None if pods and not missing else \
            f"pods that never answered: {missing or 'no pods'} (all: {seen})"
    if condition.startswith("every response comes from exactly that pod"):
        return None if set(counts) == {sent_to} else \
            f"the request named {sent_to!r}, answered by {seen}"
    if condition == "exactly one distinct pod":
        return None if len(counts) == 1 else f"{len(counts)} pods answered: {seen}"
    found = _AT_LEAST.match(condition)
    if found:
        wanted = int(found.group(1))
        return None if len(counts) >= wanted else \
            f"{len(counts)} distinct pods answered, expected at least {wanted}: {seen}"
    found = _EVEN.match(condition)
    if found:
        mean, spread = int(found.group(1)), int(found.group(2))
        off = {pod: n for pod, n in counts.items() if abs(n - mean) > spread}
        return None if not off else \
            f"pods outside {mean} +/- {spread}: {dict(sorted(off.items()))} (all: {seen})"
    found = _SHARE.match(condition)
    if found:
        least, part = int(found.group(1)), found.group(2)
        low = sum(n for pod, n in counts.items() if part in pod)
        share = 100 * low // sum(counts.values())
        return None if share >= least else \
            f"{share}% of the answers came from {part} pods, expected {least}%: {seen}"
    raise Unknown(f"distribution condition not understood: {condition!r}")


def deployment_named(step: Mapping[str, Any]) -> str | None:
    """The Deployment whose pods the step's condition or request names, if any."""
    found = _EVERY_POD.match(str(step.get("condition", ""))) or _POD_IP.search(
        " ".join(str(v) for v in ((step.get("request") or {}).get("headers") or {}).values()))
    return found.group(1) if found else None


def with_pod_ip(headers: Mapping[str, Any], ip: str) -> dict[str, str]:
    """`headers` with the pod IP placeholder replaced by `ip`."""
    return {str(k): _POD_IP.sub(ip, str(v)) for k, v in headers.items()}


async def distribution(send: Send, step: Mapping[str, Any],
                       pods: Sequence[str] = (), sent_to: str = "") -> str | None:
    """None when the batch satisfies the step's condition (`problem`), else why not."""
    strict = str(step.get("counted", "")).startswith("every response")
    counts: Counter[str] = Counter()
    for _ in range(int(step.get("count", 1))):
        response, error, mismatch = await send({})
        if error or mismatch:
            if strict:
                return error or mismatch
            continue
        echo = response.echo() or {}
        counts[str(echo.get("pod", ""))] += 1
    return problem(str(step.get("condition", "")), counts, pods, sent_to)


async def sticky_cookie(send: Send, step: Mapping[str, Any]) -> str | None:
    """None when every cookie value kept to one pod, else why not (module docstring)."""
    found = _COOKIE.search(str(step.get("procedure", "")))
    if found is None:
        raise Unknown(f"sticky procedure not understood: {step.get('procedure')!r}")
    name = found.group(1)
    for value in step.get("cookieValues") or ():
        first = None
        for _ in range(int(step.get("perValue", 1))):
            response, error, _mismatch = await send({"Cookie": f"{name}={value}"})
            if error or response.status != 200:
                continue
            echo = response.echo()
            if echo is None:
                return f"cookie {value}: a 200 answer that is not echo JSON"
            pod = str(echo.get("pod", ""))
            if first is None:
                first = pod
            elif pod != first:
                return f"cookie {name}={value} was answered by {first} and then by {pod}"
    return None


def _set_cookie(response: Response, name: str) -> tuple[str, list[str]] | None:
    """The value and attributes of the Set-Cookie for `name`, or None."""
    for header in response.header_values("set-cookie"):
        first, *attributes = [part.strip() for part in header.split(";")]
        key, _, value = first.partition("=")
        if key == name:
            return value, attributes
    return None


async def _session_run(send: Send, count: int, name: str, header: bool,
                       attributes: list[str] | None, strict: bool) -> tuple[str, str | None]:
    """One sequence of `count` requests keeping the session `name`: (first pod, problem)."""
    response, error, mismatch = await send({})
    if error or (strict and mismatch):
        return "", error or mismatch
    pod = str((response.echo() or {}).get("pod", ""))
    if not pod:
        return "", f"request 1 was not answered by an echo pod (status {response.status})"
    if header:
        value = response.joined(name)
        if value is None:
            return pod, f"request 1 was answered without the session header {name}"
        carry = {name: value.split(",")[0]}
    else:
        cookie = _set_cookie(response, name)
        if cookie is None:
            return pod, f"request 1 was answered without a Set-Cookie for {name}"
        value, got = cookie
        if attributes is not None:
            if not (len(value) > 1 and value[0] == value[-1] == '"'):
                return pod, f"the {name} cookie value {value!r} is not in double quotes"
            if sorted(a.lower() for a in got) != sorted(a.lower() for a in attributes):
                return pod, f"the {name} cookie has attributes {got}, expected {attributes}"
        carry = {"Cookie": f"{name}={value.strip(chr(34))}"}
    for i in range(2, count + 1):
        response, error, mismatch = await send(carry)
        if error or (strict and mismatch):
            return pod, f"request {i}: {error or mismatch}"
        answered = str((response.echo() or {}).get("pod", ""))
        if answered != pod:
            return pod, f"request {i} carrying the session went to {answered!r}, not {pod!r}"
    return pod, None


async def sticky_session(send: Send, step: Mapping[str, Any],
                         sleep: Callable[[float], Awaitable[None]]) -> str | None:
    """None when the session kept to its pod (module docstring), else why not."""
    procedure = str(step.get("procedure", ""))
    count = int(step.get("count", 1))
    found = _HEADER_SESSION.match(procedure)
    if found:
        return (await _session_run(send, count, found.group(1), True, None, False))[1]
    found = _COOKIE_SESSION.search(procedure)
    if found:
        attributes = [a.strip() for a in found.group(2).split(",")]
        return (await _session_run(send, count, found.group(1), False, attributes, False))[1]
    found = _RUNS.match(procedure)
    if found is None:
        raise Unknown(f"sticky procedure not understood: {procedure!r}")
    count, name, limit = int(found.group(1)), found.group(2), int(found.group(3))
    pod, reason = await _session_run(send, count, name, False, None, True)
    if reason:
        return reason
    first = backend_of(pod)
    for _ in range(limit + 1):
        pod, reason = await _session_run(send, count, name, False, None, True)
        if reason:
            return reason
        if backend_of(pod) != first:
            return None
        await sleep(1.0)
    return f"every run within {limit} s was answered by {first}"
