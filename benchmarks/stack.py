"""The control-plane process of a benchmark: `propylon up`'s stack plus a stats endpoint.

`python -m benchmarks.stack --state-dir DIR --ready-file FILE [--profile OUT.prof]` runs the same
`Standalone` stack as `propylon up` (embedded API server in a child process, controller, xDS
server, host infrastructure with one Envoy process per Gateway), so the benchmark sees the real
process layout: this process, its API server and Envoys, and the benchmark client. Once started it
writes FILE (JSON: kubeconfig path, stats URL, pid). `GET /stats` on that URL answers the
controller's counters (passes, translations and the seconds they took); with `--marks`,
`GET /marks?since=T` answers the stage timestamps of `benchmarks.marks` taken since T. SIGTERM stops it; with
`--profile`, the whole run is profiled with cProfile and written to OUT.prof on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import logging
import os
import signal
from pathlib import Path

from aiohttp import web

from benchmarks import marks
from propylon.standalone import Standalone, StandaloneOptions


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    options = StandaloneOptions(address_pool=args.address_pool)
    async with Standalone(args.state_dir, options) as stack:
        async def stats(_: web.Request) -> web.Response:
            c = stack.controller
            return web.json_response({
                "reconciles": c.reconciles, "translations": c.translations,
                "translation_seconds": c.translation_seconds, "failures": c.failures})

        async def stage_marks(request: web.Request) -> web.Response:
            since = float(request.query.get("since", "0"))
            return web.json_response([m for m in marks.MARKS if m[0] >= since])

        if args.marks:
            stack.xds.subscribe(marks.on_xds_event)
        app = web.Application()
        app.router.add_get("/stats", stats)
        app.router.add_get("/marks", stage_marks)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        args.ready_file.write_text(json.dumps({
            "kubeconfig": str(stack.kubeconfig_path), "pid": os.getpid(),
            "stats": f"http://127.0.0.1:{port}/stats"}))
        await asyncio.wait([asyncio.create_task(stop.wait()), stack.controller_task],
                           return_when=asyncio.FIRST_COMPLETED)
        await runner.cleanup()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--state-dir", type=Path, required=True)
    p.add_argument("--ready-file", type=Path, required=True)
    p.add_argument("--address-pool", default="127.0.30.1-127.0.30.254")
    p.add_argument("--profile", type=Path, default=None)
    p.add_argument("--marks", action="store_true", help="time stages (benchmarks.marks)")
    args = p.parse_args()
    if args.marks:
        marks.install()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    try:
        asyncio.run(_serve(args))
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)


if __name__ == "__main__":
    main()
