"""Where Propylon finds `../shared` at run time: the data beside the repository it runs from.

Some data Propylon serves is not part of the repository but lies beside it, as CI and a
checkout lay it out (`<repo>/../shared`): the Gateway API and Envoy Gateway CRDs whose schemas
`kubectl explain` shows, Kubernetes' protobuf definitions. `shared_root()` is that folder:
`$PROPYLON_SHARED` when set, else `../shared` next to the repository this package was
imported from (`src/propylon` -> the repository root). `shared_path(*parts)` is a path under it,
or None when it is missing, so a caller decides how to degrade and says so;
`repository_path(*parts)` is the same for a file of the checkout itself (`deploy/...`).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "PROPYLON_SHARED"
_REPOSITORY = Path(__file__).resolve().parents[2]  # src/propylon/shared_data.py -> the root


def shared_root() -> Path:
    """The `../shared` folder: `$PROPYLON_SHARED`, else beside the repository root."""
    configured = os.environ.get(ENV)
    if configured:
        return Path(configured)
    return _REPOSITORY.parent / "shared"


def shared_path(*parts: str) -> Path | None:
    """`<shared>/<parts>` when it exists, else None."""
    path = shared_root().joinpath(*parts)
    return path if path.exists() else None


def repository_path(*parts: str) -> Path | None:
    """`<repository>/<parts>` (a file of the checkout, such as `deploy/...`) when it exists,
    else None (an installed package has no checkout)."""
    path = _REPOSITORY.joinpath(*parts)
    return path if path.exists() else None
