"""`Placements.updated`: a new value, the earlier one as it was, stamps only what changed.

Route tables and virtual hosts are reused while the stamps and version they were built from
are those of the placements now (`gatewayir`), so a listener's earlier placements must not
change under a table built from them, a hostname's stamp must change exactly when its routes
do, and the version must be newer than every stamp.
"""

from __future__ import annotations

from dataclasses import dataclass

from propylon.translate.placements import NOWHERE, Placements


@dataclass(frozen=True)
class _Attached:
    hostnames: tuple[str, ...]
    translated: str


def _two_routes() -> Placements:
    return NOWHERE.updated({("HTTPRoute", "ns", "a"): (_Attached(("a.test",), "a1"),),
                            ("HTTPRoute", "ns", "b"): (_Attached(("b.test", "c.test"), "b1"),)})


def test_an_update_leaves_the_earlier_placements_as_they_were() -> None:
    before = _two_routes()
    hosts = {h: dict(routes) for h, routes in before.hosts.items()}
    stamps, version = dict(before.stamps), before.version
    after = before.updated({("HTTPRoute", "ns", "a"): (_Attached(("a.test",), "a2"),),
                            ("HTTPRoute", "ns", "b"): ()})
    assert (before.hosts, before.stamps, before.version, before.attached) == (
        hosts, stamps, version, 2)
    assert after.hosts == {"a.test": {("HTTPRoute", "ns", "a"): ("a2",)}}
    assert after.attached == 1 and [a.translated for a in after.routes()] == ["a2"]
    assert NOWHERE.empty() and NOWHERE.hosts == {} and NOWHERE.version == 0


def test_only_the_hostnames_whose_routes_changed_get_a_new_stamp() -> None:
    before = _two_routes()
    after = before.updated({("HTTPRoute", "ns", "c"): (_Attached(("c.test",), "c1"),)})
    assert after.stamps["a.test"] == before.stamps["a.test"]
    assert after.stamps["b.test"] == before.stamps["b.test"]
    assert after.stamps["c.test"] > before.version
    assert after.version > max(after.stamps.values())
    assert after.hosts["c.test"] == {("HTTPRoute", "ns", "b"): ("b1",),
                                     ("HTTPRoute", "ns", "c"): ("c1",)}


def test_no_change_is_the_same_placements() -> None:
    before = _two_routes()
    assert before.updated({}) is before
