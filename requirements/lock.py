"""Write requirements/controller.lock: the controller image's dependencies, pinned.

It resolves the runtime dependencies of pyproject.toml (no extras: the image has no Envoy) with
pip, for the image's Python (`PYTHON_VERSION`, as in the Dockerfile) on Linux x86_64 and
aarch64 wheels only, without installing anything, and writes one `name==version` line per
package, for the image build's `--constraint`. Run `make controller-lock` after changing a
dependency; pip reaches the configured package index.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "controller.lock"
PYTHON_VERSION = "3.12"
MANYLINUX = ("manylinux2014", "manylinux_2_17", "manylinux_2_24", "manylinux_2_28",
             "manylinux_2_31", "manylinux_2_34")


def resolve(requirements: list[str], arch: str) -> dict[str, str]:
    """Package name -> version pip picks for `requirements` on Linux `arch`."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        platforms = [arg for tag in MANYLINUX for arg in ("--platform", f"{tag}_{arch}")]
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--dry-run",
                        "--ignore-installed", "--only-binary=:all:", "--implementation", "cp",
                        "--python-version", PYTHON_VERSION, *platforms,
                        "--target", str(Path(tmp) / "target"), "--report", str(report),
                        *requirements], check=True)
        installs = json.loads(report.read_text())["install"]
    return {i["metadata"]["name"]: i["metadata"]["version"] for i in installs}


def main() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = [resolve(project["dependencies"], arch) for arch in ("x86_64", "aarch64")]
    if pins[0] != pins[1]:
        raise SystemExit(f"x86_64 and aarch64 resolve differently: {pins[0]} != {pins[1]}")
    lines = [f"{name}=={version}" for name, version in sorted(pins[0].items(),
                                                              key=lambda p: p[0].lower())]
    LOCK.write_text("# The controller image's dependencies (python requirements/lock.py).\n"
                    + "\n".join(lines) + "\n")
    print(f"{LOCK.relative_to(ROOT)}: {len(lines)} packages")


if __name__ == "__main__":
    main()
