"""The echo backends as commands: `python -m propylon.echo` (`main`) and `propylon echo` (`run`).

`main(argv)` is echo-basic's entry point: it reads the environment (`--bind` wins over
`BIND_ADDRESS`) and serves, until SIGINT or SIGTERM, one of ingress-nginx's test backends when
`INGRESS_NGINX_IMAGE` is set (`propylon.echo.ingressnginx`), else Envoy Gateway's test
authorisation service when `EXT_AUTH_SERVER` is set (`propylon.echo.extauth`), else a log
collector when `LOG_COLLECTOR` is set (`propylon.echo.collector`: OTLP_PORT, ALS_PORT,
HTTP_PORT), else the CoreDNS stand-in of the UDP tests when `COREDNS_COREFILE` names a Corefile
(`propylon.echo.dnsserver`), else the UDP echo on `UDP_PORT` (default 8080) when
`UDP_ECHO_SERVER` is set (`propylon.echo.udpserver`), else the TCP echo when `TCP_ECHO_SERVER`
is set (`propylon.echo.tcpserver`), else the gRPC echo when `GRPC_ECHO_SERVER` is set
(`propylon.echo.grpcserver`), else the HTTP listeners (`propylon.echo.httpserver`), with, when
`ORCA_OOB_SERVER` is set, the out-of-band ORCA service on `ORCA_GRPC_PORT` (default 3001,
reporting `ORCA_CPU_UTILIZATION`: `propylon.echo.orca`). A bad
variable exits 2 with its name, a listener that cannot start exits 1. The TCP, UDP, DNS and gRPC
modules are imported only when their mode is chosen, so the HTTP replicas do not load grpc.
`run("HOST:PORT")` serves one plain HTTP/1.1 listener the same way (`parse_listen` checks the
address first); `parse_backend` reads `propylon up --echo [[NAMESPACE/]SERVICE=]HOST:PORT`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import propylon.echo
from propylon.echo import environment
from propylon.echo.httpserver import EchoConfig, serve, serve_echo

if TYPE_CHECKING:
    from propylon.echo import dnsserver, grpcserver, tcpserver


def parse_listen(listen: str) -> tuple[str, int]:
    """`127.0.0.1:9001` or `[::1]:9001` -> (host, port); raises ValueError with the fix."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen {listen!r} is not HOST:PORT; write e.g. 127.0.0.1:9001")
    return host.strip("[]"), int(port)


def parse_backend(spec: str) -> tuple[str, int, dict[str, str] | None]:
    """`backend-1=127.0.0.1:9001` -> (host, port, the context naming the echo after Service
    backend-1); without `SERVICE=`, no context. Raises ValueError with the fix."""
    name, sep, listen = spec.rpartition("=")
    try:
        host, port = parse_listen(listen)
    except ValueError:
        raise ValueError(f"{spec!r} is not [[NAMESPACE/]SERVICE=]HOST:PORT; write e.g. "
                         "backend-1=127.0.0.1:9001") from None
    return host, port, environment.named(name) if sep else None


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


def run(listen: str, context: dict[str, str] | None = None) -> None:
    """Serve the plain echo backend on `listen` (HOST:PORT) until Ctrl-C or SIGTERM, reporting
    `context` (see `serve_echo`)."""
    host, port = parse_listen(listen)

    async def main() -> None:
        runner = await serve_echo(host, port, context)
        print(f"Starting server, listening on {host}:{port} (http)", flush=True)
        try:
            await _until_signalled()
        finally:
            await runner.cleanup()

    asyncio.run(main())


def _tcp_config(bind: str) -> tcpserver.TCPEchoConfig | None:
    """The TCP mode's config when `TCP_ECHO_SERVER` is set."""
    if not os.environ.get("TCP_ECHO_SERVER"):
        return None
    from propylon.echo import tcpserver

    return tcpserver.TCPEchoConfig.from_env(os.environ, bind)


def _grpc_config(bind: str) -> grpcserver.GRPCEchoConfig | None:
    """The gRPC mode's config when `GRPC_ECHO_SERVER` is set."""
    if not os.environ.get("GRPC_ECHO_SERVER"):
        return None
    from propylon.echo import grpcserver

    return grpcserver.GRPCEchoConfig.from_env(os.environ, bind)


