"""The xDS server: a per-node snapshot cache served over delta ADS (grpc.aio).

`SnapshotCache` (`cache.py`) holds what each node must have; `XdsServer` (`ads.py`) serves it,
one `AdsStream` state machine (`stream.py`) per connected Envoy doing the diffing, ACK/NACK
bookkeeping and make-before-break ordering; `isolation.py` finds the route entries Envoy refuses
in a virtual host so that it is served without them. What each Envoy refuses goes back to the
controller through the cache (`SnapshotCache.rejections`).
"""

from propylon.xds.server.ads import NodeCounters, XdsEvent, XdsServer
from propylon.xds.server.cache import SnapshotCache
from propylon.xds.server.tls import MutualTls, ServerMaterial

__all__ = ["MutualTls", "NodeCounters", "ServerMaterial", "SnapshotCache", "XdsEvent", "XdsServer"]
