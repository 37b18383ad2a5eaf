"""The CRD schemas of the kinds served without a CRD object: standalone's Gateway API kinds and
Propylon's GatewayParameters.

In standalone mode these kinds are built in, yet `kubectl explain` should show what a cluster
with the CRDs installed shows. `schema_of(info)` is the `openAPIV3Schema` of a kind's version,
read once, on first use, from the CRD files: the Gateway API standard bundle in `../shared`
(`GATEWAY_API_BUNDLE`, found by `propylon.shared_data`, so `$PROPYLON_SHARED` moves it) and
`deploy/crd-gatewayparameters.yaml` of the repository. A kind whose file is missing (an
installed package without `../shared` or `deploy/`) gets, with one warning in the log, the
schema Propylon validates it with (`propylon.api.validation.SCHEMAS`, rendered by
`propylon.api.schema.to_openapi`): the same fields and constraints, without descriptions.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

import yaml

from propylon.api.kinds import GATEWAY_GROUP, PROPYLON_GROUP, KindInfo
from propylon.api.schema import to_openapi
from propylon.api.validation import SCHEMAS
from propylon.apiserver.crds import kinds_of
from propylon.shared_data import repository_path, shared_path

log = logging.getLogger(__name__)

GATEWAY_API_BUNDLE = ("gateway-api", "crds", "v1.6.1", "standard-install.yaml")
PROPYLON_CRD = ("deploy", "crd-gatewayparameters.yaml")
BUNDLED_GROUPS = (GATEWAY_GROUP, PROPYLON_GROUP)
# libyaml's loader reads the 1 MiB Gateway API bundle in a fraction of the pure-Python time
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _files() -> list[tuple[str, Path | None]]:
    return [("../shared/" + "/".join(GATEWAY_API_BUNDLE), shared_path(*GATEWAY_API_BUNDLE)),
            ("/".join(PROPYLON_CRD), repository_path(*PROPYLON_CRD))]


@functools.cache
def _schemas() -> dict[tuple[str, str, str], dict[str, Any]]:
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for label, path in _files():
        if path is None:
            log.warning("%s is missing: `kubectl explain` shows the kinds it defines without "
                        "descriptions (the fields Propylon validates)", label)
            continue
        with path.open() as stream:
            for doc in yaml.load_all(stream, Loader=_LOADER):
                if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                    for info, schema in kinds_of(doc):
                        if schema is not None:
                            out[(info.group, info.version, info.kind)] = schema
    return out


def schema_of(info: KindInfo) -> dict[str, Any] | None:
    """The openAPIV3Schema of a bundled kind's version (None for kinds no bundle defines)."""
    schema = _schemas().get((info.group, info.version, info.kind))
    if schema is not None:
        return schema
    node = SCHEMAS.get((info.group, info.kind)) if info.group in BUNDLED_GROUPS else None
    return None if node is None else to_openapi(node)
