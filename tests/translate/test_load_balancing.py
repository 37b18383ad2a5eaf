"""BackendTrafficPolicy `loadBalancer`: what the governed routes and their cluster copies get,
the CRD's rules and Envoy's limits as messages naming the field, and a timeout and a load
balancer of one policy on one copy of the cluster."""

from __future__ import annotations

from typing import Any

import pytest

from propylon.api.envoygateway import backend_traffic
from propylon.ir.model import HashPolicy, LoadBalancer, Utilization
from tests.translate.test_policies import (
    API,
    GATEWAY_REF,
    WEB,
    btp,
    clusters,
    conditions,
    entries,
    run,
    target,
)


def test_a_consistent_hash_is_maglev_on_a_copy_and_hash_policies_on_the_route() -> None:
    result = run(btp("hash", {
        "loadBalancer": {"type": "ConsistentHash", "consistentHash": {
            "type": "Cookie", "tableSize": 257,
            "cookie": {"name": "c", "ttl": "60s", "attributes": {"SameSite": "Strict"}}}},
        "timeout": {"tcp": {"connectTimeout": "3s"}}},
        targetRefs=[target("HTTPRoute", "api")]))
    found = entries(result)
    api = found[API]
    assert api.hash_policies == (HashPolicy("Cookie", "c", 60_000, (("SameSite", "Strict"),)),)
    [backend] = api.backends
    copy = clusters(result)[str(backend.cluster)]
    assert copy.load_balancer == LoadBalancer("Maglev", table_size=257)
    assert copy.connection is not None and copy.connection.connect_timeout_ms == 3000
    web = found[WEB]
    assert web.hash_policies == () and [b.cluster for b in web.backends] == ["default/app/80"]
    assert clusters(result)["default/app/80"].load_balancer is None


@pytest.mark.parametrize(("hashed", "policies"), [
    ({"type": "SourceIP"}, (HashPolicy("SourceIP"),)),
    ({"type": "Header", "header": {"name": "x-user"}}, (HashPolicy("Header", "x-user"),)),
    ({"type": "Headers", "headers": [{"name": "a"}, {"name": "b"}]},
     (HashPolicy("Header", "a"), HashPolicy("Header", "b"))),
    ({"type": "QueryParams", "queryParams": [{"name": "q"}]}, (HashPolicy("QueryParam", "q"),)),
])
def test_each_hash_source(hashed: dict[str, Any], policies: tuple[HashPolicy, ...]) -> None:
    result = run(btp("hash", {"loadBalancer": {"type": "ConsistentHash",
                                               "consistentHash": hashed}},
                     targetRefs=[target("HTTPRoute", "api")]))
    api = entries(result)[API]
    assert api.hash_policies == policies
    [backend] = api.backends
    assert clusters(result)[str(backend.cluster)].load_balancer == \
        LoadBalancer("Maglev", table_size=65537)


def test_other_balancers_slow_start_and_endpoint_override() -> None:
    result = run(btp("least", {"loadBalancer": {
        "type": "LeastRequest", "slowStart": {"window": "30s"},
        "endpointOverride": {"extractFrom": [{"header": "x-custom-host"}]}}},
                     targetRefs=[target("HTTPRoute", "api")]))
    [backend] = entries(result)[API].backends
    assert clusters(result)[str(backend.cluster)].load_balancer == \
        LoadBalancer("LeastRequest", slow_start_ms=30_000, override_headers=("x-custom-host",))


