"""What an annotation converter sees and what it returns.

A converter is a function `(ctx: Context, value: str) -> Converted`, registered under its
annotation's name (without ingress-nginx's prefix) in `registry.CONVERTERS`. `Context` holds the
Ingress being converted, all its ingress-nginx annotations (so a converter reads its companions,
e.g. `permanent-redirect-code`), the ingress-nginx ConfigMap's data, and the Secrets and Services
given to the conversion. `Converted` holds the converter's effects and its report outcome; build
it with `converted()`, `differs()` or `refused()`.

Effects, applied by the conversion to the routes made of this Ingress's paths:

- `Filter`: an HTTPRoute filter added to every rule (filters of one type are merged, so two
  converters may each add a URLRewrite field or request headers);
- `Respond`: every rule answers with these filters instead of forwarding (a redirect);
- `ExtraRule`: one more rule, matching `matches`, answering with `filters` (app-root);
- `Policy`: a fragment of an Envoy Gateway policy's spec targeting this Ingress's HTTPRoutes
  (or its Gateway, or the HTTPS listeners of its hosts); fragments of one kind are deep-merged
  into one policy object;
- `Manifest`: an object emitted as is (an HTTPRouteFilter, a BackendTLSPolicy, a Secret copy...);
- `Setting`: a flag read by the conversion itself (`use-regex`, `rewrite-target`, `canary`,
  `ssl-redirect`, `backend-protocol`, ...), whose meaning depends on the other Ingresses of the
  host, which one converter does not see.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from propylon.ingress.model import Ingress, Json
from propylon.ingress.report import Outcome


@dataclass(frozen=True)
class Context:
    ingress: Ingress
    config: Mapping[str, str] = field(default_factory=dict)          # the ConfigMap's data
    secrets: Mapping[tuple[str, str], Json] = field(default_factory=dict)   # (ns, name)
    services: Mapping[tuple[str, str], Json] = field(default_factory=dict)  # (ns, name)
    config_maps: Mapping[tuple[str, str], Json] = field(default_factory=dict)  # (ns, name)

    @property
    def annotations(self) -> Mapping[str, str]:
        return self.ingress.annotations

    def annotation(self, name: str, default: str = "") -> str:
        return self.ingress.annotations.get(name, default)

    def flag(self, name: str, default: bool = False) -> bool:
        """An annotation read as ingress-nginx reads booleans ("true"/"false", else default)."""
        value = self.ingress.annotations.get(name, "").strip().lower()
        return {"true": True, "false": False}.get(value, default)

    def secret(self, ref: str) -> Json | None:
        """The Secret named `ref` ("name" in the Ingress's namespace, or "namespace/name")."""
        namespace, _, name = ref.rpartition("/")
        return self.secrets.get((namespace or self.ingress.namespace, name))


@dataclass(frozen=True)
class Filter:
    filter: Json


@dataclass(frozen=True)
class Respond:
    filters: tuple[Json, ...]


@dataclass(frozen=True)
class ExtraRule:
    matches: tuple[Json, ...]
    filters: tuple[Json, ...]


@dataclass(frozen=True)
class Policy:
    kind: str                   # "SecurityPolicy", "BackendTrafficPolicy", "ClientTrafficPolicy"
    spec: Json                  # without targetRefs
    target: Literal["route", "gateway", "listener"] = "route"  # listener: the hosts' HTTPS ones


@dataclass(frozen=True)
class Manifest:
    manifest: Json


@dataclass(frozen=True)
class Setting:
    name: str
    value: str


Effect = Filter | Respond | ExtraRule | Policy | Manifest | Setting


@dataclass(frozen=True)
class Converted:
    effects: tuple[Effect, ...] = ()
    outcome: Outcome = Outcome.CONVERTED
    note: str = ""


def converted(*effects: Effect, note: str = "") -> Converted:
    return Converted(effects, Outcome.CONVERTED, note)


def differs(note: str, *effects: Effect) -> Converted:
    return Converted(effects, Outcome.DIFFERS, note)


def refused(note: str) -> Converted:
    return Converted((), Outcome.REFUSED, note)


def settings(effects: tuple[Effect, ...]) -> dict[str, str]:
    return {e.name: e.value for e in effects if isinstance(e, Setting)}


Converter = Callable[[Context, str], Converted]
