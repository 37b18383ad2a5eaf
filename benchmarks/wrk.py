"""Running wrk and reading its figures: req/s, latency percentiles, non-2xx and socket errors.

`run_wrk()` drives `wrk --latency` with a Lua script that cycles through the given (Host, path)
pairs (each request with the same extra `headers`, if any), so the load spreads over several
routes; `parse()` turns wrk's text report into numbers
(latencies in milliseconds). wrk counts 3xx as successes; the benchmarks' routes never answer
3xx, so `non_2xx` is every failed response.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path
from typing import Any

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def lua(targets: list[tuple[str, str]], headers: dict[str, str] | None = None) -> str:
    extra = "".join(f', ["{name}"] = "{value}"' for name, value in (headers or {}).items())
    reqs = ", ".join(f'wrk.format("GET", "{path}", {{["Host"] = "{host}"{extra}}})'
                     for host, path in targets)
    return (f"local reqs = {{{reqs}}}\nlocal i = 0\n"
            "request = function()\n  i = i % #reqs + 1\n  return reqs[i]\nend\n")


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")


def parse(out: str) -> dict[str, Any]:
    """req/s, p50/p90/p99 (ms), requests, non-2xx and socket errors from wrk's report."""
    fig: dict[str, Any] = {}
    for q in ("50", "90", "99"):
        m = re.search(rf"^\s+{q}%\s+(\S+)", out, re.M)
        fig[f"p{q}_ms"] = _ms(m.group(1)) if m else float("nan")
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    fig["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in", out)
    fig["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    fig["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    fig["socket_errors"] = sum(int(g) for g in m.groups()) if m else 0
    return fig


async def run_wrk(url: str, targets: list[tuple[str, str]], seconds: float, connections: int = 20,
                  threads: int = 1, taskset: str | None = None,
                  headers: dict[str, str] | None = None) -> dict[str, Any]:
    """wrk against `url` (scheme://address:port) for `seconds`; the parsed figures."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua(targets, headers))
    script = Path(f.name)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
           "--latency", "-s", str(script), url]
    if taskset:
        cmd = ["taskset", "-c", taskset, *cmd]
    try:
        proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
    finally:
        script.unlink(missing_ok=True)
    return parse(out.decode())
