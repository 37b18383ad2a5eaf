"""String formats of Kubernetes and the Gateway API that more than one layer checks or reads.

The DNS name patterns (RFC 1123 label and subdomain) and the label value pattern are regular
expression sources, as kube-apiserver and the Gateway API CRDs write them: the validation schema
uses them as strings and the API server compiles them for object metadata. `duration_ms()` reads
a Gateway API duration (`1h2m3s`, `500ms`: one to four parts, each a number and a unit among
h, m, s and ms) as milliseconds; the value is assumed valid (checked against
`propylon.api.validation.DURATION`).
"""

from __future__ import annotations

import re

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"

_DURATION_PART = re.compile(r"([0-9]+)(ms|h|m|s)")
_UNIT_MS = {"h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1}


def duration_ms(text: str) -> int:
    """A Gateway API duration in milliseconds."""
    return sum(int(n) * _UNIT_MS[u] for n, u in _DURATION_PART.findall(text))
