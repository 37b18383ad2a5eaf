"""The proxy pod's lifecycle of Kubernetes mode, replayed with real Envoy processes: each runs the
bootstrap a pod's ConfigMap holds (the readiness and stats listeners of
`infra.kubernetes.lifecycle`) with the pod's Envoy arguments, and stops the way the kubelet
stops a pod: the sidecar's preStop command (`propylon proxy-shutdown-manager drain`) and the
Envoy container's preStop command run as rendered, then SIGTERM.

Each "pod" is its own Envoy with its own listener port; the test plays the kubelet's readiness
probe and the Service's endpoints (a request goes to a pod whose /ready answered 200 at the last
probe), and a client sends requests throughout a rolling update (maxSurge 1, maxUnavailable 0)
that replaces both pods one after the other. No request may fail.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from xds_support import XdsFixture, free_port, wait_for

from propylon.infra.kubernetes import lifecycle
from propylon.infra.kubernetes.lifecycle import Drain, ProxyPorts
from propylon.ir import model as ir
from propylon.xds.bootstrap import bootstrap
from propylon.xds.translate import translate

BIN = Path(sys.executable).parent
DRAIN = Drain(min_drain_s=1, drain_timeout_s=10)
PROBE_PERIOD_S = 0.25
HOST = "app.example"


def gateway(node: str, port: int, backend: int) -> ir.GatewayIR:
    ns, name = node.split("/")
    return ir.GatewayIR(
        key=ir.GatewayKey(ns, name),
        listeners=(ir.Listener(f"{node}/http", "127.0.0.1", port, port, "HTTP",
                               route_config=f"{node}/http"),),
        route_configs=(ir.RouteConfig(f"{node}/http", (ir.VirtualHost(
            f"{node}/http/app", (HOST,), (ir.Route("r", ir.RouteMatch(
                ir.PathMatch("PathPrefix", "/")), backends=(ir.WeightedBackend("app", 1),)),)),)),),
        clusters=(ir.Cluster(name="app", endpoints=(ir.Endpoint("127.0.0.1", backend),)),),
        secrets=())


@dataclass
class Pod:
    name: str
    port: int  # the Gateway listener, as the pod serves it
    ports: ProxyPorts
    dir: Path
    envoy: asyncio.subprocess.Process
    ready: bool = False
    served: int = 0


@dataclass
class Rollout:
    xds: XdsFixture
    tmp: Path
    backend: int
    pods: list[Pod] = field(default_factory=list)
    count: itertools.count[int] = field(default_factory=itertools.count)

    async def start_pod(self, *, configure: bool = True) -> Pod:
        index = next(self.count)
        node, port = f"default/gw-{index}", free_port()
        ports = ProxyPorts(admin=free_port(), stats=free_port(), ready=free_port(),
                           address="127.0.0.1")
        if configure:
            self.xds.cache.set(node, translate(gateway(node, port, self.backend)))
        pod_dir = self.tmp / f"pod-{index}"
        pod_dir.mkdir()
        config = lifecycle.proxy_bootstrap(
            bootstrap(node, "127.0.0.1", self.xds.port, ports.admin), ports,
            lifecycle.heap_limit({"limits": {"memory": "1Gi"}}))
        (pod_dir / "envoy.json").write_text(json.dumps(config))
        log = (pod_dir / "envoy.log").open("wb")
        envoy = await asyncio.create_subprocess_exec(
            str(BIN / "envoy"), "-c", str(pod_dir / "envoy.json"), "--disable-hot-restart",
            "--concurrency", "1", "--base-id", str(ports.admin), *DRAIN.envoy_args(),
            "-l", "warning", stdout=log, stderr=log)
        log.close()
        pod = Pod(f"gw-{index}", port, ports, pod_dir, envoy)
        self.pods.append(pod)
        return pod

    async def terminate(self, pod: Pod) -> None:
        """The kubelet stopping a pod: both preStop hooks, then SIGTERM to Envoy."""
        drained = str(pod.dir / "drained")
        sidecar = lifecycle.shutdown_manager_pre_stop(pod.ports, DRAIN)["preStop"]["exec"]
        envoy_hook = lifecycle.envoy_pre_stop()["preStop"]["exec"]
        [sidecar_cmd, envoy_cmd] = [[str(BIN / a) if a == "propylon" else
                                     a.replace(lifecycle.DRAINED_FILE, drained)
                                     for a in hook["command"]]
                                    for hook in (sidecar, envoy_hook)]
        log = (pod.dir / "shutdown.log").open("wb")
        hooks = [await asyncio.create_subprocess_exec(*cmd, stdout=log, stderr=log)
                 for cmd in (sidecar_cmd, envoy_cmd)]
        log.close()
        assert [await hook.wait() for hook in hooks] == [0, 0]
        pod.envoy.terminate()
        await pod.envoy.wait()

    async def probe(self, session: aiohttp.ClientSession) -> None:
        """The readiness probe of every pod, and the endpoints that follow it."""
        while True:
            for pod in self.pods:
                try:
                    async with session.get(
                            f"http://127.0.0.1:{pod.ports.ready}{lifecycle.READY_PATH}",
                            timeout=aiohttp.ClientTimeout(total=1)) as response:
                        pod.ready = response.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    pod.ready = False
            await asyncio.sleep(PROBE_PERIOD_S)


async def test_a_pod_is_ready_only_once_it_holds_its_configuration(
        xds: XdsFixture, backend_factory: object, tmp_path: Path) -> None:
    backend = await backend_factory("app")  # type: ignore[operator]
    rollout = Rollout(xds, tmp_path, backend)
    pod = await rollout.start_pod(configure=False)
    url = f"http://127.0.0.1:{pod.ports.ready}{lifecycle.READY_PATH}"
    try:
        async with aiohttp.ClientSession() as session:
            async def status() -> int | None:
                try:
                    async with session.get(url, timeout=aiohttp.ClientTimeout(total=1)) as r:
                        return r.status
                except (aiohttp.ClientError, TimeoutError):
                    return None

            async def admin_live() -> bool:
                try:
                    async with session.get(f"http://127.0.0.1:{pod.ports.admin}/server_info",
                                           timeout=aiohttp.ClientTimeout(total=1)) as r:
                        return r.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    return False

            await wait_for(admin_live, what="Envoy's admin")
            for _ in range(8):  # Envoy runs, its xDS stream is open, it has no configuration
                assert await status() != 200
                await asyncio.sleep(PROBE_PERIOD_S)
            xds.cache.set(f"default/{pod.name}", translate(gateway(f"default/{pod.name}",
                                                                   pod.port, backend)))

            async def ready() -> bool:
                return await status() == 200
            await wait_for(ready, what="/ready 200")
            async with session.get(f"http://127.0.0.1:{pod.port}/",
                                   headers={"Host": HOST}) as response:
                assert (response.status, await response.text()) == (200, "app")
            async with session.get(
                    f"http://127.0.0.1:{pod.ports.stats}/stats/prometheus") as response:
                assert response.status == 200
                assert "envoy_server_live" in await response.text()
            async with session.get(f"http://127.0.0.1:{pod.ports.stats}/config_dump") as r:
                assert r.status == 404  # the stats port hands out nothing else
    finally:
        pod.envoy.terminate()
        await pod.envoy.wait()


async def test_two_pods_replaced_one_after_the_other_fail_no_request(
        xds: XdsFixture, backend_factory: object, tmp_path: Path) -> None:
    backend = await backend_factory("app")  # type: ignore[operator]
    rollout = Rollout(xds, tmp_path, backend)
    old = [await rollout.start_pod() for _ in range(2)]
    failures: list[str] = []
    sent = 0
    stop = asyncio.Event()

    async def all_ready(pods: list[Pod]) -> bool:
        return all(p.ready for p in pods)

    async def client(session: aiohttp.ClientSession, worker: int) -> None:
        nonlocal sent
        turn = itertools.count(worker)
        while not stop.is_set():
            ready = [p for p in rollout.pods if p.ready]
            assert ready, "no ready pod: the rollout took the last one away"
            pod = ready[next(turn) % len(ready)]
            sent += 1
            try:
                async with session.get(f"http://127.0.0.1:{pod.port}/",
                                       headers={"Host": HOST}) as response:
                    body = await response.text()
                    if response.status != 200 or body != "app":
                        failures.append(f"{pod.name}: {response.status} {body[:80]}")
                    else:
                        pod.served += 1
            except (aiohttp.ClientError, TimeoutError) as err:
                failures.append(f"{pod.name}: {err!r}")

    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) \
                as probes, aiohttp.ClientSession() as session:
            prober = asyncio.create_task(rollout.probe(probes))
            await wait_for(lambda: all_ready(old), 60, "the first two pods ready")
            clients = [asyncio.create_task(client(session, w)) for w in range(4)]
            await wait_for(lambda: _true(all(p.served for p in old)), 30, "traffic on both")
            new = []
            for pod in old:  # maxSurge 1, maxUnavailable 0: a new pod ready, then one old out
                new.append(await rollout.start_pod())
                await wait_for(lambda: all_ready(new), 60, "the new pod ready")
                await rollout.terminate(pod)
                rollout.pods.remove(pod)
            await wait_for(lambda: _true(all(p.served for p in new)), 30, "traffic on new pods")
            stop.set()
            await asyncio.gather(*clients)
            prober.cancel()
    finally:
        for pod in rollout.pods:
            if pod.envoy.returncode is None:
                pod.envoy.terminate()
                await pod.envoy.wait()
    print(f"rollout: {sent} requests, {len(failures)} failed")
    assert all(pod.envoy.returncode is not None for pod in old)
    assert sent > 100
    assert failures == []


async def _true(value: bool) -> bool:
    return value
