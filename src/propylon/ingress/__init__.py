"""Ingress -> Gateway API conversion: ingress-nginx's Ingress objects as Gateway API resources.

A pure layer (no I/O, frozen values): `convert(objects, options)` takes raw manifests (Ingress,
IngressClass, the ingress-nginx ConfigMap, and the Services and Secrets annotations refer to)
and returns a `Conversion`: the Gateway API objects and Envoy Gateway policies to apply (plain
manifests) and a report with one entry per (Ingress, annotation or field) met, saying whether it
was converted, converted with a difference, or refused, and why.

`propylon migrate` writes that output as YAML; the controller serves Ingress objects by running
the same conversion in memory, so both agree. Modules, in recipe order:

- `model`: the decoded inputs (Ingress, its rules, paths, TLS sections, backends; IngressClass);
- `classes`: which Ingresses are ours and which Gateway each goes to;
- `effects`: what an annotation converter sees (`Context`) and returns (`Converted`: effects
  and its report outcome);
- `registry`: the one table of annotation name -> converter (`annotations/*` hold them);
- `hosts`: ingress-nginx's per-host merge (all Ingresses of a host make one server);
- `routes`, `gateway`, `policies`: the output manifests;
- `report`: the report entries and their Markdown;
- `convert`: the recipe.
"""

from propylon.ingress.convert import MIGRATE, Conversion, Options, convert
from propylon.ingress.report import Outcome, ReportEntry

__all__ = ["MIGRATE", "Conversion", "Options", "Outcome", "ReportEntry", "convert"]
