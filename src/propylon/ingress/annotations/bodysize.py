"""`proxy-body-size`: the largest request body ingress-nginx accepts (413 above it; 1m when
unset, `0` for no limit).

Envoy Gateway expresses it as a BackendTrafficPolicy `requestBuffer.limit`, which Propylon does
not implement yet, so the converter emits nothing Propylon would refuse and reports the
annotation as not convertible yet; a value that is not a size (`15r`) is ignored by
ingress-nginx, which keeps 1m.
"""

from __future__ import annotations

from propylon.ingress.annotations.policyparts import REFUSED, Made, family, note
from propylon.ingress.annotations.policyvalues import size_bytes
from propylon.ingress.effects import Context

ANNOTATION = "proxy-body-size"


def made(ctx: Context) -> Made:
    """The body size limit of an Ingress."""
    annotations = ctx.annotations
    if ANNOTATION not in annotations:
        return Made()
    size = size_bytes(annotations[ANNOTATION])
    value = "the default 1m (the value is not a size)" if size is None else \
        annotations[ANNOTATION].strip()
    return note(ANNOTATION, REFUSED, f"not convertible yet: a limit of {value} needs "
                "BackendTrafficPolicy requestBuffer.limit, which Propylon does not implement "
                "yet: bodies of any size reach the backend")


CONVERTERS = family([ANNOTATION], made)
