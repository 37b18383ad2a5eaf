"""Fuzzing manifests -> translation -> xDS, every configuration checked by Envoy itself.

Hypothesis generates worlds of manifests (`manifests.world`): odd but schema-valid values and
some invalid ones. Each goes through the API validation (refused objects are not stored),
`translate.translate`, `xds.translate` and `static_bootstrap` (`pipeline.py`) without any
exception, and every resulting configuration is handed to the real Envoy
(`envoy --mode validate`). Nothing the translator sends may be refused by Envoy: a piece the
controller knows to be invalid is left out of the configuration, and its object's status says
so; a configuration Envoy refuses while the statuses call it valid is exactly what this test
hunts. Regular expressions Envoy's RE2 refuses and a Secret whose key is another
certificate's are generated too: the translation must leave out what uses them.

Each example is a batch of `PROPYLON_FUZZ_BATCH` worlds (default 8) in one bootstrap, so one
Envoy run checks them all; a refused batch is bisected to the world Envoy refuses. CI runs
`PROPYLON_FUZZ_EXAMPLES` batches (default 30: 240 configurations, about 30 s); set it higher
for a long run, e.g. `PROPYLON_FUZZ_EXAMPLES=1000 pytest tests/fuzz/test_envoy_accepts.py`.
How many configurations were checked is printed at the end of the run.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from propylon.xds.validate import rejected

from tests.fuzz.manifests import Obj, world
from tests.fuzz.pipeline import Translated, admit_and_translate, bootstrap_of

BATCH = int(os.environ.get("PROPYLON_FUZZ_BATCH", "8"))
EXAMPLES = int(os.environ.get("PROPYLON_FUZZ_EXAMPLES", "30"))
COUNTS: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def report_counts(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\nfuzz: {COUNTS['configurations']} configurations checked by Envoy in "
              f"{COUNTS['envoy runs']} runs ({COUNTS['gateways']} Gateways, "
              f"{COUNTS['stored']} objects stored, {COUNTS['refused']} refused by API validation)")


def _refusal(translated: Translated, message: str) -> str:
    return (f"Envoy refuses a configuration whose statuses say:\n"
            f"{yaml.safe_dump(translated.statuses(), sort_keys=True)}\n"
            f"Envoy said: {message[-2000:]}\n"
            f"objects stored:\n{yaml.safe_dump_all(translated.stored, sort_keys=True)}")


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(st.lists(world, min_size=BATCH, max_size=BATCH))
def test_envoy_accepts_every_translated_configuration(worlds: list[list[Obj]]) -> None:
    translated = [admit_and_translate(objects, i) for i, objects in enumerate(worlds)]

    def counted(batch: Sequence[Translated]) -> Obj:
        COUNTS["envoy runs"] += 1
        return bootstrap_of(batch)

    refused = rejected(translated, counted)
    COUNTS["configurations"] += len(translated)
    COUNTS["gateways"] += sum(len(t.resources) for t in translated)
    COUNTS["stored"] += sum(len(t.stored) for t in translated)
    COUNTS["refused"] += sum(len(t.refused) for t in translated)
    assert not refused, _refusal(*refused[0])
