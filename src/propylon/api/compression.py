"""A BackendTrafficPolicy's `compressor` (and its older name `compression`), decoded.

Each entry names an algorithm (`type`: Gzip, Brotli or Zstd, in the client's order of
preference when it accepts several: the first listed that it accepts wins) and
`minContentLength`, the smallest response body compressed (bytes; Envoy's default, 30, when
unset). The algorithms' own tuning (`gzip`, `brotli`, `zstd` objects) is not implemented: it
is reported like any other field Propylon does not implement.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

CompressorType = Literal["Gzip", "Brotli", "Zstd"]
TYPES: dict[str, CompressorType] = {"Gzip": "Gzip", "Brotli": "Brotli", "Zstd": "Zstd"}


@dataclass(frozen=True)
class Compressor:
    type: CompressorType
    min_content_length: int | None = None


def compressors(spec: Mapping[str, Any], errors: list[str]) -> tuple[Compressor, ...]:
    """The compressors of a BackendTrafficPolicy spec, in its order, each type once."""
    key = "compressor" if "compressor" in spec else "compression"
    out: list[Compressor] = []
    for i, raw in enumerate(spec.get(key) or ()):
        path = f"spec.{key}[{i}]"
        kind = raw.get("type") if isinstance(raw, Mapping) else None
        if not isinstance(kind, str) or kind not in TYPES:
            errors.append(f"{path}.type: {kind!r} is not a compressor: use one of "
                          f"{', '.join(TYPES)}")
            continue
        assert isinstance(raw, Mapping)
        for options in ("gzip", "brotli", "zstd"):
            if raw.get(options):
                errors.append(f"{path}.{options}: the {options} settings are not implemented "
                              "by Propylon yet: remove them (the defaults apply)")
        length = byte_size(raw.get("minContentLength"))
        if raw.get("minContentLength") is not None and length is None:
            errors.append(f"{path}.minContentLength: {raw.get('minContentLength')!r} is not a "
                          "size: write it as 50, 1Ki or 1k")
        if any(c.type == kind for c in out):
            errors.append(f"{path}.type: {kind} is listed twice: keep one")
            continue
        out.append(Compressor(TYPES[kind], length))
    return tuple(out)


_QUANTITY = re.compile(r"^([0-9]+)(k|M|G|Ki|Mi|Gi)?$")
_UNITS = {"": 1, "k": 1000, "M": 1000**2, "G": 1000**3, "Ki": 1024, "Mi": 1024**2,
          "Gi": 1024**3}


def byte_size(value: Any) -> int | None:
    """A Kubernetes quantity of bytes (50, "1Ki", "2k") as an int, or None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 2**32 else None
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value)
    if match is None:
        return None
    found = int(match[1]) * _UNITS[match[2] or ""]
    return found if found < 2**32 else None
