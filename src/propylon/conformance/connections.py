"""`action: tcpConnections` steps of Envoy Gateway's cases: raw TCP connections held open.

`hold(address, port, total)` follows the ConnectionLimit procedure: dial with a 100 ms
timeout, once a second (the first at once) for up to 60 s, until a dial succeeds; then dial
`total - 1` more without a timeout, ignoring failures. No bytes are sent. The connections
are returned so the runner keeps them open until the end of the case (`close`).
"""

from __future__ import annotations

import asyncio
import time

FIRST_DIAL_TIMEOUT_S = 0.1
RETRY_S = 1.0
LIMIT_S = 60.0


async def _dial(address: str, port: int, timeout: float | None) -> asyncio.StreamWriter:
    _, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout)
    return writer


async def hold(address: str, port: int, total: int) -> list[asyncio.StreamWriter]:
    """The connections opened (see the module docstring); an error when none could be."""
    deadline = time.monotonic() + LIMIT_S
    while True:
        try:
            held = [await _dial(address, port, FIRST_DIAL_TIMEOUT_S)]
            break
        except (OSError, TimeoutError) as err:
            if time.monotonic() + RETRY_S > deadline:
                raise RuntimeError(f"no TCP connection to {address}:{port} within "
                                   f"{LIMIT_S:.0f}s: {err}") from err
            await asyncio.sleep(RETRY_S)
    for _ in range(total - 1):
        try:
            held.append(await _dial(address, port, None))
        except OSError:
            continue
    return held


def close(held: list[asyncio.StreamWriter]) -> None:
    for writer in held:
        writer.close()
    held.clear()
