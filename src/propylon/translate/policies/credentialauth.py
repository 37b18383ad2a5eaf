"""A SecurityPolicy's `basicAuth` and `apiKeyAuth` on the IR routes it governs.

`governed(route, policy, parent)` puts on a route entry the policy's `ir.BasicAuth` (the
htpasswd lines read by `credentials.resolve`, `forwardUsernameHeader`) and `ir.ApiKeyAuth`
(the keys, `extractFrom` as sources in order, `forwardClientIDHeader`, `sanitize`). With a
`mergeType` the merged spec decides, and a field the policy inherits from its parent takes the
parent's credentials. `authn.with_filters` then tells each listener whether its routes use these filters.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache

from propylon.api.envoygateway import Credentials, Policy, Security, security
from propylon.api.mergepatch import merge_patch
from propylon.ir.model import ApiKeyAuth, BasicAuth, Route


@lru_cache(maxsize=4096)
def _settings(policy: Policy, parent: Policy | None) -> tuple[BasicAuth | None,
                                                              ApiKeyAuth | None]:
    own = policy.spec_value()
    spec = own if parent is None else merge_patch(parent.spec_value(), json.loads(policy.spec))
    found: Security = security(spec, policy.meta.namespace)[0]

    def credentials(field: str) -> Credentials:
        source = policy if field in own or parent is None else parent
        return source.credentials or Credentials()

    basic = api_key = None
    if found.basic_auth is not None:
        users = credentials("basicAuth").htpasswd
        if users is not None:
            basic = BasicAuth(users, found.basic_auth.forward_username_header)
    if found.api_key_auth is not None:
        keys = credentials("apiKeyAuth").api_keys
        settings = found.api_key_auth
        api_key = ApiKeyAuth(keys, settings.sources, settings.forward_client_id_header,
                             settings.sanitize)
    return basic, api_key


def governed(route: Route, policy: Policy, parent: Policy | None) -> Route:
    """`route` with the authentication the governing policy asks for."""
    basic, api_key = _settings(policy, parent)
    if basic is None and api_key is None:
        return route
    return replace(route, basic_auth=basic, api_key_auth=api_key)
