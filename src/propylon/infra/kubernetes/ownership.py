"""Whether an object found in the cluster belongs to a Gateway's proxies (no I/O).

Before the controller server-side applies (with force) or deletes a proxy object, it reads the
object of that kind and name; `foreign(obj, key)` says why it must not be touched, or None when
it may be:
- an object whose controller ownerReference is another object than a Gateway of that name
  (whatever its uid: a Gateway deleted and created again under the same name takes its objects
  back) was made by someone else;
- an object without a controller ownerReference is ours only when it carries Propylon's labels
  for that Gateway (`labels.selector_labels`), as a previous controller's leftovers do.
Server-side apply with force would otherwise take over any same-named object someone else made.
"""

from __future__ import annotations

from typing import Any

from propylon.infra.labels import selector_labels
from propylon.ir.model import GatewayKey


def foreign(obj: dict[str, Any], key: GatewayKey) -> str | None:
    """Why `obj` (of a proxy object's kind and name) is not one of Gateway `key`'s, or None."""
    meta = obj.get("metadata") or {}
    where = f"{obj.get('kind', 'object')} {meta.get('namespace')}/{meta.get('name')}"
    owner = next((ref for ref in meta.get("ownerReferences") or [] if ref.get("controller")),
                 None)
    if owner is not None:
        if owner.get("kind") == "Gateway" and owner.get("name") == key.name:
            return None
        return (f"{where} already exists, controlled by {owner.get('kind')} "
                f"{owner.get('name')}; Propylon does not take it over: delete or rename it, "
                "or rename the Gateway")
    labels = meta.get("labels") or {}
    if all(labels.get(k) == v for k, v in selector_labels(key).items()):
        return None
    return (f"{where} already exists and was not made by Propylon for this Gateway (no "
            "ownerReference to it, no propylon.dev/gateway-name and gateway-namespace labels); "
            "Propylon does not take it over: delete or rename it, or rename the Gateway")
