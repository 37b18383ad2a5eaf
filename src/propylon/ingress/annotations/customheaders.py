"""`custom-headers`: the entries of a ConfigMap (`namespace/name`) set as response headers.

ingress-nginx sets every key of the ConfigMap as a header of every response of the Ingress,
its value taken literally (`$remote_addr` stays that text); converted to the route's
ResponseHeaderModifier. A ConfigMap that does not exist makes ingress-nginx refuse the whole
location with 503; the converter does the same (a BackendTrafficPolicy fault that aborts every
request with 503) and says what to create. ingress-nginx also wants the header names listed in
its ConfigMap's `global-allowed-response-headers`; Propylon has no such list (a header of the
referenced ConfigMap is always set). An entry the route filter cannot hold (no header name, an
empty or multi-line value, beyond the 16 a filter sets) is left out and reported, so it costs
only itself.
"""

from __future__ import annotations

import re

from propylon.ingress.annotations.policyparts import (
    CONVERTED,
    DIFFERS,
    Made,
    Note,
    answer_all,
    family,
    response_headers,
)
from propylon.ingress.effects import Context

ANNOTATION = "custom-headers"
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$")  # Gateway API's HTTPHeaderName
MAX_VALUE = 4096  # a Gateway API header value's longest
MAX_HEADERS = 16  # the most headers a ResponseHeaderModifier sets


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
    usable = [(k, v) for k, v in sorted(data.items()) if _HEADER_NAME.match(k)
              and 0 < len(v) <= MAX_VALUE and "\r" not in v and "\n" not in v]
    bad = sorted(set(data) - {k for k, _ in usable})
    message = (f"the entries of ConfigMap {ref_ns}/{name} set on every response (HTTPRoute "
               "ResponseHeaderModifier)")
    if bad:
        message += (f"; {', '.join(bad)} left out: not a header name, or a value empty, longer "
                    f"than {MAX_VALUE} characters or of several lines")
    if len(usable) > MAX_HEADERS:
        message += (f"; only the first {MAX_HEADERS} (by name) are set, the most a route filter "
                    "holds")
        usable = usable[:MAX_HEADERS]
    outcome = DIFFERS if bad or len(data) > MAX_HEADERS else CONVERTED
    return Made((response_headers(usable),) if usable else (),
                (Note(ANNOTATION, outcome, message),))


CONVERTERS = family([ANNOTATION], made)
