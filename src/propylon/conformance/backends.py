"""Echo backends: one process per Deployment replica, and EndpointSlices pointing at them.

There are no Pods in standalone mode. For each Deployment with a container the runner plays (the
suite's echo image, Envoy Gateway's static-file-server, served by `http.server` from the shared
cases' files, its ext-auth image, run as the echo's ext-auth mode with its `--certPath`
volume, the UDP tests' CoreDNS, run as the echo's CoreDNS stand-in over the Corefile its
`-conf` argument names, or one of ingress-nginx's e2e backends, the echo's
`INGRESS_NGINX_IMAGE` mode on port 80), `Backends.sync(objects)` starts `replicas` pods, each on its own loopback "pod IP" (the
hosts of the run's pod network in order, e.g. 127.2.128.1, 127.2.128.2, ...): one process per
container it plays (a sidecar echo on another port too, as pod containers share the network),
binding the container ports as they are. Each pod gets
a pod-like name `<deployment>-<hash>-<suffix>` (so "pod name minus its last two `-` segments" is
the Deployment name, as the weighted tests compute it), the container's env with the downward
API fields resolved (metadata.name, metadata.namespace, status.podIP), SERVICE_NAME (the Deployment name), and
BIND_ADDRESS (the pod
IP, which every listener of `python -m propylon.echo` binds). Secret and ConfigMap volumes are written to a per-pod directory, and env
values under a mount path are rewritten to point there. stdout and stderr go to
`<log-dir>/<namespace>/<pod>.log` (all its containers'), which the mirror checks read. A pod
process gets SIGTERM from the kernel when the runner exits (PR_SET_PDEATHSIG), so a run killed
before it could stop its pods leaves none holding its slot's addresses.

A pod is ready when each of its processes answers on its port: the HTTP port (HTTP_PORT, default
3000) accepts connections, or, for a UDP echo (UDP_PORT, default 8080) or the CoreDNS stand-in
(the first port of its Corefile), a DNS query datagram gets an answer. For every
Service with a selector, an EndpointSlice `<service>-propylon` is applied with the ready pods of
the Deployments whose template labels match: one port per Service port, named like it, numbered
by its targetPort (a number, or the name of a containerPort), appProtocol copied.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import os
import signal
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from propylon.api.kinds import by_api_version
from propylon.client import KubeClient, KubeError, resource_class
from propylon.echo import dnsmessage
from propylon.echo.dnsserver import server_blocks
from propylon.manifests import apply_objects
from propylon.shared_data import shared_path

ECHO_IMAGE = "echo-basic"
# Envoy Gateway's backend-utilization echo: echo-basic's answers with ORCA load reports (the
# echo's own, from ORCA_CPU_UTILIZATION)
UTILIZATION_IMAGE = "gateway-backend-utilization"
# Envoy Gateway's static-file-server (a Go http.FileServer on :8080): the standard library's
# file server over the files its cases read (`../shared/envoy-gateway/e2e/static-file-server`)
STATIC_FILE_IMAGE = "gateway-static-file-server"
STATIC_FILE_PORT = 8080
# Envoy Gateway's test authorisation service, run as the echo backend's ext-auth mode
EXT_AUTH_IMAGE = "gateway-envoy-ext-auth"
# the UDP tests' DNS server, played by the echo's CoreDNS stand-in
COREDNS_IMAGE = "coredns/coredns"
# the OpenTelemetry collector the access-log cases send to, run as the echo's log collector
# mode (`conformance.logqueries`)
COLLECTOR_IMAGE = "otel-collector"
# ingress-nginx's e2e backends, played by `propylon.echo.ingressnginx` on port 80 as there
INGRESS_NGINX_IMAGES = {"ingress-nginx/e2e-test-echo": "echo", "ingress-nginx/httpbun": "httpbun",
                        "ingress-nginx/slow-echo": "slow-echo"}
POD_NETWORK = ipaddress.IPv4Network("127.1.0.0/16")
READY_TIMEOUT_S = 30.0


@dataclass
class Pod:
    name: str
    namespace: str
    deployment: str
    ip: str
    labels: dict[str, str]
    container_ports: dict[str, int]
    probes: list[tuple[str, int]]  # per process: ("tcp" | "udp", the port that says it is up)
    log_path: Path
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)

    @property
    def running(self) -> bool:
        """Whether every container's process was started and has not exited."""
        return bool(self.processes) and all(p.returncode is None for p in self.processes)


