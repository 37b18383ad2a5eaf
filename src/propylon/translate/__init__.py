"""Pure translation of Gateway API resources: `translate(snapshot) -> Result`.

See `propylon.translate.translator` for the order of work and the sibling modules for each
concern (gatewayclass, gateways and listeners, httproute and its filters, references,
precedence, conditions and the statuses they go into, backends, tls, gatewayir), and `memo` for
what a pass may reuse from the previous one.
"""

from propylon.translate.memo import Memo
from propylon.translate.translator import translate
from propylon.translate.types import Result, Snapshot, StatusUpdate

__all__ = ["translate", "Memo", "Result", "Snapshot", "StatusUpdate"]
