"""The one table of annotation converters: annotation name (without ingress-nginx's prefix) ->
converter (see `effects`).

Each module of `propylon.ingress.annotations` exports `CONVERTERS`, its own part of the table;
this module joins them. An annotation that no converter claims is reported as refused
(`UNSUPPORTED`); snippet annotations are refused by `refusals` (raw nginx configuration has
no Envoy equivalent), but for the header directives `snippets` converts.
"""

from __future__ import annotations

from collections.abc import Mapping

from propylon.ingress.annotations import (
    affinity,
    basicauth,
    bodysize,
    canary,
    clientcerts,
    cors,
    customheaders,
    extauth,
    mirror,
    notconvertible,
    paths,
    proxying,
    ratelimits,
    redirects,
    refusals,
    serveralias,
    snippets,
    sourcerange,
    upstream,
)
from propylon.ingress.effects import Converter

CONVERTERS: Mapping[str, Converter] = {
    **paths.CONVERTERS,
    **redirects.CONVERTERS,
    **upstream.CONVERTERS,
    **canary.CONVERTERS,
    **refusals.CONVERTERS,
    **snippets.CONVERTERS,
    **serveralias.CONVERTERS,
    **mirror.CONVERTERS,
    **cors.CONVERTERS,
    **basicauth.CONVERTERS,
    **extauth.CONVERTERS,
    **sourcerange.CONVERTERS,
    **ratelimits.CONVERTERS,
    **proxying.CONVERTERS,
    **bodysize.CONVERTERS,
    **customheaders.CONVERTERS,
    **affinity.CONVERTERS,
    **notconvertible.CONVERTERS,
    **clientcerts.CONVERTERS,
}

UNSUPPORTED = ("not supported by Propylon's conversion: remove it, or express its behaviour with "
               "a Gateway API filter or an Envoy Gateway policy on the converted HTTPRoute")
