"""Where the tests find `../shared`: beside the repository, as CI lays it out.

`shared(*parts)` returns a path under it and fails the test (never skips it) when the path is
missing, so a machine without the data reports the missing file instead of running fewer tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def shared(*parts: str) -> Path:
    """`../shared/<parts>`, failing the calling test when it does not exist."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"{path} is missing: the tests read ../shared beside the repository")
    return path
