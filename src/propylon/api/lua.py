"""An EnvoyExtensionPolicy's `lua`, decoded: the scripts Envoy runs on the requests and
responses of the routes the policy governs, in order.

`lua_scripts(spec)` reads `spec.lua[]` into `LuaScript`s and the list of what is wrong with
them (messages naming the field and the fix): each entry is `type: Inline` with the script in
`inline`, or `type: ValueRef` with `valueRef` naming a ConfigMap of the policy's namespace
(`group: ""`, `kind: ConfigMap`), whose key `lua` (else its first key) holds the script, as
Envoy Gateway reads it (`translate.policies.extension` reads the ConfigMap). An inline script is
checked here (`luacheck`), one from a ConfigMap once read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from propylon.api import luacheck


@dataclass(frozen=True)
class LuaScript:
    """One `lua[i]`: its code, or the ConfigMap holding it (`config_map`, not read yet)."""

    code: str | None = None
    config_map: str | None = None


def lua_scripts(spec: Mapping[str, Any]) -> tuple[tuple[LuaScript, ...], list[str]]:
    """The `lua` entries of an EnvoyExtensionPolicy spec, and what is wrong with them."""
    out: list[LuaScript] = []
    errors: list[str] = []
    raw = spec.get("lua")
    if raw is None:
        return (), errors
    if not isinstance(raw, list):
        return (), ["spec.lua must be a list of scripts"]
    for i, entry in enumerate(raw):
        path = f"spec.lua[{i}]"
        entry = entry if isinstance(entry, Mapping) else {}
        kind = entry.get("type")
        if kind == "Inline" and isinstance(entry.get("inline"), str):
            found = luacheck.problem(entry["inline"])
            if found is not None:
                errors.append(f"{path}.inline: {found}")
            out.append(LuaScript(code=entry["inline"]))
        elif kind == "ValueRef" and isinstance(entry.get("valueRef"), Mapping):
            ref = entry["valueRef"]
            if ref.get("group") not in (None, "") or ref.get("kind") != "ConfigMap" \
                    or not ref.get("name"):
                errors.append(f"{path}.valueRef must name a ConfigMap (group \"\", kind "
                              "ConfigMap, name) of the policy's namespace")
            out.append(LuaScript(config_map=str(ref.get("name") or "")))
        else:
            errors.append(f"{path}: set type Inline with inline (the script), or type "
                          "ValueRef with valueRef (a ConfigMap holding it)")
    return tuple(out), errors
