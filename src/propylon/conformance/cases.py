"""Case files: load the neutral YAML format of `cases/README.md` and select cases.

Every `*.yaml` file of the folder except `index.yaml` and `suite.yaml` (where a folder says
which suite manifests its cases use: `propylon.cli.conformance.suite_of`) is one case. A `Case` keeps the fields the
runner needs as plain data (status entries, requests and steps stay the dictionaries of the file,
their semantics live in the modules that run them). `select_cases` picks by name (`--run`), by
feature or profile (`--feature`: a value naming a profile such as `GATEWAY-HTTP` selects the
cases attributed to that profile, by their file or by the suite's rule from their features
(`profiles.of`), any other value the cases listing that feature) and drops
`--skip` names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from propylon.conformance import profiles


class CaseError(Exception):
    """A case folder or file cannot be used; the message names it."""


@dataclass(frozen=True)
class Case:
    name: str
    features: tuple[str, ...]
    profiles: dict[str, str]
    provisional: bool
    manifests: tuple[str, ...]
    gateway: dict[str, str]
    namespaces_must_be_ready: tuple[str, ...] = ()  # namespaces to wait for first
    status: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    weights: dict[str, float] = field(default_factory=dict)
    description: str = ""
    source: Path = Path()
    manifests_root: Path | None = None  # its folder's suite manifests, when not the run's


def parse_case(data: dict[str, Any], source: Path = Path()) -> Case:
    """One case from the mapping of a case file."""
    try:
        return Case(
            name=str(data["name"]),
            features=tuple(data.get("features") or ()),
            profiles={**profiles.of(data.get("features") or ()),
                      **_profiles(data.get("profiles"))},
            provisional=bool(data.get("provisional", False)),
            manifests=tuple(data.get("manifests") or ()),
            gateway=dict(data.get("gateway") or {}),
            namespaces_must_be_ready=_namespaces(data.get("namespacesMustBeReady")),
            status=list(data.get("status") or []),
            requests=list(data.get("requests") or []),
            steps=list(data.get("steps") or []),
            weights={str(k): float(v) for k, v in (data.get("weights") or {}).items()},
            description=str(data.get("description", "")),
            source=source,
        )
    except (KeyError, TypeError, ValueError) as err:
        raise CaseError(f"{source}: not a case file ({err})") from err


def _namespaces(value: Any) -> tuple[str, ...]:
    """`namespacesMustBeReady`: `true` is the infra namespace, a list names the namespaces."""
    if isinstance(value, list):
        return tuple(str(n) for n in value)
    return ("gateway-conformance-infra",) if value else ()


def _profiles(value: Any) -> dict[str, str]:
    """`{PROFILE: core|extended}`; a string such as `none (...)` means no profile."""
    return dict(value) if isinstance(value, dict) else {}


def load_cases(folder: Path) -> list[Case]:
    """All cases of a folder, sorted by name."""
    if not folder.is_dir():
        raise CaseError(f"case folder {folder} does not exist; pass --cases DIR")
    cases = []
    for path in sorted(folder.glob("*.yaml")):
        if path.name in ("index.yaml", "suite.yaml"):
            continue
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise CaseError(f"{path}: malformed YAML: {err}") from err
        if not isinstance(data, dict):
            raise CaseError(f"{path}: not a mapping")
        cases.append(parse_case(data, path))
    return sorted(cases, key=lambda c: c.name)


def select_cases(cases: Sequence[Case], run: Iterable[str] = (), features: Iterable[str] = (),
                 skip: Iterable[str] = ()) -> list[Case]:
    """The cases named in `run` (all if empty) having any of `features` (feature or profile
    names; all if empty), minus those named in `skip`. Unknown `run` names raise CaseError."""
    run, wanted, skipped = set(run), set(features), set(skip)
    unknown = run - {c.name for c in cases}
    if unknown:
        raise CaseError(f"no case named {', '.join(sorted(unknown))}")
    return [c for c in cases
            if (not run or c.name in run)
            and (not wanted or wanted & (set(c.features) | set(c.profiles)))
            and c.name not in skipped]
