"""`propylon controller`: the control plane of Kubernetes mode, in the foreground.

It connects to the cluster (`--kubeconfig`, `$KUBECONFIG`, or the in-cluster service account,
see `propylon.client.load_client`), makes sure the xDS CA and server certificate exist in its
namespace (`--namespace`; `controller.certs.CertManager`, checked for rotation every
`--cert-check-interval`), serves xDS over mutual TLS on `--xds-listen` and the proxies'
certificate endpoint (`controller.issuer`: a ServiceAccount token for an xDS client certificate)
on `--certificate-listen`, runs the `Controller` with
`KubernetesInfra` (one Envoy Deployment, Service, ConfigMap and ServiceAccount per Gateway,
whose bootstrap points at `--xds-address`, by default the controller's xDS Service
`--xds-service` by its namespace-qualified name `<service>.<namespace>.svc:18000` (no cluster
domain assumed; `xds_address()`), and whose xDS agent asks that host on the certificate port
for its client certificate), and serves
operations endpoints on `--ops-listen`. With `--leader-elect` (the default) replicas elect a
leader on the Lease `propylon-controller` in the namespace (`controller.leader`): every replica
serves xDS and translates, only the leader writes status and provisions the proxies. The
operations endpoints:

- `/healthz`: the process is alive;
- `/readyz`: 200 once the first reconcile over fully listed informers is done, 503 before and
  whenever the xDS server is down or an informer lost the API server for longer than
  `--ready-watch-grace` (`controller.readiness`; not tied to leadership: every replica serves
  xDS);
- `/metrics`: Prometheus text: reconciles, translation time and failed translations, status
  writes, watch restarts per kind, xDS pushes, ACKs and NACKs per node and type URL, and
  whether this replica leads.

SIGTERM or Ctrl-C stops it; the Envoys keep serving their last configuration meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiohttp import web

from propylon.cli import ingressflags
from propylon.translate.types import DEFAULT_CONTROLLER_NAME

log = logging.getLogger("propylon.controller")

DEFAULT_NAMESPACE = "propylon-system"
XDS_SERVICE = "propylon-xds"
XDS_PORT = 18000
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def default_namespace() -> str:
    """`$POD_NAMESPACE`, else the service account's namespace, else propylon-system."""
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    if SERVICE_ACCOUNT_NAMESPACE.is_file():
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
    return DEFAULT_NAMESPACE


