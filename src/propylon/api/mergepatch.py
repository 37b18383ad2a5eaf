"""JSON merge patch (RFC 7386), on plain JSON values.

`merge_patch(target, patch)`: a mapping patch merges into a mapping target key by key, a null
value deletes its key, anything else (a list, a scalar) replaces what it patches. The result is
a new value; neither input is changed. The API server applies `application/merge-patch+json`
with it and the conformance runner its structured step patches.
"""

from __future__ import annotations

import copy
from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    """`patch` applied to `target` (RFC 7386)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
