"""`proxy-body-size`: the largest request body ingress-nginx accepts (413 above it; 1m when
unset, `0` for no limit).

Envoy Gateway expresses it as a BackendTrafficPolicy `requestBuffer.limit`, which Propylon does
not implement yet, so the converter emits nothing Propylon would refuse and reports the
annotation as not convertible yet; a value that is not a size (`15r`) is ignored by
ingress-nginx, which keeps 1m.
"""

from __future__ import annotations

from collections.abc import Mapping

from propylon.ingress.policyparts import REFUSED, Converted, note
from propylon.ingress.policyvalues import size_bytes

ANNOTATION = "proxy-body-size"


def convert(annotations: Mapping[str, str]) -> Converted:
    """The body size limit of an Ingress's annotations (short names)."""
    if ANNOTATION not in annotations:
        return Converted()
    size = size_bytes(annotations[ANNOTATION])
    value = "the default 1m (the value is not a size)" if size is None else \
        annotations[ANNOTATION].strip()
    return note(ANNOTATION, REFUSED, f"not convertible yet: a limit of {value} needs "
                "BackendTrafficPolicy requestBuffer.limit, which Propylon does not implement "
                "yet: bodies of any size reach the backend")
