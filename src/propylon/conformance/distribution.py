"""Envoy Gateway's load-balancing checks: `distribution` batches and `sticky` sequences.

`distribution(send, step)` sends the step's `count` requests one after another (each on a new
connection, as the harness's round tripper does) and counts the answers per echoed pod name:
with `counted: every response ...` a transport error or a mismatch fails at once, otherwise
those are skipped. The `condition` (prose in the case files) is then evaluated once on the
counts (`problem`): "exactly one distinct pod", "at least N distinct pods answered", and
"every pod that answered received M +/- D of the counted responses". A condition it does not
know raises `Unknown`.

`sticky_cookie(send, step)` is the cookie-jar variant of `sticky` (CookieBasedConsistentHash):
for each of `cookieValues`, `perValue` requests carrying `Cookie: <name>=<value>`; a transport
error or a non-200 answer is skipped, a 200 that is not echo JSON fails, and every pod seen for
one value must be the first one seen for it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from propylon.conformance.matching import Response

# send(extra request headers) -> (response, transport error or "", mismatch or "")
Send = Callable[[Mapping[str, str]], Awaitable[tuple[Response, str, str]]]
_AT_LEAST = re.compile(r"^at least (\d+) distinct pods answered$")
_EVEN = re.compile(r"^every pod that answered received (\d+) \+/- (\d+) of the counted responses")
_COOKIE = re.compile(r"put cookie ([A-Za-z0-9_-]+)=v")


class Unknown(Exception):
    """A condition or procedure this module does not evaluate."""


def problem(condition: str, counts: Mapping[str, int]) -> str | None:
    """None when `counts` (answers per pod) satisfy `condition`, else why not."""
    seen = dict(sorted(counts.items()))
    if not counts:
        return "no counted response"
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
    raise Unknown(f"distribution condition not understood: {condition!r}")


async def distribution(send: Send, step: Mapping[str, Any]) -> str | None:
    """None when the batch satisfies the step's condition, else why not."""
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
    return problem(str(step.get("condition", "")), counts)


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
