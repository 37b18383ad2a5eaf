"""EnvoyExtensionPolicy `lua`: the scripts of the routes a policy governs.

- `resolved(policy, config_maps)`: a policy whose `lua[i].valueRef` names a ConfigMap gets the
  script it holds (key `lua`, else its first key, as Envoy Gateway reads it) in its spec, as if
  written inline, checked like an inline script (`api.luacheck`); a ConfigMap missing, empty or
  holding a script that does not compile is a problem, so the policy is Accepted False naming
  `spec.lua[i]` and applies nothing.
- `governed(route, policy, parent, copies)`: the route entry with the policy's scripts, named
  `envoyextensionpolicy/<namespace>/<name>/lua/<i>`, in order (a policy on the route replaces
  one on its Gateway, as attachment decides).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache

from propylon.api import luacheck
from propylon.api.core import ConfigMap
from propylon.api.envoygateway import ENVOY_EXTENSION_POLICY, Policy
from propylon.api.lua import lua_scripts
from propylon.ir.model import Lua, Route
from propylon.translate.policies.traffic import ClusterChanges


def _script(config_map: ConfigMap | None) -> str | None:
    if config_map is None or not config_map.data:
        return None
    return config_map.value("lua") or config_map.data[0][1]


def resolved(policy: Policy, config_maps: Mapping[tuple[str, str], ConfigMap]) -> Policy:
    """`policy` with its ConfigMap scripts read (see the module docstring); the same object
    when it names none."""
    if policy.kind != ENVOY_EXTENSION_POLICY or '"valueRef"' not in policy.spec \
            or policy.problems:
        return policy
    spec = policy.spec_value()
    entries = list(spec.get("lua") or ())
    problems = []
    for i, script in enumerate(lua_scripts(spec)[0]):
        if script.config_map is None:
            continue
        namespace = policy.meta.namespace
        code = _script(config_maps.get((namespace, script.config_map)))
        found = (f"ConfigMap {namespace}/{script.config_map} is not found or holds no script: "
                 "create it with the script under the key lua") if code is None \
            else luacheck.problem(code)
        if found is not None:
            problems.append(f"spec.lua[{i}].valueRef: {found}")
        entries[i] = {"type": "Inline", "inline": code or ""}
    if problems:
        return replace(policy, problems=tuple(problems))
    return replace(policy, spec=json.dumps({**spec, "lua": entries}, sort_keys=True))


@lru_cache(maxsize=4096)
def _luas(policy: Policy) -> tuple[Lua, ...]:
    prefix = f"envoyextensionpolicy/{policy.meta.namespace}/{policy.meta.name}/lua"
    return tuple(Lua(f"{prefix}/{i}", script.code or "")
                 for i, script in enumerate(lua_scripts(policy.spec_value())[0]))


def governed(route: Route, policy: Policy, parent: Policy | None,
             copies: dict[str, tuple[str, ClusterChanges]]) -> Route:
    """`route` with the scripts of the governing policy (see the module docstring)."""
    luas = _luas(policy)
    return replace(route, lua=luas) if luas else route
