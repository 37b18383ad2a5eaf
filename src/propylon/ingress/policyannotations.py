"""The annotations that become policies, converted together for one Ingress.

`convert(annotations, namespace, ingress, secrets, config_maps)` runs every converter of this
family (CORS, basic and external authentication, address lists, rate limits, timeouts and
retries, body size, custom headers, load balancing, the refused ones) on the Ingress's
annotations and adds up what they return (`policyparts.Converted`). `manifests(converted,
namespace, ingress, routes)` turns the policy parts into one Envoy Gateway policy of each kind,
named after the Ingress and targeting its HTTPRoutes, beside the objects the converters made.
`controller_config(data)` converts the ingress-nginx ConfigMap settings of this family (a
ClientTrafficPolicy for the Gateway). `ANNOTATIONS` lists every annotation handled here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from propylon.ingress import (
    affinity,
    basicauth,
    bodysize,
    cors,
    customheaders,
    extauth,
    ratelimits,
    refused,
    sourcerange,
    upstream,
)
from propylon.ingress.policyparts import Converted, merged_specs
from propylon.ingress.policyvalues import PREFIX

EG_VERSION = "gateway.envoyproxy.io/v1alpha1"
ANNOTATIONS = tuple(sorted({
    *cors.ANNOTATIONS, *basicauth.ANNOTATIONS, *extauth.ANNOTATIONS, *sourcerange.ANNOTATIONS,
    *ratelimits.ANNOTATIONS, *upstream.ANNOTATIONS, bodysize.ANNOTATION,
    customheaders.ANNOTATION, *affinity.ANNOTATIONS, *refused.REASONS}))


def short_names(annotations: Mapping[str, str]) -> dict[str, str]:
    """The ingress-nginx annotations among `annotations`, without their prefix."""
    return {key[len(PREFIX):]: str(value) for key, value in annotations.items()
            if key.startswith(PREFIX)}


def convert(annotations: Mapping[str, str], namespace: str, ingress: str,
            secrets: basicauth.Secrets, config_maps: customheaders.ConfigMaps) -> Converted:
    """What this family makes of an Ingress's annotations (full names)."""
    short = short_names(annotations)
    return (cors.convert(short) + basicauth.convert(short, namespace, ingress, secrets)
            + extauth.convert(short, namespace, ingress) + sourcerange.convert(short)
            + ratelimits.convert(short) + upstream.convert(short) + bodysize.convert(short)
            + customheaders.convert(short, namespace, config_maps) + affinity.convert(short)
            + refused.convert(short))


def manifests(converted: Converted, namespace: str, ingress: str,
              routes: Sequence[str]) -> list[dict[str, Any]]:
    """The policies (one of each kind, named `ingress`, targeting the HTTPRoutes `routes`)
    and the objects of `converted`."""
    targets = [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": name}
               for name in routes]
    out = [{"apiVersion": EG_VERSION, "kind": kind,
            "metadata": {"name": ingress, "namespace": namespace},
            "spec": {"targetRefs": targets, **spec}}
           for kind, spec in sorted(merged_specs(converted.policies).items())]
    return out + [json.loads(obj) for obj in converted.objects]


def controller_config(data: Mapping[str, str]) -> Converted:
    """What this family makes of the ingress-nginx ConfigMap's settings."""
    return sourcerange.controller_config(data)
