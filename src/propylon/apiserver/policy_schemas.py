"""The schemas of Envoy Gateway's kinds, read from their CRDs in `../shared` when first needed.

Envoy Gateway's kinds (`api.kinds`, group gateway.envoyproxy.io) are served as builtin kinds in
standalone mode; their `openAPIV3Schema` is the one of the upstream CRDs, which lie beside the
repository in `../shared/envoy-gateway/crds` (found with `shared_data.shared_path`), never
copied into it. `schema(info)` parses those files once per process, on the first request for
one (the EnvoyProxy CRD alone is 1.4 MB, so an API server that never sees these kinds never
reads them), and returns the schema of that kind and version. When the folder is missing the
kinds are still served, without schema (no pruning of unknown fields, no `kubectl explain`
fields), and one WARNING says where the CRDs were looked for.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

import yaml

from propylon.api.kinds import ENVOY_GATEWAY_GROUP, KindInfo
from propylon.shared_data import shared_path, shared_root

CRD_FOLDER = ("envoy-gateway", "crds")
log = logging.getLogger(__name__)


@cache
def _schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> openAPIV3Schema of every served version of the CRDs."""
    folder = shared_path(*CRD_FOLDER)
    if folder is None:
        log.warning("no Envoy Gateway CRDs at %s: its kinds are served without schema",
                    shared_root().joinpath(*CRD_FOLDER))
        return {}
    out = {}
    for path in sorted(folder.glob("*.yaml")):
        crd = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
        spec = crd.get("spec") or {}
        for version in spec.get("versions") or []:
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if version.get("served") and isinstance(schema, dict):
                out[(f'{spec["group"]}/{version["name"]}', spec["names"]["kind"])] = schema
    return out


def schema(info: KindInfo) -> dict[str, Any] | None:
    """The CRD schema of one of Envoy Gateway's builtin kinds, None for any other kind."""
    if info.group != ENVOY_GATEWAY_GROUP:
        return None
    return _schemas().get((info.api_version, info.kind))
