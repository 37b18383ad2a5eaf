"""Kinds whose CRDs a cluster may lack (Envoy Gateway's): watched only while they are served.

In Kubernetes mode the Envoy Gateway kinds the controller watches (its policies, EnvoyProxy,
HTTPRouteFilter) exist only once their CRDs are installed
(`make envoy-gateway-crds`, or Envoy Gateway's own CRD chart). Their informers count a kind the
server does not serve as empty and list it again every 30 s (`Informer.served`), so policies
are picked up once the CRDs arrive, with no restart. Those informers do not log their absence
one by one (`log_absent=False`): `OptionalKinds.check()`, called every pass, logs one line
naming every missing kind and the fix when some go missing (at start, or uninstalled), and one
when all are served again (the CRDs installed together show up within a pass or two of each
other: nothing is logged in between).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from propylon.informer import Informer

log = logging.getLogger(__name__)

INSTALL_HINT = ("install them with `make envoy-gateway-crds` (kubectl apply --server-side of "
                "Envoy Gateway's CRDs, ../shared/envoy-gateway/crds by default) or Envoy "
                "Gateway's gateway-crds-helm chart; see README, Kubernetes mode")


class OptionalKinds:
    """Watches whether the informers of `kinds` are served, and says so in the log."""

    def __init__(self, kinds: tuple[str, ...]) -> None:
        self.kinds = kinds
        self.absent: tuple[str, ...] = ()  # the kinds missing at the last check

    def check(self, informers: Mapping[str, Informer]) -> None:
        absent = tuple(k for k in self.kinds if informers[k].served is False)
        if set(absent) - set(self.absent):
            log.warning("Envoy Gateway's CRDs are not installed: %s not served, so policies of "
                        "those kinds are not acted on until they are (checked every 30s); %s",
                        ", ".join(absent), INSTALL_HINT)
        elif self.absent and not absent:
            log.info("Envoy Gateway's CRDs are installed: watching %s", ", ".join(self.kinds))
        self.absent = absent
