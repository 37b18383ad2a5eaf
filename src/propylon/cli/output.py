"""The `-o` formats of `propylon get` other than tables: yaml, json, name and jsonpath.

`as_printed()` gives the document kubectl prints: one object when a NAME was asked for, else a
`List` (apiVersion v1, kind List, items, metadata.resourceVersion "") whose items carry their
apiVersion and kind (a list response from the server omits them). `metadata.managedFields` is
left out, as kubectl hides it by default.

YAML is emitted like kubectl's (sorted keys, block style, lists not indented under their key,
double quotes where quoting is needed, multi-line strings as `|` blocks, no line wrapping); JSON
with four-space indentation and sorted keys.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from propylon import jsonpath
from propylon.api.kinds import KindInfo

FORMATS = ("wide", "yaml", "json", "name", "jsonpath=TEMPLATE")


class _KubectlEmitter(yaml.emitter.Emitter):
    def choose_scalar_style(self) -> str:
        style = super().choose_scalar_style()
        # called for scalar events only
        if isinstance(self.event, yaml.ScalarEvent) and self.event.style is None and style == "'":
            return '"'
        return style


class _KubectlDumper(_KubectlEmitter, yaml.serializer.Serializer, yaml.representer.SafeRepresenter,
                     yaml.resolver.Resolver):
    def __init__(self, stream: Any, **kwargs: Any) -> None:
        _KubectlEmitter.__init__(self, stream, width=kwargs.get("width"),
                                 allow_unicode=kwargs.get("allow_unicode"))
        yaml.serializer.Serializer.__init__(self)
        yaml.representer.SafeRepresenter.__init__(self, default_flow_style=False,
                                                  sort_keys=True)
        yaml.resolver.Resolver.__init__(self)


def _represent_str(dumper: yaml.representer.SafeRepresenter, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and not value.startswith(" ") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_KubectlDumper.add_representer(str, _represent_str)


def to_yaml(doc: Any) -> str:
    return yaml.dump(doc, Dumper=_KubectlDumper, width=1 << 30, allow_unicode=True)


def to_json(doc: Any) -> str:
    return json.dumps(doc, indent=4, sort_keys=True, ensure_ascii=False) + "\n"


def resource_name(info: KindInfo, obj: dict[str, Any]) -> str:
    """`gateway.gateway.networking.k8s.io/api-gateway`, `service/echo`, as `-o name` prints."""
    kind = info.kind.lower() + (f".{info.group}" if info.group else "")
    return f"{kind}/{obj.get('metadata', {}).get('name', '')}"


def as_printed(info: KindInfo, objects: list[dict[str, Any]], single: bool) -> dict[str, Any]:
    items = [_clean(info, obj) for obj in objects]
    if single and len(items) == 1:
        return items[0]
    return {"apiVersion": "v1", "items": items, "kind": "List",
            "metadata": {"resourceVersion": ""}}


def render(fmt: str, info: KindInfo, objects: list[dict[str, Any]], single: bool) -> str:
    """The output of `-o fmt` (yaml, json, name, jsonpath=...) for these objects."""
    if fmt == "name":
        return "".join(resource_name(info, obj) + "\n" for obj in objects)
    doc = as_printed(info, objects, single)
    if fmt == "yaml":
        return to_yaml(doc)
    if fmt == "json":
        return to_json(doc)
    if fmt.startswith("jsonpath="):
        return jsonpath.render(fmt[len("jsonpath="):], doc)
    raise ValueError(f'unable to match a printer suitable for the output format "{fmt}", '
                     f"allowed formats are: {','.join(FORMATS)}")


def _clean(info: KindInfo, obj: dict[str, Any]) -> dict[str, Any]:
    out = {"apiVersion": info.api_version, "kind": info.kind, **obj}
    metadata = dict(out.get("metadata") or {})
    metadata.pop("managedFields", None)
    out["metadata"] = metadata
    return out
