"""`static_bootstrap`: the translated resources of Gateways as one static bootstrap."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from envoy.config.cluster.v3.cluster_pb2 import Cluster

from propylon.xds.translate import XdsResources
from propylon.xds.translate.static import MissingResource, static_bootstrap
from propylon.xds.validate import envoy_rejects

from tests.fuzz.manifests import material
from tests.fuzz.pipeline import admit_and_translate
from tests.fuzz.test_findings import _route, _world

HTTPS = {"name": "tls", "port": 443, "protocol": "HTTPS", "hostname": "a.test",
         "tls": {"certificateRefs": [{"name": "cert0"}]}}


def _resources() -> XdsResources:
    """Gateway a/gw's resources: HTTP and HTTPS listeners, one route, one cluster, a secret."""
    world = _world(_route(), *material())
    gateway = next(o for o in world if o["kind"] == "Gateway")
    gateway["spec"]["listeners"].append(HTTPS)
    (resources,) = admit_and_translate(world, 0).resources
    return resources


def test_everything_is_static_and_envoy_accepts_it() -> None:
    resources = _resources()
    assert len(resources.listeners) == 2 and resources.secrets and resources.virtual_hosts
    bootstrap = static_bootstrap([resources])
    text = json.dumps(bootstrap)
    for dynamic in ('"ads"', '"rds"', '"vhds"', '"eds_cluster_config"', '"sds_config"'):
        assert dynamic not in text
    static = bootstrap["static_resources"]
    assert {li["name"] for li in static["listeners"]} == set(resources.listeners)
    assert [s["name"] for s in static["secrets"]] == list(resources.secrets)
    (cluster,) = static["clusters"]
    assert cluster["type"] == "STATIC" and cluster["load_assignment"]["endpoints"]
    tables = [f["typed_config"]["route_config"] for li in static["listeners"]
              for chain in li["filter_chains"] for f in chain["filters"]]
    assert sorted(v["name"] for t in tables for v in t.get("virtual_hosts", [])) == sorted(
        resources.virtual_hosts)
    assert envoy_rejects(bootstrap) is None


@pytest.mark.parametrize("drop", [("routes", "virtual_hosts"), ("secrets",)])
def test_a_reference_to_nothing_is_an_error(drop: tuple[str, ...]) -> None:
    """Envoy would wait for the missing resource forever: as bad as a refusal."""
    resources = _resources()
    with pytest.raises(MissingResource, match="referenced but not translated"):
        static_bootstrap([replace(resources, **{kind: {} for kind in drop})])


def test_two_different_resources_of_one_name_are_an_error() -> None:
    resources = _resources()
    (name,) = resources.clusters
    other = replace(resources, listeners={}, secrets={}, routes={}, virtual_hosts={},
                    clusters={name: Cluster(name=name, type=Cluster.STATIC)})
    assert static_bootstrap([resources, resources])  # the same cluster twice is held once
    with pytest.raises(ValueError, match=f'two different resources are named "{name}"'):
        static_bootstrap([resources, other])