@pytest.mark.parametrize(("balancer", "message"), [
    ({"type": "ConsistentHash"}, "spec.loadBalancer.consistentHash: set it exactly when type "
     "is ConsistentHash"),
    ({"type": "Random", "slowStart": {"window": "1s"}},
     "spec.loadBalancer.slowStart: only RoundRobin, LeastRequest and BackendUtilization"),
    ({"type": "ConsistentHash", "consistentHash": {"type": "Header"}},
     "spec.loadBalancer.consistentHash.header: type Header needs it: set it"),
    ({"type": "ConsistentHash", "consistentHash": {"type": "SourceIP", "tableSize": 1000}},
     "spec.loadBalancer.consistentHash.tableSize: 1000 is not a prime number"),
    ({"type": "ConsistentHash", "consistentHash": {"type": "SourceIP",
                                                   "header": {"name": "h"}}},
     "spec.loadBalancer.consistentHash.header: type SourceIP does not read it: remove it"),
    ({"type": "RoundRobin", "endpointOverride": {"extractFrom": [{}]}},
     "spec.loadBalancer.endpointOverride.extractFrom: name a header in each entry"),
    ({"type": "BackendUtilization", "backendUtilization": {"outOfBand": {"port": 70000}}},
     "spec.loadBalancer.backendUtilization.outOfBand.port: 70000 is not a port: use 1 to 65535"),
    ({"type": "BackendUtilization", "backendUtilization": {},
      "zoneAware": {"weightedZones": [{"zone": "1", "weight": 80}]}},
     "spec.loadBalancer.zoneAware is not implemented by Propylon: it needs the zones"),
    ({"type": "DynamicModule", "dynamicModule": {"name": "m"}},
     "spec.loadBalancer.dynamicModule is not implemented by Propylon yet"),
])
def test_an_invalid_balancer_names_the_field_and_has_no_effect(balancer: dict[str, Any],
                                                               message: str) -> None:
    result = run(btp("bad", {"loadBalancer": balancer}, targetRefs=[target("HTTPRoute", "api")]))
    accepted = conditions(result, "bad", {**GATEWAY_REF, "sectionName": "other"})["Accepted"]
    assert accepted["status"] == "False" and message in accepted["message"]
    assert [b.cluster for b in entries(result)[API].backends] == ["default/app/80"]


def test_backend_utilization_weights_from_load_reports_and_drops_their_headers() -> None:
    result = run(btp("used", {"loadBalancer": {"type": "BackendUtilization", "backendUtilization": {
        "blackoutPeriod": "1ms", "weightUpdatePeriod": "100ms",
        "errorUtilizationPenaltyPercent": 120}}}, targetRefs=[target("HTTPRoute", "api")]))
    api = entries(result)[API]
    [backend] = api.backends
    assert clusters(result)[str(backend.cluster)].load_balancer == LoadBalancer(
        "Utilization", utilization=Utilization(1, None, 100, 120))
    assert api.response_headers is not None
    assert api.response_headers.remove == ("endpoint-load-metrics", "endpoint-load-metrics-bin")
    kept = run(btp("used", {"loadBalancer": {"type": "BackendUtilization", "backendUtilization": {
        "keepResponseHeaders": True}}}, targetRefs=[target("HTTPRoute", "api")]))
    assert entries(kept)[API].response_headers is None


def test_out_of_band_load_reports_from_another_port() -> None:
    result = run(btp("oob", {"loadBalancer": {"type": "BackendUtilization", "backendUtilization": {
        "outOfBand": {"reportingPeriod": "1s", "port": 3001}}}},
        targetRefs=[target("HTTPRoute", "api")]))
    assert conditions(result, "oob", {**GATEWAY_REF, "sectionName": "other"})["Accepted"][
        "status"] == "True"
    [backend] = entries(result)[API].backends
    assert clusters(result)[str(backend.cluster)].load_balancer == LoadBalancer(
        "Utilization", utilization=Utilization(out_of_band=True, oob_period_ms=1000,
                                               oob_port=3001))


def test_the_decoded_settings() -> None:
    found, errors = backend_traffic({"loadBalancer": {"type": "RoundRobin"}})
    assert errors == [] and found.load_balancer is not None
    assert (found.load_balancer.type, found.load_balancer.hash_sources) == ("RoundRobin", ())