def _corefile() -> list[dnsserver.ServerBlock] | None:
    """The server blocks of the Corefile `COREDNS_COREFILE` names, when it is set."""
    path = os.environ.get("COREDNS_COREFILE")
    if not path:
        return None
    from propylon.echo import dnsserver

    try:
        text = Path(path).read_text()
    except OSError as error:
        raise ValueError(f"COREDNS_COREFILE={path!r}: {error.strerror}") from None
    return dnsserver.server_blocks(text)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m propylon.echo [--bind HOST]`: the echo-basic-like server, configured by env."""
    description = (propylon.echo.__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m propylon.echo", description=description)
    parser.add_argument("--bind", metavar="HOST",
                        help="address every listener binds (default $BIND_ADDRESS or 127.0.0.1)")
    args = parser.parse_args(argv)
    try:
        config = EchoConfig.from_env(os.environ, args.bind)
        tcp_config = _tcp_config(config.bind)
        grpc_config = _grpc_config(config.bind)
        orca_port = (environment.port(os.environ, "ORCA_GRPC_PORT", 3001)
                     if os.environ.get("ORCA_OOB_SERVER") else None)
        orca_cpu = float(os.environ.get("ORCA_CPU_UTILIZATION") or 0)
        udp_port = (environment.port(os.environ, "UDP_PORT", 8080)
                    if os.environ.get("UDP_ECHO_SERVER") else 0)
        corefile = _corefile()
    except ValueError as error:
        print(f"echo: {error}", file=sys.stderr)
        return 2

    async def start(stack: contextlib.AsyncExitStack) -> None:
        """Start the servers of the mode the environment names; their stops go on `stack`."""
        if os.environ.get("INGRESS_NGINX_IMAGE"):
            from propylon.echo import ingressnginx

            stack.push_async_callback((await ingressnginx.serve(os.environ, config.bind)).cleanup)
        elif os.environ.get("EXT_AUTH_SERVER") or os.environ.get("LOG_COLLECTOR"):
            from propylon.echo.collector import serve_collector
            from propylon.echo.extauth import ExtAuthConfig, serve_ext_auth

            runner, grpc_server = await (
                serve_ext_auth(ExtAuthConfig.from_env(os.environ, config.bind))
                if os.environ.get("EXT_AUTH_SERVER") else serve_collector(
                    config.bind, environment.port(os.environ, "OTLP_PORT", 4317),
                    environment.port(os.environ, "ALS_PORT", 9000),
                    environment.port(os.environ, "HTTP_PORT", 3000)))
            stack.push_async_callback(runner.cleanup)
            stack.push_async_callback(grpc_server.stop, None)
        elif corefile is not None or os.environ.get("UDP_ECHO_SERVER"):
            from propylon.echo.dnsserver import serve_dns
            from propylon.echo.udpserver import serve_udp

            for transport in (await serve_dns(config.bind, corefile) if corefile is not None
                              else [await serve_udp(config.bind, udp_port, config.context)]):
                stack.callback(transport.close)
        elif tcp_config is not None:
            from propylon.echo.tcpserver import serve_tcp

            for listener in await serve_tcp(tcp_config, config.context):
                stack.callback(listener.close)
        elif grpc_config is not None:
            from propylon.echo.grpcserver import serve_grpc

            for grpc_server in await serve_grpc(grpc_config, config.context):
                stack.push_async_callback(grpc_server.stop, None)
        else:
            stack.push_async_callback((await serve(config)).close)
            if orca_port is not None:
                from propylon.echo.orca import serve_orca

                orca = await serve_orca(config.bind, orca_port, orca_cpu)
                stack.push_async_callback(orca.stop, None)

    async def serve_until_signalled() -> None:
        async with contextlib.AsyncExitStack() as stack:
            await start(stack)
            await _until_signalled()

    try:
        asyncio.run(serve_until_signalled())
    except (OSError, ssl.SSLError, ValueError) as error:
        print(f"echo: cannot start: {error}", file=sys.stderr)
        return 1
    return 0