def xds_address(service: str, namespace: str) -> tuple[str, int]:
    """The default xDS address of the proxies' bootstraps: the Service's `.svc` name, which
    resolves in every namespace whatever the cluster domain is."""
    return f"{service}.{namespace}.svc", XDS_PORT


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "controller", help="run the Kubernetes-mode controller (xDS, status, Envoy Deployments)")
    p.add_argument("--kubeconfig", type=Path, default=None,
                   help="kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)")
    p.add_argument("--xds-listen", type=_host_port, default=("0.0.0.0", 18000),
                   metavar="HOST:PORT", help="where the xDS server listens (default 0.0.0.0:18000)")
    p.add_argument("--xds-address", type=_host_port, default=None, metavar="HOST:PORT",
                   help="the xDS address written into Envoy bootstraps (default "
                        f"<xds-service>.<namespace>.svc:{XDS_PORT})")
    p.add_argument("--xds-service", default=XDS_SERVICE,
                   help="the controller's xDS Service, named in the server certificate and "
                        "the default --xds-address (default %(default)s)")
    p.add_argument("--certificate-listen", type=_host_port, default=("0.0.0.0", 18001),
                   metavar="HOST:PORT",
                   help="the proxies' xDS certificate endpoint (default 0.0.0.0:18001; proxies "
                        "dial the xDS address's host on this port)")
    p.add_argument("--ops-listen", type=_host_port, default=("0.0.0.0", 8080),
                   metavar="HOST:PORT",
                   help="/healthz, /readyz and /metrics (default 0.0.0.0:8080)")
    p.add_argument("--namespace", default=None,
                   help="where the xDS CA and certificates are kept (default: $POD_NAMESPACE, "
                        "the service account's namespace, propylon-system)")
    p.add_argument("--cert-check-interval", type=float, default=3600.0, metavar="SECONDS",
                   help="how often certificates are checked for rotation (default %(default)s)")
    p.add_argument("--leader-elect", action=argparse.BooleanOptionalAction, default=True,
                   help="elect a leader among replicas on a Lease (default on)")
    p.add_argument("--lease-duration", type=float, default=15.0, metavar="SECONDS",
                   help="how long a leader's Lease holds without renewal (default %(default)s)")
    p.add_argument("--renew-deadline", type=float, default=10.0, metavar="SECONDS",
                   help="a leader that could not renew for this long steps down "
                        "(default %(default)s)")
    p.add_argument("--retry-period", type=float, default=2.0, metavar="SECONDS",
                   help="how often the Lease is tried or renewed (default %(default)s)")
    p.add_argument("--ready-watch-grace", type=float, default=90.0, metavar="SECONDS",
                   help="/readyz fails when an informer has had no list or watch from the API "
                        "server for this long (default %(default)s)")
    p.add_argument("--proxy-bind-address", default="0.0.0.0",
                   help="the address Envoy binds its listeners to in the pod (default %(default)s)")
    p.add_argument("--envoy-image", default=None, help="Envoy image of the proxies")
    p.add_argument("--shutdown-manager-image", default=None,
                   help="image of the proxies' shutdown manager sidecar (default this "
                        "controller's image, propylon/controller:<version>)")
    p.add_argument("--proxy-replicas", type=int, default=2,
                   help="replicas per Gateway (default %(default)s)")
    p.add_argument("--privileged-port-offset", type=int, default=10000,
                   help="listener ports below 1024 are served on PORT+OFFSET in the pod")
    p.add_argument("--controller-name", default=DEFAULT_CONTROLLER_NAME,
                   help="GatewayClass controllerName handled (default %(default)s)")
    p.add_argument("--log-format", choices=("text", "json"), default="text",
                   help="text lines, or one JSON object per line (default %(default)s)")
    ingressflags.add_arguments(p)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from propylon.controller.logs import configure

    configure(logging.DEBUG if args.verbose else logging.INFO, args.log_format)
    if not args.verbose:
        for noisy in ("httpx", "httpx2", "aiohttp.access"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    asyncio.run(serve(args))
    return 0


def _line(name: str, value: float, **labels: str) -> str:
    if not labels:
        return f"{name} {value:g}"
    text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return f"{name}{{{text}}} {value:g}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def metrics_text(controller: Any, xds: Any, nodes: tuple[str, ...],
                 informers: dict[str, Any]) -> str:
    """The Prometheus exposition of the controller's and the xDS server's counters
    (`informers`: every informer by kind, the infrastructure's included)."""
    def families() -> Iterator[tuple[str, str, str, list[str]]]:
        yield ("propylon_leader", "gauge", "1 if this replica writes status and provisions.",
               [_line("propylon_leader", int(controller.leader))])
        yield from ((name, "counter", help_text, lines)
                    for name, help_text, lines in counters())

        yield ("propylon_translation_seconds", "summary", "Time spent translating snapshots.",
               [_line("propylon_translation_seconds_sum", controller.translation_seconds),
                _line("propylon_translation_seconds_count", controller.translations)])

    def counters() -> Iterator[tuple[str, str, list[str]]]:
        yield ("propylon_reconciles_total", "Completed reconcile passes.",
               [_line("propylon_reconciles_total", controller.reconciles)])
        yield ("propylon_translation_failures_total", "Reconcile passes whose translation raised.",
               [_line("propylon_translation_failures_total", controller.failures)])
        yield ("propylon_status_writes_total", "Status subresource writes.",
               [_line("propylon_status_writes_total", controller.status.writes)])
        yield ("propylon_watch_restarts_total", "Watches restarted (dropped or expired), per kind.",
               [_line("propylon_watch_restarts_total", inf.watch_restarts, informer=name)
                for name, inf in sorted(informers.items())])
        for field, help_text in (("pushes", "xDS responses pushed."),
                                 ("acks", "xDS ACKs received."), ("nacks", "xDS NACKs received.")):
            name = f"propylon_xds_{field}_total"
            lines = [_line(name, count, node=node, type_url=type_url)
                     for node in nodes
                     for type_url, count in sorted(getattr(xds.counters(node), field).items())]
            yield name, help_text, lines
    out = []
    for name, kind, help_text, lines in families():
        out += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *lines]
    return "\n".join(out) + "\n"


