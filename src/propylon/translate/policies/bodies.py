"""Bodies a BackendTrafficPolicy's `responseOverride` takes from ConfigMaps.

`resolved(policy, config_maps)` returns the policy with each `ValueRef` body of its spec
replaced by an `Inline` one holding the ConfigMap's value (its `response.body` key, or its
only key), or with a problem naming the field, the ConfigMap and the fix when there is none.
The value is then part of the policy itself: a ConfigMap change makes a different policy, so
the route tables it governs are governed again (their cache is keyed by the policies).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace

from propylon.api.core import ConfigMap
from propylon.api.envoygateway import Policy
from propylon.translate.routefilters import BODY_KEY, config_map_body


def resolved(policy: Policy, config_maps: Mapping[tuple[str, str], ConfigMap]) -> Policy:
    """`policy` with its ConfigMap bodies inline (see the module docstring)."""
    if '"ValueRef"' not in policy.spec:
        return policy
    spec = json.loads(policy.spec)
    problems = list(policy.problems)
    for i, rule in enumerate(spec.get("responseOverride") or ()):
        body = ((rule or {}).get("response") or {}).get("body")
        if not isinstance(body, dict) or body.get("type") != "ValueRef":
            continue
        name = str((body.get("valueRef") or {}).get("name") or "")
        value = config_map_body(config_maps.get((policy.meta.namespace, name)))
        if value is None:
            problems.append(f"spec.responseOverride[{i}].response.body.valueRef: ConfigMap "
                            f'"{policy.meta.namespace}/{name}" does not exist or has no '
                            f"{BODY_KEY} key: create it or fix the name")
            continue
        body.clear()
        body.update({"type": "Inline", "inline": value})
    return replace(policy, spec=json.dumps(spec, sort_keys=True), problems=tuple(problems))
