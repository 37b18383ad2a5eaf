"""A SecurityPolicy's settings on the IR route entries it governs.

`governed(route, policy, parent, copies)` returns the route entry with the settings of
`policy` (merged over `parent`'s spec when it has a `mergeType`, as for BackendTrafficPolicies):
- `basicAuth`, `apiKeyAuth` -> the route's authentication (`credentialauth`);
- `cors` -> the route's CORS policy (`ir.Cors`: Envoy answers preflights itself, allowed
  origins as anchored regular expressions, `*` in methods or headers echoing what the request
  asks for), unless the route rule has a CORS filter of its own. Without `maxAge`, 5 s.
- `jwt` and `authorization` -> the route's JWT requirement and authorization rules (`authn`).
- `extAuth` -> the route's external authorisation (`extauth.route_ext_auth`).
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache

from propylon.api.envoygateway import Policy, Security, security
from propylon.api.mergepatch import merge_patch
from propylon.ir.model import Route
from propylon.translate.policies import authn, credentialauth
from propylon.translate.policies.extauth import route_ext_auth
from propylon.translate.policies.traffic import ClusterChanges


@lru_cache(maxsize=4096)
def settings(policy: Policy, parent: Policy | None) -> Security:
    """The implemented settings of `policy`, merged over `parent` when it has one."""
    spec = policy.spec_value() if parent is None else merge_patch(parent.spec_value(),
                                                                  json.loads(policy.spec))
    return security(spec, policy.meta.namespace)[0]


def governed(route: Route, policy: Policy, parent: Policy | None,
             copies: dict[str, tuple[str, ClusterChanges]]) -> Route:
    """`route` with the settings of the governing policy (see the module docstring)."""
    found = settings(policy, parent)
    route = authn.governed(route, policy, parent, found.jwt, found.authorization)
    route = credentialauth.governed(route, policy, parent, found.basic_auth, found.api_key_auth)
    if found.ext_auth is not None and route.ext_auth is None:
        # merged over a parent that alone sets extAuth: the parent's service, in its namespace
        owner = parent if parent is not None and '"extAuth"' not in policy.spec else policy
        route = replace(route, ext_auth=route_ext_auth(owner, found.ext_auth))
    cors = found.cors
    if cors is None or route.cors is not None or route.direct_response is not None:
        return route
    return replace(route, cors=cors)
