"""IR faults -> Envoy's fault injection filter: in the connection managers of tables where some
route injects faults (`httpfilters.FILTERS`), configured per route through
`typed_per_filter_config`; a route without one passes through untouched."""

from __future__ import annotations

from envoy.extensions.filters.common.fault.v3.fault_pb2 import FaultDelay
from envoy.extensions.filters.http.fault.v3.fault_pb2 import FaultAbort, HTTPFault
from envoy.type.v3.percent_pb2 import FractionalPercent
from google.protobuf.any_pb2 import Any

from propylon.ir import model as ir
from propylon.xds.translate.clusters import duration_ms
from propylon.xds.translate.messages import pack

FAULT_FILTER = "envoy.filters.http.fault"


def filter_config() -> Any:
    """The (empty) filter-level config: every fault is per route."""
    return pack(HTTPFault())


def _percent(value: float) -> FractionalPercent:
    return FractionalPercent(numerator=round(value * 10_000),
                             denominator=FractionalPercent.MILLION)


def policy(fault: ir.Fault) -> Any:
    """The per-route `HTTPFault` of one IR fault, packed for `typed_per_filter_config`."""
    out = HTTPFault()
    if fault.delay_ms is not None:
        out.delay.CopyFrom(FaultDelay(fixed_delay=duration_ms(fault.delay_ms),
                                      percentage=_percent(fault.delay_percent)))
    if fault.abort_status is not None:
        out.abort.CopyFrom(FaultAbort(http_status=fault.abort_status,
                                      percentage=_percent(fault.abort_percent)))
    elif fault.abort_grpc_status is not None:
        out.abort.CopyFrom(FaultAbort(grpc_status=fault.abort_grpc_status,
                                      percentage=_percent(fault.abort_percent)))
    return pack(out)
