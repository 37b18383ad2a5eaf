"""Names of the objects a conversion makes: stable, DNS-label-safe, derived from their sources."""

from __future__ import annotations

import hashlib
import re

_MAX = 253


def child_name(parent: str, *parts: str) -> str:
    """`parent-part-...`, lower-case, at most 253 characters (a hash keeps long names distinct)."""
    name = "-".join((parent,) + tuple(p for p in parts if p)).lower()
    name = re.sub(r"[^a-z0-9.-]+", "-", name).strip("-.")
    if len(name) > _MAX:
        digest = hashlib.sha256(name.encode()).hexdigest()[:10]
        name = f"{name[:_MAX - 11].rstrip('-.')}-{digest}"
    return name


def host_label(host: str) -> str:
    """A host as a listener name part: `*.example.com` -> `wildcard-example-com`."""
    return re.sub(r"[^a-z0-9-]+", "-", host.lower().replace("*", "wildcard")).strip("-")[:50] \
        or "default"
