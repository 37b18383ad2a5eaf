"""Regular expressions of policies, judged as Envoy would before they are sent.

Envoy compiles every regular expression of a listener or route with RE2 and refuses the whole
resource when one fails, so `checked(policy)` returns the policy with a problem (naming the
field, RE2's verdict and the fix) for each one `regexes.problem` refuses: a
ClientTrafficPolicy's `removeOnMatch` header names, a BackendTrafficPolicy's
`responseOverride` response header matches. A policy with problems is not applied, so the
listener or route keeps working without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from propylon.api.clientvalidation import SAN_KINDS
from propylon.api.envoygateway import BACKEND_TRAFFIC_POLICY, CLIENT_TRAFFIC_POLICY, Policy
from propylon.translate import regexes


def checked(policy: Policy) -> Policy:
    """`policy` with a problem for each regular expression Envoy would refuse."""
    if '"RegularExpression"' not in policy.spec:
        return policy
    problems = [f"{where}: {found}" for where, regex in _regexes(policy)
                if (found := regexes.problem(regex)) is not None]
    return replace(policy, problems=policy.problems + tuple(problems)) if problems else policy


def _regexes(policy: Policy) -> Iterator[tuple[str, str]]:
    spec = policy.spec_value()
    if policy.kind == CLIENT_TRAFFIC_POLICY:
        headers = spec.get("headers") or {}
        for key in ("earlyRequestHeaders", "lateResponseHeaders"):
            for i, match in enumerate((headers.get(key) or {}).get("removeOnMatch") or ()):
                yield from _one(f"spec.headers.{key}.removeOnMatch[{i}]", match)
        sans = ((spec.get("tls") or {}).get("clientValidation") or {}).get("subjectAltNames")
        for key in SAN_KINDS:
            for i, match in enumerate((sans or {}).get(key) or ()):
                yield from _one(f"spec.tls.clientValidation.subjectAltNames.{key}[{i}]", match)
    if policy.kind == BACKEND_TRAFFIC_POLICY:
        for i, rule in enumerate(spec.get("responseOverride") or ()):
            match = (rule or {}).get("match") or {}
            for j, header in enumerate(match.get("responseHeaders") or ()):
                yield from _one(f"spec.responseOverride[{i}].match.responseHeaders[{j}].value",
                                (header or {}).get("value"))


def _one(where: str, match: Any) -> Iterator[tuple[str, str]]:
    if isinstance(match, dict) and match.get("type") == "RegularExpression" \
            and isinstance(match.get("value"), str):
        yield where, match["value"]