@dataclass
class Deployment:
    namespace: str
    name: str
    pods: list[Pod] = field(default_factory=list)


def _env_value(entry: Mapping[str, Any], pod: str, namespace: str, ip: str) -> str | None:
    if "value" in entry:
        return str(entry["value"])
    field_path = (((entry.get("valueFrom") or {}).get("fieldRef")) or {}).get("fieldPath")
    return {"metadata.name": pod, "metadata.namespace": namespace,
            "status.podIP": ip}.get(str(field_path))


def pod_name(deployment: str, namespace: str, index: int) -> str:
    digest = hashlib.sha256(f"{namespace}/{deployment}".encode()).hexdigest()
    return f"{deployment}-{digest[:10]}-{digest[10:15]}{index}"


def endpoint_slice(service: Mapping[str, Any], pods: Iterable[Pod]) -> dict[str, Any]:
    """The EndpointSlice of a Service over its ready pods."""
    pods = list(pods)
    meta = service["metadata"]
    ports = []
    for port in (service.get("spec") or {}).get("ports") or []:
        target = port.get("targetPort", port.get("port"))
        if isinstance(target, str) and not target.isdigit():
            numbers = {p.container_ports.get(target) for p in pods} - {None}
            if not numbers:
                continue
            target = numbers.pop()
        entry = {"name": port.get("name", ""), "port": int(target),
                 "protocol": port.get("protocol", "TCP")}
        if port.get("appProtocol"):
            entry["appProtocol"] = port["appProtocol"]
        ports.append(entry)
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"namespace": meta["namespace"], "name": f"{meta['name']}-propylon",
                     "labels": {"kubernetes.io/service-name": meta["name"],
                                "endpointslice.kubernetes.io/managed-by": "propylon-conformance"}},
        "addressType": "IPv4",
        "ports": ports,
        "endpoints": [{"addresses": [p.ip],
                       "conditions": {"ready": True, "serving": True, "terminating": False},
                       "targetRef": {"kind": "Pod", "namespace": p.namespace, "name": p.name}}
                      for p in pods],
    }


