"""Where Propylon finds `../shared` at run time: the data beside the repository it runs from.

Some data Propylon serves is not part of the repository but lies beside it, as CI and a
checkout lay it out (`<repo>/../shared`): the Gateway API and Envoy Gateway CRDs whose schemas
`kubectl explain` shows, Kubernetes' protobuf definitions. `shared_root()` is that folder:
`$PROPYLON_SHARED` when set, else `../shared` next to the repository this package was
imported from (`src/propylon` -> the repository root). `shared_path(*parts)` is a path under it,
or None when it is missing, so a caller decides how to degrade and says so.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "PROPYLON_SHARED"


def shared_root() -> Path:
    """The `../shared` folder: `$PROPYLON_SHARED`, else beside the repository root."""
    configured = os.environ.get(ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2].parent / "shared"


def shared_path(*parts: str) -> Path | None:
    """`<shared>/<parts>` when it exists, else None."""
    path = shared_root().joinpath(*parts)
    return path if path.exists() else None
