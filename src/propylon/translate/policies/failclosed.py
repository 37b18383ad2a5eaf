"""A SecurityPolicy or EnvoyExtensionPolicy that cannot be applied fails closed.

As in Envoy Gateway, a route entry governed by such a policy with problems (a credentials
Secret missing or malformed, an extAuth backend that does not resolve, a JWKS ConfigMap not
found, a Lua script that does not compile, a field Propylon does not implement, ...) is not
served without it: it answers `ANSWER`, a 500 with no body, until the policy is fixed. The
policy is Accepted False naming the problem, and its message says so (`NOTICE`).

- `KINDS`: the policy kinds that fail closed. A ClientTrafficPolicy with problems applies
  nothing, as in Envoy Gateway; so does a BackendTrafficPolicy (Envoy Gateway closes its
  routes, but Propylon's problems also name fields it does not implement, and a missing
  feature does not take routes down).
- `replacement(policy, parent)`: what governs a route entry instead of a policy with
  problems (merged over `parent`, which may have problems itself): None to fail closed, or
  the policy without its `extAuth` when that is its only problem and `extAuth.failOpen` is
  set (Envoy Gateway's fail-open exception: the rest of the policy still applies).
- `closed(route)`: the route entry answering `ANSWER` (its match kept, nothing else).
- `fails_closed(policy)`: whether a policy's problems close the routes it covers.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache

from propylon.api.envoygateway import ENVOY_EXTENSION_POLICY, SECURITY_POLICY, Policy
from propylon.ir.model import DirectResponse, Route

KINDS = frozenset((SECURITY_POLICY, ENVOY_EXTENSION_POLICY))
ANSWER = DirectResponse(500)
NOTICE = ("; until this is fixed, the routes this policy covers answer 500 instead of being "
          "served without it")
_EXT_AUTH = "spec.extAuth"


def fails_closed(policy: Policy) -> bool:
    """Whether `policy` has problems that make the routes it covers answer `ANSWER`."""
    return policy.kind in KINDS and bool(policy.problems) and _opened(policy) is None


def replacement(policy: Policy, parent: Policy | None,
                ) -> tuple[Policy, Policy | None] | None:
    """What governs instead of `policy` over `parent` when one of them has problems (see the
    module docstring)."""
    opened = _opened(policy) if policy.problems else policy
    parent_opened = None if parent is None else _opened(parent) if parent.problems else parent
    if opened is None or (parent is not None and parent_opened is None):
        return None
    return opened, parent_opened


@lru_cache(maxsize=1024)
def _opened(policy: Policy) -> Policy | None:
    """`policy` without `extAuth` when its only problems are there and it fails open."""
    if policy.kind != SECURITY_POLICY \
            or not all(p.startswith(_EXT_AUTH) for p in policy.problems):
        return None
    spec = policy.spec_value()
    ext_auth = spec.get("extAuth")
    if not isinstance(ext_auth, dict) or ext_auth.get("failOpen") is not True:
        return None
    return replace(policy, spec=json.dumps({k: v for k, v in spec.items() if k != "extAuth"},
                                           sort_keys=True), problems=())


def closed(route: Route) -> Route:
    """`route` answering `ANSWER` whatever it asks for."""
    return Route(route.name, route.match, direct_response=ANSWER, source=route.source)
