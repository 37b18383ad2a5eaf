"""A SecurityPolicy's `basicAuth` and `apiKeyAuth` on the IR routes it governs.

`governed(route, policy, parent, basic, api_key)` puts on a route entry, from the policy's
settings (`security.settings`, merged over `parent`'s with a `mergeType`), an `ir.BasicAuth`
(the htpasswd lines read by `credentials.resolve`, `forwardUsernameHeader`) and an
`ir.ApiKeyAuth` (the keys, `extractFrom` as sources in order, `forwardClientIDHeader`,
`sanitize`); a field the policy inherits from its parent takes the parent's credentials.
The xDS layer puts their filters in the chains whose routes use them.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from propylon.api.envoygateway import (
    ApiKeyAuthSettings,
    BasicAuthSettings,
    Credentials,
    Policy,
)
from propylon.ir.model import ApiKeyAuth, BasicAuth, Route


@lru_cache(maxsize=4096)
def _auth(policy: Policy, parent: Policy | None, basic: BasicAuthSettings | None,
          api_key: ApiKeyAuthSettings | None) -> tuple[BasicAuth | None, ApiKeyAuth | None]:
    own = policy.spec_value()

    def credentials(field: str) -> Credentials:
        source = policy if field in own or parent is None else parent
        return source.credentials or Credentials()

    users = credentials("basicAuth").htpasswd if basic is not None else None
    return (None if basic is None or users is None
            else BasicAuth(users, basic.forward_username_header),
            None if api_key is None
            else ApiKeyAuth(credentials("apiKeyAuth").api_keys, api_key.sources,
                            api_key.forward_client_id_header, api_key.sanitize))


def governed(route: Route, policy: Policy, parent: Policy | None,
             basic: BasicAuthSettings | None, api_key: ApiKeyAuthSettings | None) -> Route:
    """`route` with the authentication the governing policy asks for: `basic` and `api_key`
    from its settings (merged over `parent`'s)."""
    found = _auth(policy, parent, basic, api_key)
    if found == (None, None):
        return route
    return replace(route, basic_auth=found[0], api_key_auth=found[1])
