"""A new Pod's QoS class as kube-apiserver computes it (qos.GetPodQOS, the cases of its
qos_test.go), quantities compared by value."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from propylon.apiserver.podstatus import qos_class, quantity


def pod(*resources: dict[str, Any], init: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": f"c{i}", "resources": r}
                                           for i, r in enumerate(resources)]}
    if init is not None:
        spec["initContainers"] = [{"name": "init", "resources": init}]
    return {"spec": spec}


GUARANTEED = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1000m",
                                                                    "memory": "1024Mi"}}


@pytest.mark.parametrize(("obj", "expected"), [
    (pod({}), "BestEffort"),
    (pod({"requests": {"nvidia.com/gpu": "1"}}), "BestEffort"),  # only CPU and memory count
    (pod({"requests": {"cpu": "0"}}), "BestEffort"),  # zero is none
    (pod(GUARANTEED), "Guaranteed"),  # equal by value: 1 == 1000m, 1Gi == 1024Mi
    (pod(GUARANTEED, GUARANTEED), "Guaranteed"),
    (pod(GUARANTEED, {}), "Burstable"),  # one container without limits
    (pod({"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}), "Burstable"),  # no memory limit
    (pod({"requests": {"cpu": "1", "memory": "1Gi"},
          "limits": {"cpu": "2", "memory": "1Gi"}}), "Burstable"),
    (pod(GUARANTEED, init={"requests": {"cpu": "100m"}}), "Burstable"),  # init counts too
])
def test_qos_class(obj: dict[str, Any], expected: str) -> None:
    assert qos_class(obj) == expected


@pytest.mark.parametrize(("text", "value"), [
    ("100m", Fraction(1, 10)), ("1.5Gi", Fraction(3 * 2**29)), ("2k", Fraction(2000)),
    ("1e3", Fraction(1000)), ("1E", Fraction(10**18)), (".5", Fraction(1, 2)), (7, Fraction(7)),
    ("12 cores", None), ("", None), (True, None),
])
def test_quantity(text: Any, value: Fraction | None) -> None:
    assert quantity(text) == value