class Backends:
    """The running echo pods of every Deployment applied so far."""

    def __init__(self, client: KubeClient, work_dir: Path,
                 pod_network: ipaddress.IPv4Network = POD_NETWORK) -> None:
        self.client = client
        self.work_dir = work_dir
        self.pod_network = pod_network
        self.deployments: dict[tuple[str, str], Deployment] = {}
        self._next_ip = 1

    def pods(self, namespace: str, deployment: str | None = None) -> list[Pod]:
        return [p for (ns, name), d in self.deployments.items() if ns == namespace
                and (deployment is None or name == deployment) for p in d.pods]

    async def sync(self, objects: Iterable[Mapping[str, Any]]) -> None:
        """Start the pods of new Deployments, then apply EndpointSlices for the Services."""
        objects = list(objects)
        for obj in objects:
            if obj.get("kind") == "Deployment":
                key = (obj["metadata"].get("namespace", "default"), obj["metadata"]["name"])
                if key not in self.deployments and _runs_echo(obj):
                    # registered before its first pod starts, so that a run stopped while it
                    # starts pods still stops those it started
                    self.deployments[key] = Deployment(*key)
                    await self._start(obj, self.deployments[key])
        await asyncio.gather(*(self._wait_ready(p) for d in self.deployments.values()
                               for p in d.pods))
        slices = []
        for svc in objects:
            if svc.get("kind") == "Service":
                pods = [p for d in self.deployments.values() for p in d.pods
                        if d.namespace == svc["metadata"].get("namespace")
                        and _selects(svc, p.labels)]
                if (svc.get("spec") or {}).get("selector"):
                    slices.append(endpoint_slice(svc, pods))
        errors = [o.message for o in await apply_objects(self.client, slices,
                                                         field_manager="propylon-conformance")
                  if not o.ok]
        if errors:
            raise RuntimeError("; ".join(errors))

    async def scale(self, obj: Mapping[str, Any]) -> None:
        """Give a running Deployment the replicas `obj` (its manifest) asks for: pods beyond
        them stop (the last ones), new ones start after those that keep running; then
        `sync([obj, services...])` waits for them and updates the EndpointSlices."""
        deployment = self.deployments[(obj["metadata"].get("namespace", "default"),
                                       obj["metadata"]["name"])]
        replicas = int((obj.get("spec") or {}).get("replicas", 1))
        extra, deployment.pods = deployment.pods[replicas:], deployment.pods[:replicas]
        await asyncio.gather(*(_terminate(p) for p in extra))
        await self._start(obj, deployment)

    async def stop(self, namespace: str, name: str) -> None:
        deployment = self.deployments.pop((namespace, name), None)
        if deployment:
            await asyncio.gather(*(_terminate(p) for p in deployment.pods))

    async def close(self) -> None:
        for namespace, name in list(self.deployments):
            await self.stop(namespace, name)

    def _allocate_ip(self) -> str:
        ip = str(self.pod_network[self._next_ip])
        self._next_ip += 1
        return ip

    async def _start(self, obj: Mapping[str, Any], deployment: Deployment) -> None:
        spec = obj.get("spec") or {}
        namespace, name = deployment.namespace, deployment.name
        template = spec.get("template") or {}
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        pod_spec = template.get("spec") or {}
        containers = [c for c in pod_spec.get("containers") or [] if _plays(c)]
        ports = {str(p["name"]): int(p["containerPort"])
                 for c in containers for p in c.get("ports") or [] if p.get("name")}
        for index in range(len(deployment.pods), int(spec.get("replicas", 1))):
            pname, ip = pod_name(name, namespace, index), self._allocate_ip()
            pod_dir = self.work_dir / namespace / pname
            pod_dir.mkdir(parents=True, exist_ok=True)
            pod = Pod(pname, namespace, name, ip, labels, ports, [],
                      self.work_dir / namespace / f"{pname}.log")
            deployment.pods.append(pod)
            for container in containers:
                env = await self._env(container, pod_spec, pod_dir, pname, namespace, ip)
                files = STATIC_FILE_IMAGE in str(container.get("image", ""))
                pod.probes.append(("tcp", STATIC_FILE_PORT) if files else _probe(env))
                pod.processes.append(await _spawn(pod, env, _file_server(ip) if files else None))

    async def _env(self, container: Mapping[str, Any], pod_spec: Mapping[str, Any],
                   pod_dir: Path, pod: str, namespace: str, ip: str) -> dict[str, str]:
        mounts = await self._volumes(container, pod_spec, pod_dir, namespace)
        env = {"POD_NAME": pod, "NAMESPACE": namespace, "SERVICE_NAME": pod.rsplit("-", 2)[0],
               "BIND_ADDRESS": ip}
        entries = list(container.get("env") or [])
        if UTILIZATION_IMAGE in str(container.get("image", "")):
            # the image streams ORCA reports on ORCA_GRPC_PORT (3001, echo-basic's H2C port,
            # which it does not serve): the echo's h2c listener moves to 3002, which it leaves free
            entries += [{"name": "ORCA_OOB_SERVER", "value": "1"},
                        {"name": "H2C_PORT", "value": "3002"}]
        if EXT_AUTH_IMAGE in str(container.get("image", "")):
            certs = next((a.split("=", 1)[1] for a in (*(container.get("command") or ()),
                                                        *(container.get("args") or ()))
                          if str(a).startswith("--certPath=")), "")
            entries += [{"name": "EXT_AUTH_SERVER", "value": "1"},
                        {"name": "HTTP_PORT", "value": "8080"},
                        {"name": "EXT_AUTH_CERT_DIR", "value": certs.rstrip("/") + "/"}]
        if COREDNS_IMAGE in str(container.get("image", "")):
            args = [str(a) for a in container.get("args") or ()]
            conf = args[args.index("-conf") + 1] if "-conf" in args[:-1] else "Corefile"
            entries += [{"name": "COREDNS_COREFILE", "value": conf}]
        played = _ingress_nginx_image(container)
        if played:
            entries += [{"name": "INGRESS_NGINX_IMAGE", "value": played},
                        {"name": "HTTP_PORT", "value": "80"}]
        for entry in entries:
            value = _env_value(entry, pod, namespace, ip)
            if value is None:
                continue
            for mount_path, local in mounts.items():
                if value.startswith(mount_path.rstrip("/") + "/"):
                    value = str(local) + value[len(mount_path.rstrip("/")):]
            env[str(entry["name"])] = value
        return env

    async def _volumes(self, container: Mapping[str, Any], pod_spec: Mapping[str, Any],
                       pod_dir: Path, namespace: str) -> dict[str, Path]:
        """Write Secret and ConfigMap volumes under pod_dir; mount path -> local directory."""
        volumes = {v["name"]: v for v in pod_spec.get("volumes") or []}
        out = {}
        for mount in container.get("volumeMounts") or []:
            volume = volumes.get(mount["name"]) or {}
            local = pod_dir / mount["name"]
            local.mkdir(exist_ok=True)
            source = volume.get("secret") or volume.get("configMap")
            if source is None:
                continue
            kind = "Secret" if "secret" in volume else "ConfigMap"
            name = source.get("secretName") or source.get("name")
            data = await self._read_data(kind, namespace, str(name))
            items = source.get("items") or [{"key": k, "path": k} for k in data]
            for item in items:
                if item["key"] in data:
                    (local / item["path"]).write_bytes(data[item["key"]])
            out[str(mount["mountPath"])] = local
        return out

    async def _read_data(self, kind: str, namespace: str, name: str) -> dict[str, bytes]:
        try:
            obj = await self.client.get(resource_class(by_api_version("v1", kind)), name,
                                        namespace=namespace)
        except KubeError:
            return {}
        data = obj.get("data")
        if kind == "Secret":
            return {k: base64.b64decode(v) for k, v in (data or {}).items()}
        return {k: str(v).encode() for k, v in (data or {}).items()}

    async def _wait_ready(self, pod: Pod) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_TIMEOUT_S
        for process, (protocol, port) in zip(pod.processes, pod.probes, strict=True):
            while True:
                if process.returncode is not None:
                    raise RuntimeError(f"echo pod {pod.namespace}/{pod.name} on {pod.ip} exited "
                                       f"({process.returncode}): {_last_line(pod.log_path)} "
                                       f"(whole log: {pod.log_path})")
                try:
                    if protocol == "udp":
                        await _answers_datagram(pod.ip, port)
                    else:
                        _, writer = await asyncio.open_connection(pod.ip, port)
                        writer.close()
                    break
                except (OSError, TimeoutError):
                    if loop.time() > deadline:
                        raise RuntimeError(f"echo pod {pod.namespace}/{pod.name} does not accept "
                                           f"connections on {pod.ip}:{port}") from None
                    await asyncio.sleep(0.05)


