"""`proxy-body-size`: the largest request body ingress-nginx accepts (413 above it; `0` for no
limit), as a BackendTrafficPolicy `requestBuffer.limit`.

Envoy then receives the whole body before sending it to the backend, as nginx does by default
(`proxy-request-buffering: on`), and answers 413 to a larger one. A value that is not a size
(`15r`) is ignored by ingress-nginx, which keeps its default of 1m: the converter sets 1m then,
and says so. What differs: without the annotation ingress-nginx still limits bodies to 1m (its
ConfigMap's `proxy-body-size`), where a converted Ingress without it has no limit.
"""

from __future__ import annotations

from propylon.ingress.annotations.policyparts import CONVERTED, DIFFERS, Made, Note, family
from propylon.ingress.annotations.policyvalues import size_bytes
from propylon.ingress.effects import Context, Policy

ANNOTATION = "proxy-body-size"
DEFAULT_BYTES = 1024 * 1024  # ingress-nginx's 1m


def made(ctx: Context) -> Made:
    """The body size limit of an Ingress."""
    if ANNOTATION not in ctx.annotations:
        return Made()
    value = ctx.annotations[ANNOTATION].strip()
    size = size_bytes(value)
    if size == 0:
        return Made(notes=(Note(ANNOTATION, CONVERTED, "0: no limit, as in ingress-nginx"),))
    note = (Note(ANNOTATION, CONVERTED, "BackendTrafficPolicy requestBuffer.limit (413 above "
                 "it)") if size is not None else
            Note(ANNOTATION, DIFFERS, f"{value!r} is not a size: ingress-nginx ignores it and "
                 "keeps its default, 1m, set here as BackendTrafficPolicy requestBuffer.limit"))
    limit = DEFAULT_BYTES if size is None else size
    return Made((Policy("BackendTrafficPolicy", {"requestBuffer": {"limit": str(limit)}}),),
                (note,))


CONVERTERS = family([ANNOTATION], made)
