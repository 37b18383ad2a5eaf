"""The run: set up the suite on a standalone stack, then run each case in the README's order.

Setup (`Harness.setup`): what the suite's install creates (`install`), the GatewayClass
`gateway-conformance` with Propylon's controllerName unless the install brings the class, the
TLS material, `base/manifests.yaml` with the Applier's rewrites, echo pods and
EndpointSlices for its Deployments and Services, then the class must be Accepted; its
`status.supportedFeatures` decide which cases are NOT_SUPPORTED (not all features supported).

A case (`Harness.run_case`): apply its own manifests (create or update), start its echo pods,
then 1. namespacesMustBeReady, 2. status entries without a `phase`, 3. requests (3 consecutive
matches within 30 s each; `mirroredTo` read from pod logs; TLS, TCP, UDP and DNS exchanges as
`tcp` and `udp` make them), weights, 4. steps in order (`distribution` batches and `sticky` sequences: `distribution`). The
first failing check fails the case with its reason; a request or step the runner cannot make
skips it. A case that needs its client in a given network (`supplements.CLIENT_NETWORKS`) sends
its HTTP requests from the run's client address (`sourceaddress`), or is skipped with the reason
it cannot have one. Steps a case file gives only as prose come from `supplements`; a `create` step with
an `object` applies that object and an `apply` step one more manifest (and starts its pods),
both deleted with the case's own; Envoy Gateway's `dns` step is the DNS request of the UDPRoute
tests; a `log` step reads Envoy's stdout or the log collector's records (`logqueries`).
Afterwards the case's own objects are deleted and its pods stopped, except objects the
base manifests also define, which are re-applied as the base has them.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import re
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from propylon.api.formats import duration_ms
from propylon.api.kinds import by_kind
from propylon.client import KubeClient, KubeError, resource_class
from propylon.conformance import (
    clients,
    connections,
    distribution,
    grpcclient,
    logqueries,
    manifests,
    metrics,
    requests,
    sourceaddress,
    status,
    steps,
    supplements,
    tcp,
    traffic,
    udp,
)
from propylon.conformance.backends import Backends
from propylon.conformance.cases import Case
from propylon.conformance.matching import Response, compare
from propylon.conformance.report import FAILED, NOT_SUPPORTED, SKIPPED, SUCCEEDED, CaseResult
from propylon.conformance.tlsmaterial import tls_objects
from propylon.ir.model import GatewayKey
from propylon.manifests import ObjectRef, object_ref

GATEWAY_CLASS = "gateway-conformance"
BASE = "base/manifests.yaml"
NAMESPACES_READY_TIMEOUT_S = 300.0
PODS_READY_TIMEOUT_S, PODS_POLL_S = 300.0, 2.0  # Envoy Gateway's WaitForPods
MIRROR_QUERY = "gateway-api-conformance-request-id"
FRESH_UUID = re.compile(r"<fresh uuid[^>]*>")
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
DNS_STEP_WITHIN_S = 60.0  # Envoy Gateway's UDPRoute test polls its DNS query this long
L4_PROTOCOLS = ("TCP", "UDP", "DNS")


# Go tests that check the refusal of a feature and return at once, passing, when the
# implementation supports it (their body runs only without it).
PASS_WHEN_SUPPORTED = {
    "TLSRouteListenerMixedTerminationNotSupported": "TLSRouteModeMixed",
    "TLSRouteListenerTerminateNotSupported": "TLSRouteModeTerminate",
}


def _served(ref: ObjectRef) -> bool:
    """Whether the API server serves the kind of `ref` (a case may name kinds it does not,
    such as TCPRoute: those were refused at apply time, there is nothing to delete)."""
    try:
        return bool(ref.info)
    except KeyError:
        return False


class CaseFailed(Exception):
    """A check of the case did not hold; the message is the reason."""


class CaseSkipped(Exception):
    """The runner cannot run this case; the message says why."""


@dataclass
class Harness:
    client: KubeClient
    backends: Backends
    manifests_root: Path
    rewrite: manifests.Rewrite
    timeout_scale: float = 1.0
    state_dir: Path | None = None  # the stack's: Envoy stats for metric steps
    retry_wait_s: float = requests.POLL_S  # after a failed request (Envoy Gateway's: 1 s)
    # what the implementation's install creates (and the suite's GatewayClass, if it brings one)
    install: tuple[dict[str, Any], ...] = ()
    client_alias: sourceaddress.ClientAlias | None = None  # the run's, for CLIENT_NETWORKS cases
    # waits until the stack serves what the statuses say (the controller idle, every push
    # answered by the Envoys), after a case's status checks and before its traffic
    settled: Callable[[], Awaitable[None]] | None = None

    def __post_init__(self) -> None:
        self.base_objects: list[dict[str, Any]] = []
        self.metrics: dict[str, int] = {}  # values a metric step read (`read: once`)
        self.held: list[asyncio.StreamWriter] = []  # a tcpConnections step's, until case end
        self.supported: list[str] = []
        self._generation_before: int | None = None
        self._last_patched: Mapping[str, Any] = {}
        self._last_request: Mapping[str, Any] = {}  # the last request step (log steps resend it)
        self._case_objects: list[dict[str, Any]] = []

    # -- reading objects ---------------------------------------------------------------------

    async def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        info = by_kind(kind)
        try:
            return await self.client.get(resource_class(info), name,
                                         namespace=namespace if info.namespaced else None)
        except KubeError as err:
            if err.code == 404:
                return None
            raise

    async def replace(self, obj: dict[str, Any]) -> None:
        info = by_kind(obj["kind"])
        await self.client.replace(resource_class(info)(obj))

    # -- setup -------------------------------------------------------------------------------

    async def setup(self) -> None:
        installed = {(o["kind"], o["metadata"]["name"]) for o in self.install}
        gateway_class = [] if ("GatewayClass", self.rewrite.gateway_class) in installed else [
            {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
             "metadata": {"name": self.rewrite.gateway_class},
             "spec": {"controllerName": self.rewrite.controller_name}}]
        self.base_objects = manifests.load_objects(self.manifests_root, [BASE], self.rewrite)
        await manifests.apply(self.client, [*self.install, *gateway_class, *tls_objects(),
                                            *self.base_objects])
        await self.backends.sync([*self.install, *self.base_objects])
        reason = await status.wait({"kind": "GatewayClass", "name": self.rewrite.gateway_class,
                                    "conditions": {"Accepted": "True"}}, self.get,
                                   self.rewrite.controller_name, 180 * self.timeout_scale)
        if reason:
            raise RuntimeError(f"GatewayClass {self.rewrite.gateway_class} not accepted: {reason}")
        gc = await self.get("GatewayClass", None, self.rewrite.gateway_class) or {}
        self.supported = sorted(f["name"] if isinstance(f, Mapping) else str(f)
                                for f in (gc.get("status") or {}).get("supportedFeatures") or [])

    # -- one case ----------------------------------------------------------------------------

    async def run_case(self, case: Case) -> CaseResult:
        missing = [f for f in case.features if f not in self.supported]
        if missing:
            return CaseResult(case, NOT_SUPPORTED, f"unsupported features {', '.join(missing)}")
        if PASS_WHEN_SUPPORTED.get(case.name) in self.supported:
            return CaseResult(case, SUCCEEDED)
        own = [m for m in case.manifests if m != BASE]
        objects = manifests.load_objects(case.manifests_root or self.manifests_root, own,
                                         self.rewrite)
        self._case_objects = list(objects)  # `apply` and `create` steps add theirs, deleted with them
        try:
            await manifests.apply(self.client, objects)
            await self.backends.sync([*self.base_objects, *objects])
            await self._run(case)
        except CaseFailed as err:
            return CaseResult(case, FAILED, str(err))
        except (CaseSkipped, requests.Unsupported, steps.Unsupported,
                metrics.Unsupported) as err:
            return CaseResult(case, SKIPPED, str(err))
        except Exception as err:  # noqa: BLE001 - one broken case must not end the run
            return CaseResult(case, FAILED, f"{type(err).__name__}: {err}")
        finally:
            connections.close(self.held)
            await self._cleanup(self._case_objects)
        return CaseResult(case, SUCCEEDED)

    async def _cleanup(self, objects: list[dict[str, Any]]) -> None:
        base = {object_ref(o, "default") for o in self.base_objects}
        refs = [r for r in manifests.refs_of(objects) if r not in base and _served(r)]
        for ref in refs:
            if ref.kind == "Deployment" and ref.namespace:
                await self.backends.stop(ref.namespace, ref.name)
            if ref.kind == "Service" and ref.namespace:
                refs.append(ObjectRef("discovery.k8s.io/v1", "EndpointSlice", ref.namespace,
                                      f"{ref.name}-propylon"))
        await manifests.delete_all(self.client, refs)
        restored = [o for o in self.base_objects if object_ref(o, "default") in
                    set(manifests.refs_of(objects))]
        if restored:
            await manifests.apply(self.client, restored)

    async def _run(self, case: Case) -> None:
        if case.namespaces_must_be_ready:
            await self.namespaces_ready(list(case.namespaces_must_be_ready))
        for entry in case.status:
            if "phase" not in entry:
                await self.expect_status(entry)
        if self.settled is not None:
            await self.settled()
        await asyncio.gather(*(self.request(case, r["request"], r["expect"])
                               for r in case.requests))
        if case.weights:
            await self.weights(case)
        for step in supplements.steps(case):
            await self.step(case, step)

    # -- checks ------------------------------------------------------------------------------

    async def expect_status(self, entry: Mapping[str, Any]) -> None:
        if entry.get("kind") == "Pods":
            await self.pods_ready(entry)
            return
        unsupported = [k for k in ("statusAddresses",) if k in entry]
        if unsupported:
            raise CaseSkipped(f"status field {unsupported[0]} is free text the runner cannot check")
        if "addresses" in entry:
            entry = {**entry, "addresses": self.rewrite.addresses(list(entry["addresses"]))}
        reason = await status.wait(entry, self.get, self.rewrite.controller_name,
                                   status.timeout_s(entry) * self.timeout_scale)
        if reason:
            raise CaseFailed(reason)

    async def pods_ready(self, entry: Mapping[str, Any]) -> None:
        """Envoy Gateway's WaitForPods: some backend process has the labels, every such one
        runs (a pod is started only once it accepts connections: `Backends.sync`)."""
        namespace, selector = str(entry.get("namespace")), dict(entry.get("selector") or {})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PODS_READY_TIMEOUT_S * self.timeout_scale
        while True:
            pods = [p for p in self.backends.pods(namespace)
                    if all(p.labels.get(k) == v for k, v in selector.items())]
            if pods and all(p.running for p in pods):
                return
            if loop.time() >= deadline:
                raise CaseFailed(f"Pods {namespace} {selector}: none running" if not pods else
                                 f"Pods {namespace} {selector}: "
                                 f"{', '.join(p.name for p in pods)} not all running")
            await asyncio.sleep(PODS_POLL_S)

    async def namespaces_ready(self, namespaces: list[str]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + NAMESPACES_READY_TIMEOUT_S * self.timeout_scale
        while True:
            reason = await self._namespaces_reason(namespaces)
            if reason is None:
                return
            if loop.time() >= deadline:
                raise CaseFailed(f"namespaces not ready: {reason}")
            await asyncio.sleep(0.1 if reason else 0)

    async def _namespaces_reason(self, namespaces: list[str]) -> str | None:
        for namespace in namespaces:
            listing = await self.client.list(resource_class(by_kind("Gateway")),
                                             namespace=namespace)
            for obj in listing.items:
                annotations = obj["metadata"].get("annotations") or {}
                if annotations.get("gateway-api/skip-this-for-readiness") == "true":
                    continue
                reason = status.check({"kind": "Gateway", "conditions": {
                    "Accepted": "True", "Programmed": "True"}}, obj, "")
                if reason:
                    return f"Gateway {namespace}/{obj['metadata']['name']}: {reason}"
            pods = self.backends.pods(namespace)
            if not pods:
                return f"no echo pod in {namespace}"
            dead = [p.name for p in pods if not p.running]
            if dead:
                return f"echo pods not running: {', '.join(dead)}"
        return None

    async def target(self, case: Case, request: Mapping[str, Any]) -> requests.Target:
        via = request.get("via") or {}
        name = via.get("gateway") or case.gateway.get("name")
        namespace = case.gateway.get("namespace", "gateway-conformance-infra")
        gw = await self.get("Gateway", namespace, str(name))
        if gw is None:
            raise CaseFailed(f"Gateway {namespace}/{name} does not exist")
        addresses = [a for a in (gw.get("status") or {}).get("addresses") or [] if a.get("type")]
        if not addresses:
            raise CaseFailed(f"Gateway {namespace}/{name} has no address")
        listeners = (gw.get("spec") or {}).get("listeners") or [{}]
        listener_name = str(via.get("listener", "")).split(" ")[0]
        listener = next((lis for lis in listeners if lis.get("name") == listener_name),
                        listeners[0])
        port = request.get("port") or via.get("port") or listener.get("port") or 80
        return requests.Target(str(addresses[0]["value"]), int(port),
                               await self.server_ca(request.get("serverCA")),
                               await self.client_cert(request.get("clientCert")),
                               await self.client_source(case))

    async def client_source(self, case: Case) -> str | None:
        """The address the case's requests come from: None (the default, loopback) unless the
        case needs a client network; skips the case when the run cannot have that address."""
        network = supplements.CLIENT_NETWORKS.get(case.name)
        if network is None:
            return None
        if self.client_alias is None:
            raise CaseSkipped(f"needs a client address in {network}; this run has none")
        source, reason = await self.client_alias.acquire(ipaddress.IPv4Network(network))
        if source is None:
            raise CaseSkipped(f"needs a client address in {network}: {reason}")
        return source

    async def client_cert(self, text: str | None) -> tuple[str, str] | None:
        """Files holding the `tls.crt` and `tls.key` of `clientCert` (`Secret ns/name ...`)."""
        if not text:
            return None
        namespace, _, name = str(text).split()[1].rpartition("/")
        secret = await self.get("Secret", namespace or "gateway-conformance-infra", name)
        data = (secret or {}).get("data") or {}
        if "tls.crt" not in data or "tls.key" not in data:
            raise CaseFailed(f"clientCert {text!r}: no tls.crt and tls.key in Secret {name}")
        folder = Path(tempfile.mkdtemp(prefix="propylon-client-cert-"))
        files = (folder / "tls.crt", folder / "tls.key")
        for path, key in zip(files, ("tls.crt", "tls.key"), strict=True):
            path.write_bytes(base64.b64decode(data[key]))
        return str(files[0]), str(files[1])

    async def server_ca(self, text: str | None) -> bytes | None:
        """PEM named by `serverCA` text such as `Secret ns/name tls.crt` or `ConfigMap name`."""
        if not text:
            return None
        words = str(text).split()
        kind, ref = words[0], words[1]
        namespace, _, name = ref.rpartition("/")
        key = words[2] if len(words) > 2 and "." in words[2] else (
            "tls.crt" if kind == "Secret" else "ca.crt")
        obj = await self.get(kind, namespace or "gateway-conformance-infra", name)
        data = ((obj or {}).get("data") or {}).get(key)
        if data is None:
            raise CaseFailed(f"serverCA {text!r}: no {key} in {kind} {ref}")
        return base64.b64decode(data) if kind == "Secret" else str(data).encode()

    async def request(self, case: Case, request: Mapping[str, Any],
                      expect: Mapping[str, Any]) -> None:
        request, expect = dict(request), dict(expect)
        if expect.get("mirroredTo"):
            sep = "&" if "?" in str(request.get("path", "/")) else "?"
            request["path"] = f"{request.get('path', '/')}{sep}{MIRROR_QUERY}={uuid.uuid4()}"
            if "path" in expect:
                expect["path"] = request["path"]
        if request.get("protocol") == "WEBSOCKET":
            request["websocketEcho"] = expect.get("websocketEcho") or []
        if request.get("protocol") == "TLS":
            await self.tls_request(case, request, expect)
            return
        if request.get("protocol") in L4_PROTOCOLS:
            await self.l4_request(case, request, expect)
            return
        if request.get("protocol") == "GRPC":
            await self.grpc_request(case, request, expect)
            return
        if expect.get("connectionRejected"):
            raise CaseSkipped("connectionRejected is implemented for TLS requests only")
        if request.get("client", "plain") not in ("plain", "compression") \
                or request.get("check", "statusOnly") not in ("statusOnly", "customResponse",
                                                              "response"):
            raise CaseSkipped(f"request client {request.get('client')!r} / check "
                              f"{request.get('check')!r} not implemented by the runner yet")
        if expect.get("backendPeerCert"):
            pem = await self.server_ca(str(expect["backendPeerCert"]).removeprefix("PEM of "))
            expect["backendPeerCert"] = (pem or b"").decode()
        target = await self.target(case, request)

        async def attempt() -> str | None:
            fresh = dict(request, path=FRESH_UUID.sub(lambda _: str(uuid.uuid4()),
                                                      str(request.get("path", "/"))))
            outcome = await requests.send(target, fresh)
            if request.get("protocol") == "WEBSOCKET":
                return outcome.error or None
            if expect.get("connectionError"):
                return None if outcome.error else \
                    f"status {outcome.response.status}, expected a transport error"
            if outcome.error:
                return outcome.error
            if request.get("check") == "customResponse":
                return clients.custom_response(expect, outcome.response)
            if request.get("client") == "compression":
                outcome = replace(outcome, response=clients.decompressed(outcome.response))
            return compare(fresh, {**expect, "path": fresh["path"]} if "path" in expect and
                           fresh["path"] != request.get("path") else expect,
                           outcome.response, requests.scheme(request))

        mode = str(request.get("mode") or "")
        if mode == "once":
            reason = await attempt()
        elif mode == "untilMatch" or mode.startswith("poll"):
            reason = await requests.until_match(
                attempt, self.retry_wait_s,
                requests.MAX_TIME_TO_CONSISTENCY_S * (2 if mode.startswith("poll") else 1))
        else:
            reason = await requests.until_consistent(attempt, poll_s=self.retry_wait_s)
        if reason:
            raise CaseFailed(f"{request.get('method', 'GET')} {request.get('host', '')}"
                             f"{request.get('path', '/')} ({request.get('protocol')}): {reason}")
        for mirror in expect.get("mirroredTo") or []:
            logs = [p.log_path for p in self.backends.pods(mirror["namespace"], mirror["name"])]
            name = f"{mirror['namespace']}/{mirror['name']}"
            if "percent" in mirror:
                base = str(request["path"]).rsplit(MIRROR_QUERY, 1)[0]

                async def send_many(path: str) -> None:
                    await traffic.in_batches([requests.send(target, {**request, "path": path})
                                              for _ in range(traffic.REQUESTS)])

                reason = await traffic.mirrored_percent(send_many, logs, base + MIRROR_QUERY,
                                                        float(mirror["percent"]))
            else:
                reason = await traffic.mirrored({name: logs}, str(request["path"]))
            if reason:
                raise CaseFailed(f"{name}: {reason}")

    async def tls_request(self, case: Case, request: Mapping[str, Any],
                          expect: Mapping[str, Any]) -> None:
        """A raw TLS connection speaking the TCP echo protocol, or a rejected one."""
        target = await self.target(case, request)
        if expect.get("connectionRejected"):
            reason = await tcp.wait_rejected(target, request)
        else:
            reason = await tcp.wait_valid(target, request, expect)
        if reason:
            raise CaseFailed(f"TLS {request.get('sni', '')} port {target.port}: {reason}")

    async def l4_request(self, case: Case, request: Mapping[str, Any],
                         expect: Mapping[str, Any]) -> None:
        """A TCP exchange with the TCP echo, a UDP datagram to the UDP echo or a DNS query,
        as v1.6.1's TCPRoute and UDPRoute tests make them (`tcp`, `udp`)."""
        target = await self.target(case, request)
        protocol, samples = request["protocol"], int(request.get("samples") or 0)
        within = float(request.get("within") or udp.DEFAULT_TEST_TIMEOUT_S)
        if protocol == "TCP" and request.get("check") == "connect":
            reason = await tcp.wait_connectable(target)
        elif protocol == "TCP" and samples:
            reason = await tcp.samples(target, samples, str(expect["backend"]))
        elif protocol == "TCP":
            reason = await tcp.wait_valid(target, request, expect)
        elif protocol == "UDP" and samples:
            reason = await udp.wait_samples(target, samples, str(expect["backend"]), within)
        elif protocol == "UDP":
            reason = await udp.wait_echo(target, expect, within)
        else:
            reason = await udp.wait_dns(target, str(request["question"]), within)
        if reason:
            raise CaseFailed(f"{protocol} {target.address}:{target.port}: {reason}")

    async def grpc_request(self, case: Case, request: Mapping[str, Any],
                           expect: Mapping[str, Any]) -> None:
        """A gRPC call, repeated until it gives the expected answer 3 times in a row."""
        target = await self.target(case, request)
        method = str(request["method"])

        async def attempt() -> str | None:
            response = await grpcclient.call(target.address, target.port, method,
                                             request.get("authority"), request.get("metadata"))
            return grpcclient.compare(expect, response, method)

        reason = await requests.until_consistent(attempt)
        if reason:
            raise CaseFailed(f"gRPC {request.get('authority', '')}{method}: {reason}")

    async def weights(self, case: Case) -> None:
        request: dict[str, Any] = (dict(case.requests[0]["request"]) if case.requests
                                   else {"path": "/"})
        target = await self.target(case, request)

        async def send(extra: dict[str, str]) -> str:
            try:
                if request.get("protocol") == "TCP":
                    return await tcp.pod_once(target)
                if request.get("protocol") == "UDP":
                    return str((await udp.pod_once(target))["pod"])
            except (OSError, TimeoutError, EOFError, ValueError):
                return ""
            if request.get("protocol") == "GRPC":
                answer = await grpcclient.call(
                    target.address, target.port, str(request["method"]),
                    request.get("authority"), {**(request.get("metadata") or {}), **extra})
                return answer.pod
            outcome = await requests.send(target, {**request, "headers": {
                **(request.get("headers") or {}), **extra}})
            echo = outcome.response.echo()
            return str(echo.get("pod", "")) if echo else ""

        reason = await traffic.weighted(send, case.weights)
        if reason:
            raise CaseFailed(f"weighted split: {reason}")

    # -- steps -------------------------------------------------------------------------------

    async def step(self, case: Case, step: Mapping[str, Any]) -> None:
        action = step.get("action")
        if action == "request":
            self._last_request = step
            request = step["request"]
            if str(step.get("client", "")).startswith("plain ("):
                # Go's own net/http client, whose answer is read for what expect lists only
                request = {**request, "check": "response"}
            await self.request(case, request, step["expect"])
        elif action == "dns":  # Envoy Gateway's UDPRoute: any DNS reply to the query will do
            await self.l4_request(case, {"protocol": "DNS", "question": step["query"]["name"],
                                         "within": DNS_STEP_WITHIN_S}, {})
        elif action == "tcpConnections":
            target = await self.target(case, {})
            try:
                self.held.extend(await connections.hold(target.address, target.port,
                                                        int(step.get("total", 1))))
            except RuntimeError as err:
                raise CaseFailed(f"tcpConnections: {err}") from None
        elif action == "namespacesMustBeReady":
            await self.namespaces_ready(list(step.get("namespaces") or
                                             ["gateway-conformance-infra"]))
        elif action == "expect" and step.get("metric"):
            await self.expect_metric(case, step["metric"])
        elif action == "expect" and step.get("log"):
            await self.expect_log(case, step["log"])
        elif action == "expect":
            for entry in step.get("status") or []:
                await self.expect_status(entry)
            if step.get("what"):
                await self._expect_text(str(step["what"]), case)
        elif action == "patch":
            obj = await self._live(step)
            self._generation_before = int(obj["metadata"].get("generation") or 0)
            steps.apply_patch(obj, step.get("patch"))
            await self.replace(obj)
            self._last_patched = step
        elif action == "endpointsFromPods":
            await self._endpoints_from_pods(step)
        elif action == "infrastructureMetadata":
            await self._infrastructure_metadata(str(step["namespace"]), str(step["gateway"]))
        elif action == "copyData":
            source = await self._live({**step, "name": step["from"]})
            await manifests.apply(self.client, [{
                "apiVersion": source["apiVersion"], "kind": source["kind"],
                "metadata": {"namespace": step.get("namespace"), "name": step["name"]},
                "data": source.get("data") or {}}])
        elif action == "apply":
            applied = manifests.load_objects(case.manifests_root or self.manifests_root,
                                             [str(step["manifest"])],
                                             self.rewrite)
            self._case_objects.extend(applied)
            await manifests.apply(self.client, applied)
            await self.backends.sync([*self.base_objects, *self._case_objects])
        elif action == "sleep":
            await asyncio.sleep(duration_ms(str(step["duration"])) / 1000)
        elif action in ("distribution", "sticky"):
            await self._batch(case, step)
        elif action == "create" and step.get("object"):
            self._case_objects.append(dict(step["object"]))
            await manifests.apply(self.client, [dict(step["object"])])
        elif action == "delete":
            ref = ObjectRef(by_kind(str(step["kind"])).api_version, str(step["kind"]),
                            step.get("namespace"), str(step["name"]))
            await manifests.delete_all(self.client, [ref])
        else:
            raise CaseSkipped(f"step not understood: {dict(step)}")

    async def _batch(self, case: Case, step: Mapping[str, Any]) -> None:
        """A `distribution` batch or a `sticky` sequence (`distribution`)."""
        request, expect = dict(step["request"]), dict(step.get("expect") or {})
        target = await self.target(case, request)
        deployment = distribution.deployment_named(step)
        pods = self.backends.pods(str(expect.get("namespace") or case.gateway.get("namespace")),
                                  deployment) if deployment else []
        if pods:
            request["headers"] = distribution.with_pod_ip(request.get("headers") or {},
                                                          pods[0].ip)

        async def send(extra: Mapping[str, str]) -> tuple[Response, str, str]:
            sent = {**request, "headers": {**(request.get("headers") or {}), **extra}}
            outcome = await requests.send(target, sent)
            mismatch = "" if outcome.error else \
                compare(sent, expect, outcome.response, requests.scheme(request)) or ""
            return outcome.response, outcome.error, mismatch

        try:
            reason = await (distribution.distribution(send, step, [p.name for p in pods],
                                                      pods[0].name if pods else "")
                            if step["action"] == "distribution"
                            else distribution.sticky_cookie(send, step)
                            if step.get("cookieValues")
                            else distribution.sticky_session(send, step, asyncio.sleep))
        except distribution.Unknown as err:
            raise CaseSkipped(str(err)) from err
        if reason:
            raise CaseFailed(f"{step.get('action')} {step.get('name', '')!r}: {reason}")

    async def expect_metric(self, case: Case, metric: Mapping[str, Any]) -> None:
        """A metric step (`metrics`): read once into a name, or poll until the condition
        holds as the harness does (3 consecutive successes within 30 s)."""
        family, stat, labels = metrics.parse(str(metric["query"]))
        clusters: list[str] | None = None  # every cluster
        if family == "cluster" and "envoy_cluster_name" in labels:
            kind, namespace, name, index = metrics.eg_route_rule(labels["envoy_cluster_name"])
            route = await self._live({"kind": kind, "namespace": namespace, "name": name})
            clusters = metrics.rule_clusters(route, index)
        gateway = GatewayKey(str(case.gateway.get("namespace", "gateway-conformance-infra")),
                             labels.get("gateway_envoyproxy_io_owning_gateway_name")
                             or str(case.gateway.get("name")))
        if self.state_dir is None:
            raise CaseSkipped("metric steps need the stack's state directory")
        socket = metrics.admin_socket(self.state_dir, gateway)

        async def read() -> int:
            if family == "cluster":
                return await metrics.cluster_stat(socket, clusters, stat)
            return await metrics.connection_limit_stat(socket, stat)

        if metric.get("read") == "once":
            try:
                self.metrics[str(metric["name"])] = await read()
            except (OSError, RuntimeError):
                self.metrics[str(metric["name"])] = 0  # onError: use 0
            return
        condition = str(metric.get("condition", "value > 0"))

        async def attempt() -> str | None:
            value = await read()
            if metrics.evaluate(condition, {**self.metrics, "value": value}):
                return None
            return f"{metric['query']} = {value}: {condition} does not hold"

        reason = await requests.until_consistent(attempt, poll_s=self.retry_wait_s)
        if reason:
            raise CaseFailed(f"metric: {reason}")

    async def _log_lines(self, case: Case, labels: Mapping[str, Any]) -> list[str]:
        """The lines the log query with `labels` reads (`logqueries`)."""
        if logqueries.reads_collector(labels):
            pods = self.backends.pods(logqueries.COLLECTOR_NAMESPACE, logqueries.COLLECTOR_NAME)
            if not pods:
                raise CaseSkipped("log steps on collected records need the log collector "
                                  f"{logqueries.COLLECTOR_NAMESPACE}/{logqueries.COLLECTOR_NAME}")
            return await logqueries.collector_lines(pods[0].ip)
        if self.state_dir is None:
            raise CaseSkipped("log steps on Envoy's stdout need the stack's state directory")
        gateway = GatewayKey(str(case.gateway.get("namespace", "gateway-conformance-infra")),
                             str(case.gateway.get("name")))
        return logqueries.envoy_lines(self.state_dir, gateway)

    async def expect_log(self, case: Case, log: Mapping[str, Any]) -> None:
        """A log step (`logqueries`): read once into a name; or count, send the previous request
        again and wait up to a minute for the condition on the counts before and after; or
        poll a condition on the count as the harness does."""
        labels, regex = log.get("labels") or {}, log.get("lineRegex")
        if not logqueries.reads_collector(labels):
            regex = logqueries.with_route_clusters(regex, [*self.base_objects,
                                                           *self._case_objects])

        async def read() -> int:
            return logqueries.count(await self._log_lines(case, labels), regex)

        if str(log.get("read", "")).startswith("once"):
            self.metrics[str(log["name"])] = await read()
            return
        condition = str(log.get("condition", "count > 0"))
        if "count(before)" in condition:
            before = await read()
            await self.step(case, self._last_request)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60 * self.timeout_scale
            after = await read()
            while not metrics.evaluate(logqueries.delta_condition(condition),
                                       {"before": before, "after": after}):
                if loop.time() > deadline:
                    raise CaseFailed(f"log {labels} |~ {regex!r}: {before} lines before the "
                                     f"request, {after} after: {condition} does not hold")
                await asyncio.sleep(1.0)
                after = await read()
            return

        async def attempt() -> str | None:
            value = await read()
            if metrics.evaluate(condition, {**self.metrics, "count": value}):
                return None
            return f"log {labels} |~ {regex!r}: count {value}: {condition} does not hold"

        reason = await requests.until_consistent(attempt, poll_s=self.retry_wait_s)
        if reason:
            raise CaseFailed(reason)

    async def _endpoints_from_pods(self, step: Mapping[str, Any]) -> None:
        namespace = str(step["namespace"])
        pods = self.backends.pods(namespace, str(step["deployment"]))
        if not pods:
            raise CaseFailed(f"no running pod of Deployment {namespace}/{step['deployment']}")
        for name in step["endpointSlices"]:
            obj = await self._live({"kind": "EndpointSlice", "namespace": namespace,
                                    "name": name})
            version = 6 if obj.get("addressType") == "IPv6" else 4
            family = [p for p in pods if ipaddress.ip_address(p.ip).version == version]
            if not family:
                continue
            obj["endpoints"] = [{
                "addresses": [p.ip], "nodeName": "standalone",
                "conditions": {"ready": True, "serving": True, "terminating": False},
                "targetRef": {"kind": "Pod", "namespace": p.namespace, "name": p.name},
            } for p in family]
            await self.replace(obj)

    async def _infrastructure_metadata(self, namespace: str, gateway: str) -> None:
        """See `supplements`: labelled objects carry the Gateway's infrastructure metadata."""
        gw = await self._live({"kind": "Gateway", "namespace": namespace, "name": gateway})
        infrastructure = (gw.get("spec") or {}).get("infrastructure") or {}
        found = []
        for kind in ("ServiceAccount", "Pod", "Service"):
            items = (await self.client.list(resource_class(by_kind(kind)), namespace=namespace,
                                            labels={GATEWAY_NAME_LABEL: gateway})).items
            if not items:
                continue
            found.append(kind)
            meta = items[0]["metadata"]
            for field in ("labels", "annotations"):
                have = meta.get(field) or {}
                missing = {k: v for k, v in (infrastructure.get(field) or {}).items()
                           if have.get(k) != v}
                if missing:
                    raise CaseFailed(f"{kind} {namespace}/{meta['name']} lacks the "
                                     f"infrastructure {field} {missing} (has {have})")
        if not found:
            raise CaseFailed(f"no ServiceAccount, Pod or Service in {namespace} is labelled "
                             f"{GATEWAY_NAME_LABEL}={gateway}")

    async def _live(self, step: Mapping[str, Any]) -> dict[str, Any]:
        obj = await self.get(str(step["kind"]), step.get("namespace"), str(step["name"]))
        if obj is None:
            raise CaseFailed(f"{step['kind']} {step.get('namespace')}/{step['name']} not found")
        return obj

    async def _expect_text(self, what: str, case: Case) -> None:
        if "generation" not in what or self._generation_before is None:
            raise CaseSkipped(f"expectation not understood: {what!r}")
        last = self._last_patched
        obj = await self._live(last)
        generation = int(obj["metadata"].get("generation") or 0)
        if generation == self._generation_before:
            raise CaseFailed(f"metadata.generation did not change ({generation})")
        if "observedGeneration" in what:
            reason = await status.wait({"kind": last["kind"], "namespace": last.get("namespace"),
                                        "name": last["name"], "conditions": {}},
                                       self.get, self.rewrite.controller_name,
                                       status.DEFAULT_TIMEOUT_S * self.timeout_scale)
            if reason:
                raise CaseFailed(reason)