def _ingress_nginx_image(container: Mapping[str, Any]) -> str:
    """Which of ingress-nginx's e2e backends the container runs ("" if none)."""
    return next((played for image, played in INGRESS_NGINX_IMAGES.items()
                 if image in str(container.get("image", ""))), "")


def _plays(container: Mapping[str, Any]) -> bool:
    """Whether the container runs the echo image or a helper the runner starts in its place."""
    return any(image in str(container.get("image", ""))
               for image in (ECHO_IMAGE, UTILIZATION_IMAGE, STATIC_FILE_IMAGE, EXT_AUTH_IMAGE,
                             COREDNS_IMAGE, COLLECTOR_IMAGE)) or bool(_ingress_nginx_image(container))


def _runs_echo(deployment: Mapping[str, Any]) -> bool:
    """Whether the Deployment has a container the runner plays."""
    containers = (((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "containers") or []
    return any(_plays(c) for c in containers)


def _file_server(ip: str) -> list[str]:
    """The static-file-server's command: `http.server` over the files of the shared cases."""
    files = shared_path("envoy-gateway", "e2e", "static-file-server")
    if files is None:
        raise RuntimeError("the static-file-server serves ../shared/envoy-gateway/e2e/"
                           "static-file-server, which is missing: set PROPYLON_SHARED")
    return [sys.executable, "-m", "http.server", str(STATIC_FILE_PORT), "--bind", ip,
            "--directory", str(files)]


def _probe(env: Mapping[str, str]) -> tuple[str, int]:
    """The port that tells an echo process is up: UDP for the UDP echo and the CoreDNS
    stand-in (the first port of its Corefile, CoreDNS's 53 if unreadable), else the HTTP port."""
    if env.get("COREDNS_COREFILE"):
        try:
            return "udp", server_blocks(Path(env["COREDNS_COREFILE"]).read_text())[0].port
        except (OSError, ValueError):
            return "udp", 53  # the process exits saying why, which the readiness wait reports
    if env.get("UDP_ECHO_SERVER"):
        return "udp", int(env.get("UDP_PORT") or "8080")
    return "tcp", int(env.get("HTTP_PORT", "3000"))


class _Answered(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answered = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if not self.answered.done():
            self.answered.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.answered.done():
            self.answered.set_exception(exc)


async def _answers_datagram(ip: str, port: int) -> None:
    """Send a DNS query (which the UDP echo answers too) and wait 0.2 s for an answer;
    OSError or TimeoutError when none comes."""
    transport, protocol = await asyncio.get_running_loop().create_datagram_endpoint(
        _Answered, remote_addr=(ip, port))
    try:
        transport.sendto(dnsmessage.query("ready.propylon.", 0))
        await asyncio.wait_for(protocol.answered, 0.2)
    finally:
        transport.close()


def _selects(service: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    selector = (service.get("spec") or {}).get("selector") or {}
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _last_line(log: Path) -> str:
    """The log's last non-empty line (a Python traceback ends with the error), or a note."""
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    return lines[-1].strip() if lines else "empty log"


# Runs a pod's command so that the kernel SIGTERMs it when the runner exits, however the runner
# ends (even by SIGKILL): prctl(PR_SET_PDEATHSIG) survives the exec, and a runner already gone
# by then (the child's parent changed) ends it at once. Done by exec rather than in a preexec
# function, which would run Python in a child forked from a process with gRPC's threads.
DIE_WITH_RUNNER = """
import ctypes, os, signal, sys
ctypes.CDLL(None).prctl(1, signal.SIGTERM)
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)
os.execv(sys.argv[2], sys.argv[2:])
"""


async def _spawn(pod: Pod, env: Mapping[str, str],
                 command: list[str] | None = None) -> asyncio.subprocess.Process:
    command = command or [sys.executable, "-m", "propylon.echo", "--bind", pod.ip]
    log = pod.log_path.open("ab")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-c", DIE_WITH_RUNNER, str(os.getpid()), *command,
            stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env}, start_new_session=True)
    finally:
        log.close()


async def _terminate(pod: Pod) -> None:
    await asyncio.gather(*(_stop(p) for p in pod.processes))


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), 5)
    except TimeoutError:
        process.kill()
        await process.wait()
