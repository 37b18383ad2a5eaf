"""`propylon version`: the installed package version, from the package metadata."""

from __future__ import annotations

import argparse
from importlib.metadata import PackageNotFoundError, version
from typing import Any


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("version", help="print the propylon version")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        print(f"propylon {version('propylon')}")
    except PackageNotFoundError:
        print("propylon (not installed: run 'pip install -e .' to record a version)")
    return 0
