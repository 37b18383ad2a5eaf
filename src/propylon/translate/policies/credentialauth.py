"""A SecurityPolicy's `basicAuth` and `apiKeyAuth` on the IR routes and listeners it governs.

`governed(route, policy, parent)` puts on a route entry the policy's `ir.BasicAuth` (the
htpasswd lines read by `credentials.resolve`, `forwardUsernameHeader`) and `ir.ApiKeyAuth`
(the keys, `extractFrom` as sources in order, `forwardClientIDHeader`, `sanitize`). With a
`mergeType` the merged spec decides, and a field the policy inherits from its parent takes the
parent's credentials.

`with_listener_auth(ir, store)` then tells each listener which authentication filters the
routes of its route tables use (`ir.ListenerAuth`), so its connection managers carry those
filters only; a table's answer is last pass's while the table is the same object.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache

from propylon.api.envoygateway import Credentials, Policy, Security, security
from propylon.api.mergepatch import merge_patch
from propylon.ir.model import ApiKeyAuth, BasicAuth, GatewayIR, ListenerAuth, Route, RouteConfig
from propylon.translate.types import Store


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


def _table_auth(config: RouteConfig) -> ListenerAuth:
    headers: set[str] = set()
    api_key = False
    for vhost in config.virtual_hosts:
        for route in vhost.routes:
            if route.basic_auth is not None:
                headers.add(route.basic_auth.forward_username_header or "")
            api_key = api_key or route.api_key_auth is not None
    return ListenerAuth(tuple(sorted(headers)), api_key)


def with_listener_auth(ir: GatewayIR, store: Store | None) -> GatewayIR:
    """`ir` with each listener's `auth` (see the module docstring)."""
    tables: dict[str, ListenerAuth] = {}
    for config in ir.route_configs:
        cache_key = ("listener-auth", ir.key, config.name)
        found = store.get(cache_key) if store is not None else None
        if found is None or found[0] is not config:
            found = (config, _table_auth(config))
        if store is not None:
            store.put(cache_key, found)
        tables[config.name] = found[1]
    listeners = []
    for listener in ir.listeners:
        names = [listener.route_config, *(c.route_config for c in listener.tls_chains)]
        used = [tables[n] for n in names if n is not None and n in tables]
        auth = ListenerAuth(tuple(sorted({h for a in used for h in a.basic_auth_headers})),
                            any(a.api_key_auth for a in used))
        auth_or_none = None if auth == ListenerAuth() else auth
        listeners.append(listener if listener.auth == auth_or_none
                         else replace(listener, auth=auth_or_none))
    if all(a is b for a, b in zip(listeners, ir.listeners, strict=True)):
        return ir
    return replace(ir, listeners=tuple(listeners))
