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

from collections.abc import Mapping

from propylon.ingress.policyparts import CONVERTED, Converted, Note, PolicyPart

ANNOTATION = "custom-headers"
ConfigMaps = Mapping[tuple[str, str], Mapping[str, str]]  # (namespace, name) -> data


def convert(annotations: Mapping[str, str], namespace: str,
            config_maps: ConfigMaps) -> Converted:
    """The response headers of an Ingress's `custom-headers` (short names)."""
    if ANNOTATION not in annotations:
        return Converted()
    ref = annotations[ANNOTATION].strip()
    ref_ns, _, name = ref.rpartition("/")
    ref_ns = ref_ns or namespace
    data = config_maps.get((ref_ns, name)) if name else None
    if data is None:
        fault = {"faultInjection": {"abort": {"httpStatus": 503, "percentage": 100}}}
        return Converted(policies=(PolicyPart.of("BackendTrafficPolicy", fault),), notes=(
            Note(ANNOTATION, CONVERTED, f"ConfigMap {ref_ns}/{name or '(none)'} does not "
                 "exist: every request is answered 503, as ingress-nginx does; create it and "
                 "convert again"),))
    return Converted(response_headers=tuple(sorted(data.items())), notes=(
        Note(ANNOTATION, CONVERTED, f"the entries of ConfigMap {ref_ns}/{name} set on every "
             "response (HTTPRoute ResponseHeaderModifier)"),))