def shutdown_image() -> str:
    """This controller's image, tagged with the installed version (it holds the sidecar's
    command)."""
    from importlib.metadata import PackageNotFoundError, version

    from propylon.infra.kubernetes.resources import SHUTDOWN_IMAGE
    try:
        return f"{SHUTDOWN_IMAGE}:{version('propylon')}"
    except PackageNotFoundError:
        return SHUTDOWN_IMAGE


async def serve(args: argparse.Namespace) -> None:
    from propylon.client import load_client
    from propylon.controller.certs import CertManager, xds_service_hosts
    from propylon.controller.issuer import CertificateEndpoint
    from propylon.controller.leader import LeaderConfig, LeaderElector
    from propylon.controller.readiness import unready_reasons
    from propylon.controller.reconciler import Controller
    from propylon.infra.kubernetes.manager import KubernetesInfra
    from propylon.infra.kubernetes.resources import DEFAULT_IMAGE, ProxyOptions
    from propylon.xds.server import MutualTls, SnapshotCache, XdsServer
    from propylon.xds.server.tls import ServerMaterial

    client = load_client(args.kubeconfig)
    namespace = args.namespace or default_namespace()
    bootstrap_host, bootstrap_port = (args.xds_address
                                      or xds_address(args.xds_service, namespace))
    certs = CertManager(client, namespace,
                        [*xds_service_hosts(args.xds_service, namespace), bootstrap_host],
                        check_s=args.cert_check_interval)
    tls = MutualTls(await certs.ensure())
    cache = SnapshotCache()
    xds = XdsServer(cache)
    listen_host, listen_port = args.xds_listen
    xds_port = await xds.start(listen_host, listen_port, tls=tls)
    options = ProxyOptions(image=args.envoy_image or DEFAULT_IMAGE, replicas=args.proxy_replicas,
                           privileged_port_offset=args.privileged_port_offset,
                           shutdown_image=args.shutdown_manager_image or shutdown_image(),
                           issuer_port=args.certificate_listen[1])
    infra = KubernetesInfra(client, bootstrap_host, bootstrap_port, options,
                            bind_address=args.proxy_bind_address, certs=certs)
    endpoint = CertificateEndpoint(client, certs, infra)
    certificate_host, certificate_port = args.certificate_listen
    await endpoint.start(certificate_host, certificate_port, tls.material)
    controller = Controller(client, cache, infra, controller_name=args.controller_name,
                            ingress=ingressflags.settings(args))
    elector = None
    if args.leader_elect:
        elector = LeaderElector(client, LeaderConfig(
            namespace, f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}",
            lease_duration_s=args.lease_duration, renew_deadline_s=args.renew_deadline,
            retry_period_s=args.retry_period))
        for target in (controller, infra):
            target.set_leader(False)
            elector.subscribe(target.set_leader)
    nodes: set[str] = set()

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    def informers() -> dict[str, Any]:
        return {**{f"proxies/{k}": v for k, v in infra.informers.items()}, **controller.informers}

    async def readyz(_: web.Request) -> web.Response:
        reasons = unready_reasons(reconciles=controller.reconciles, xds_serving=xds.serving,
                                  informers=informers(), now=time.monotonic(),
                                  watch_grace_s=args.ready_watch_grace)
        return web.Response(text="\n".join(reasons) or "ok", status=503 if reasons else 200)

    async def metrics(_: web.Request) -> web.Response:
        nodes.update(cache.nodes())
        return web.Response(text=metrics_text(controller, xds, tuple(sorted(nodes)), informers()),
                            content_type="text/plain", charset="utf-8")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, *args.ops_listen).start()
    log.info("controller started xds=%s:%d ops=%s:%d xds_address=%s:%d", args.xds_listen[0],
             xds_port, *args.ops_listen, bootstrap_host, bootstrap_port)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    certs.subscribe(infra.refresh)
    task = asyncio.create_task(controller.run(), name="controller")

    def on_material(material: ServerMaterial) -> None:
        tls.update(material)
        endpoint.update(material)
    tasks = [task, asyncio.create_task(certs.run(on_material), name="cert-rotation"),
             asyncio.create_task(stop.wait())]
    if elector is not None:
        tasks.append(asyncio.create_task(elector.run(), name="leader-election"))
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in reversed(tasks):
            pending.cancel()
        await asyncio.gather(*reversed(tasks), return_exceptions=True)
        await infra.close(stop_proxies=False)
        await runner.cleanup()
        await xds.stop()
        await endpoint.stop()
        await client.close()
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
