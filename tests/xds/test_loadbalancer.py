"""Out-of-band load reports: the balancer Envoy gets asks each endpoint's ORCA service."""

from __future__ import annotations

from envoy.config.cluster.v3.cluster_pb2 import Cluster
from envoy.extensions.load_balancing_policies.client_side_weighted_round_robin.v3.client_side_weighted_round_robin_pb2 import (  # noqa: E501
    ClientSideWeightedRoundRobin,
)
from google.protobuf.unknown_fields import UnknownFieldSet
from google.protobuf.wrappers_pb2 import UInt32Value

from propylon.ir import model as ir
from propylon.xds.translate.loadbalancer import configure


def _balancer(utilization: ir.Utilization) -> ClientSideWeightedRoundRobin:
    cluster = Cluster()
    configure(cluster, ir.LoadBalancer("Utilization", utilization=utilization))
    [policy] = cluster.load_balancing_policy.policies
    config = ClientSideWeightedRoundRobin()
    assert policy.typed_extension_config.typed_config.Unpack(config)
    return config


def _oob_port(config: ClientSideWeightedRoundRobin) -> int | None:
    """`oob_reporting_config.port_value`: field 9 in Envoy 1.40's proto, a message whose field
    1 is the port (read as a UInt32Value, whose `value` is field 1 too)."""
    for unknown in UnknownFieldSet(config):
        if unknown.field_number == 9:
            return int(UInt32Value.FromString(unknown.data).value)
    return None


def test_out_of_band_reports_from_another_port_every_period() -> None:
    config = _balancer(ir.Utilization(out_of_band=True, oob_period_ms=1000, oob_port=3001))
    assert config.enable_oob_load_report.value
    assert config.oob_reporting_period.ToMilliseconds() == 1000
    assert _oob_port(config) == 3001


def test_in_band_reports_ask_no_stream() -> None:
    config = _balancer(ir.Utilization(blackout_ms=1))
    assert not config.HasField("enable_oob_load_report") and _oob_port(config) is None
