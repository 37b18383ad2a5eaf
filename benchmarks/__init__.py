"""Propylon's benchmarks: control-plane scale, churn under load, and data-plane throughput.

Run them as modules from the repository root (`.venv/bin/python -m benchmarks.scale --help`);
see the README's "Benchmarks" section and `BENCHMARKS.md` for the figures.
"""
