"""`custom-headers`: the entries of a ConfigMap (`namespace/name`) set as response headers.

ingress-nginx sets every key of the ConfigMap as a header of every response of the Ingress,
its value taken literally (`$remote_addr` stays that text); converted to the route's
ResponseHeaderModifier. A ConfigMap that does not exist makes ingress-nginx refuse the whole
location with 503; the converter does the same (a BackendTrafficPolicy fault that aborts every
request with 503) and says what to create. ingress-nginx also wants the header names listed in
its ConfigMap's `global-allowed-response-headers`; Propylon has no such list (a header of the
referenced ConfigMap is always set).
"""

from __future__ import annotations

from propylon.ingress.annotations.policyparts import (
    CONVERTED,
    Made,
    Note,
    answer_all,
    family,
    response_headers,
)
from propylon.ingress.effects import Context

ANNOTATION = "custom-headers"


def made(ctx: Context) -> Made:
    """The response headers of an Ingress's `custom-headers`."""
    annotations, namespace = ctx.annotations, ctx.ingress.namespace
    if ANNOTATION not in annotations:
        return Made()
    ref = annotations[ANNOTATION].strip()
    ref_ns, _, name = ref.rpartition("/")
    ref_ns = ref_ns or namespace
    config_map = ctx.config_maps.get((ref_ns, name)) if name else None
    data = None if config_map is None else {str(k): str(v) for k, v in
                                            (config_map.get("data") or {}).items()}
    if data is None:
        return Made((answer_all(503),), (
            Note(ANNOTATION, CONVERTED, f"ConfigMap {ref_ns}/{name or '(none)'} does not "
                 "exist: every request is answered 503, as ingress-nginx does; create it and "
                 "convert again"),))
    return Made((response_headers(sorted(data.items())),), (
        Note(ANNOTATION, CONVERTED, f"the entries of ConfigMap {ref_ns}/{name} set on every "
             "response (HTTPRoute ResponseHeaderModifier)"),))


CONVERTERS = family([ANNOTATION], made)
