"""The replay of ingress-nginx's cases on a standalone stack, both ways.

Each case runs in a namespace of its own (`ingress-nginx-<N>`, as every Go `It` gets a fresh
one) with the backends it describes (`nginxcases.backend_objects`, played by `Backends`), its
objects with the placeholders filled in (`${ingressClass}`: the class the run serves,
`${namespace}`, `${gatewayIP}`: the one address the run's Gateways get, `${podIP:<service>}`:
the address that backend's first pod answers on, port 80), its described Secrets
made (`nginxcases.secret`) and its `ControllerConfig` as the data of the ingress-nginx
ConfigMap the controller reads. Then:

- served (default): the Ingress objects are applied as they are, and the controller serves them;
- `migrate`: the case's Ingress objects, with the IngressClass, go through the same conversion
  as `propylon migrate` (`propylon.ingress.convert`), and only its output is applied, with the
  case's other objects (Secrets, ConfigMaps).

Every wait is bounded and names what it awaited when it gives up: a case as a whole
(`CASE_TIMEOUT_S`: fails, naming the entry it was at), the gateway programmed
(`PROGRAMMED_TIMEOUT_S`), a request (`REQUEST_TIMEOUT_S`), a backend ready (`Backends`), and
a case's clean-up (`STOP_TIMEOUT_S`: the run ends, as later cases would meet its leftovers).
Before the first request and after every action the runner waits for the gateway's own state,
never by re-sending requests (the README): the controller idle (`Controller.wait_idle`), the
objects' status current (served: every Ingress has `status.loadBalancer.ingress`, which the
controller writes only once the Gateway serving it is programmed; migrated: every applied
object's conditions carry its generation), and every response the xDS server pushed to the
Gateway's Envoys acknowledged or refused. Then each entry runs once, in order: a request entry
(`repeat`, `concurrent`, `poll`) is checked by `nginxcheck`, `capture` saves values for later
entries; actions apply, update, scale (the running pods stay), delete a Deployment (its Service
stays, without endpoints), deploy a backend, or sleep. A case without any request cannot show
anything (the README's config-only cases whose backend cannot see the behaviour) and is
skipped, named; so is a case with a backend the runner does not play (`nginx-custom`). Afterwards the case's objects are deleted and its
backends stopped.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from propylon.client import KubeClient, KubeError, resource_class
from propylon.conformance import manifests, nginxcases, nginxcheck
from propylon.conformance.backends import Backends
from propylon.conformance.cases import Case
from propylon.conformance.matching import Response
from propylon.conformance.report import FAILED, SKIPPED, SUCCEEDED, CaseResult
from propylon.manifests import ObjectRef, object_ref

INGRESS_CLASS = "propylon"
INGRESS_CONTROLLER = "propylon.dev/ingress-controller"
CONFIGMAP_NAMESPACE, CONFIGMAP_NAME = "ingress-nginx", "ingress-nginx-controller"
REQUEST_TIMEOUT_S = 30.0
PROGRAMMED_TIMEOUT_S = 60.0
CASE_TIMEOUT_S = 300.0  # a whole case, its requests and actions included
STOP_TIMEOUT_S = 60.0  # a case's objects deleted and its backends stopped
POLL_S = 0.1
SETTLED_POLLS = 3  # consecutive polls with every xDS response answered


class CaseFailed(Exception):
    """A check of the case did not hold; the message is the reason."""


Convert = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


@dataclass
class NginxHarness:
    client: KubeClient
    backends: Backends
    gateway_ip: str
    # what the gateway's own state must show before requests are sent (see the docstring)
    idle: Callable[[], Awaitable[None]]
    xds_settled: Callable[[], bool]
    convert: Convert | None = None  # `--migrate`: Ingress objects -> what to apply instead
    # `--migrate`: the GatewayClass the converted Gateways name, as a user of migrate has one
    gateway_class: dict[str, Any] | None = None

    async def setup(self) -> None:
        await manifests.apply(self.client, [
            {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
             "metadata": {"name": INGRESS_CLASS}, "spec": {"controller": INGRESS_CONTROLLER}},
            {"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": CONFIGMAP_NAMESPACE}},
            *([self.gateway_class] if self.gateway_class else [])])

    async def run_case(self, case: nginxcases.NginxCase, index: int) -> CaseResult:
        result = Case(name=case.name, features=(), profiles={}, provisional=False, manifests=(),
                      gateway={}, source=case.source)
        if not nginxcases.observable(case):
            return CaseResult(result, SKIPPED, "not observable: the case sends no request")
        unplayed = nginxcases.unplayed(case)
        if unplayed:
            return CaseResult(result, SKIPPED, unplayed)
        run = _CaseRun(self, case, f"ingress-nginx-{index}")
        try:
            async with asyncio.timeout(CASE_TIMEOUT_S):
                await run.start()
                for number, entry in enumerate(case.entries, 1):
                    run.step = f"entry {number} ({entry.get('action') or 'request'})"
                    await run.entry(entry)
        except TimeoutError:
            return CaseResult(result, FAILED, f"the case did not finish within "
                                              f"{CASE_TIMEOUT_S:.0f}s: still at {run.step}")
        except CaseFailed as err:
            return CaseResult(result, FAILED, str(err))
        except nginxcases.Unplayable as err:
            return CaseResult(result, SKIPPED, str(err))
        except (manifests.ApplyError, ValueError, RuntimeError) as err:
            return CaseResult(result, FAILED, f"{type(err).__name__}: {err}")
        finally:
            try:
                async with asyncio.timeout(STOP_TIMEOUT_S):
                    await run.stop()
            except TimeoutError:  # the next case would meet what is left: the run ends
                raise RuntimeError(f"{case.name}: its objects were not deleted and its backends "
                                   f"not stopped within {STOP_TIMEOUT_S:.0f}s") from None
        return CaseResult(result, SUCCEEDED)

    async def wait_programmed(self, objects: Sequence[Mapping[str, Any]]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PROGRAMMED_TIMEOUT_S
        try:
            async with asyncio.timeout(PROGRAMMED_TIMEOUT_S):
                await self.idle()
        except TimeoutError:
            raise CaseFailed(f"the controller did not become idle (changes handled, statuses "
                             f"written) within {PROGRAMMED_TIMEOUT_S:.0f}s") from None
        settled = 0
        while settled < SETTLED_POLLS:
            reason = await self._not_current(objects)
            if reason is None and not self.xds_settled():
                reason = "the Gateway's Envoys have not answered every xDS push"
            settled = settled + 1 if reason is None else 0
            if reason and loop.time() > deadline:
                raise CaseFailed(f"not programmed within {PROGRAMMED_TIMEOUT_S:.0f}s: {reason}")
            await asyncio.sleep(POLL_S)

    async def _not_current(self, objects: Sequence[Mapping[str, Any]]) -> str | None:
        for obj in objects:
            ref = object_ref(dict(obj), "default")
            try:
                live = await self.client.get(resource_class(ref.info), ref.name,
                                             namespace=ref.namespace)
            except KubeError as err:
                return f"{ref.kind} {ref.namespace}/{ref.name}: {err}"
            reason = _status_reason(live, self.convert is None)
            if reason:
                return f"{ref.kind} {ref.namespace}/{ref.name}: {reason}"
        return None


def _status_reason(obj: Mapping[str, Any], served: bool) -> str | None:
    """Why the object's status does not yet show it programmed (None when it does)."""
    kind, status = obj.get("kind"), obj.get("status") or {}
    if kind == "Ingress":
        return None if (status.get("loadBalancer") or {}).get("ingress") else \
            "no status.loadBalancer.ingress yet"
    if served or kind not in _STATUS_KINDS:
        return None
    generation = int((obj.get("metadata") or {}).get("generation") or 0)
    groups = [status.get("conditions") or [],
              *((p.get("conditions") or []) for p in status.get("parents") or []),
              *((a.get("conditions") or []) for a in status.get("ancestors") or [])]
    conditions = [c for group in groups for c in group]
    if not conditions:
        return "no status conditions yet"
    stale = [c for c in conditions if c.get("observedGeneration") != generation]
    if stale:
        return f"condition {stale[0].get('type')} is of generation " \
               f"{stale[0].get('observedGeneration')}, not {generation}"
    if kind == "Gateway" and not any(c.get("type") == "Programmed" and c.get("status") == "True"
                                     for c in status.get("conditions") or []):
        return "not Programmed"
    return None


_STATUS_KINDS = ("Gateway", "HTTPRoute", "GRPCRoute", "SecurityPolicy", "BackendTrafficPolicy",
                 "ClientTrafficPolicy")


class _CaseRun:
    """One case's objects, backends and captured values."""

    def __init__(self, harness: NginxHarness, case: nginxcases.NginxCase, namespace: str) -> None:
        self.h = harness
        self.case = case
        self.namespace = namespace
        self.variables = {"ingressClass": INGRESS_CLASS, "namespace": namespace,
                          "gatewayIP": harness.gateway_ip}
        self.applied: list[ObjectRef] = []
        self.ingresses: dict[str, dict[str, Any]] = {}  # the case's Ingresses, by name
        self.others: list[dict[str, Any]] = []  # the case's other objects
        self.shown: list[dict[str, Any]] = []  # the objects whose status shows them served
        self.captured: dict[str, str] = {}
        self.deployed: dict[str, str] = {}  # backends `deployBackend` added: name -> image
        self.step = "the start (backends, objects applied and programmed)"  # for a timeout

    async def start(self) -> None:
        await self._apply([{"apiVersion": "v1", "kind": "Namespace",
                            "metadata": {"name": self.namespace}}])
        await self._deploy(nginxcases.backend_objects(self.case, self.namespace))
        for raw in nginxcases.with_trusted_client_ip(self.case):
            self._take(nginxcases.substitute(raw, self.variables))
        await self._publish()

    def _take(self, obj: Mapping[str, Any]) -> None:
        """Note an object of the case (as it is now) for `_publish`."""
        kind = obj.get("kind")
        if kind == "Secret" and "contents" in obj:
            self.others.append(nginxcases.secret(obj, self.namespace))
        elif kind == "ControllerConfig":
            self.others.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
                "namespace": CONFIGMAP_NAMESPACE, "name": CONFIGMAP_NAME},
                "data": {str(k): str(v) for k, v in (obj.get("data") or {}).items()}})
        else:
            full = {**obj, "metadata": {**obj["metadata"], "namespace": self.namespace}}
            if kind == "Ingress":
                self.ingresses[str(obj["metadata"]["name"])] = full
            else:
                self.others = [o for o in self.others if object_ref(o, "") !=
                               object_ref(full, "")] + [full]

    async def _publish(self) -> None:
        """Apply the case's objects as they are now (served, or converted), then wait."""
        ingresses = list(self.ingresses.values())
        if self.h.convert is None:
            await self._apply([*self.others, *ingresses])
            self.shown = ingresses
        else:
            converted = self.h.convert([*self.others, *ingresses])
            await self._apply([*self.others, *converted])
            self.shown = converted
        await self.h.wait_programmed(self.shown)

    async def _apply(self, objects: Sequence[dict[str, Any]]) -> None:
        for ref in await manifests.apply(self.h.client, objects):
            if ref not in self.applied:
                self.applied.append(ref)

    async def _deploy(self, objects: list[dict[str, Any]]) -> None:
        await self._apply(objects)
        await self.h.backends.sync(objects)
        for obj in objects:  # `${podIP:<service>}`: where that backend's (first) pod answers
            pods = self.h.backends.pods(self.namespace, obj["metadata"]["name"])
            if obj["kind"] == "Deployment" and pods:
                self.variables[f"podIP:{obj['metadata']['name']}"] = pods[0].ip

    async def stop(self) -> None:
        for name in [*self.case.backend, *self.deployed]:
            await self.h.backends.stop(self.namespace, name)
        await manifests.delete_all(self.h.client, self.applied)

    # -- entries -------------------------------------------------------------------------

    async def entry(self, entry: Mapping[str, Any]) -> None:
        if "action" in entry:
            await self.action(entry)
            return
        variables = {**self.variables, **self.captured}
        request = nginxcases.substitute(entry["request"], variables)
        # cookie dates are those of the moment the request is sent
        expect = nginxcases.substitute(entry.get("expect") or {}, variables,
                                       datetime.datetime.now(datetime.UTC))
        label = f"{request.get('method', 'GET')} {request.get('host', '')}{request.get('path', '/')}"
        if entry.get("poll"):
            responses = [await self._poll(request, entry["poll"])]
        elif entry.get("concurrent"):
            responses = list(await asyncio.gather(*(
                self.send(request) for _ in range(int(entry["concurrent"])))))
        else:
            responses = [await self.send(request) for _ in range(int(entry.get("repeat", 1)))]
        for response in responses:
            reason = nginxcheck.check(expect, response, self.captured)
            if reason:
                raise CaseFailed(f"{label}: {reason}")
        if entry.get("counts"):
            reason = nginxcheck.check_counts(entry["counts"], responses)
            if reason:
                raise CaseFailed(f"{label}: {reason}")
        self._capture(entry.get("capture") or {}, responses[-1], label)

    async def _poll(self, request: Mapping[str, Any], poll: Mapping[str, Any]) -> Response:
        response = await self.send(request)
        for _ in range(int(poll.get("maxTries", 0))):
            if response.status != int(poll.get("untilStatusNot", 0)):
                break
            await asyncio.sleep(float(poll.get("intervalSeconds", 1)))
            response = await self.send(request)
        return response

    def _capture(self, capture: Mapping[str, Any], response: Response, label: str) -> None:
        if "cookie" in capture:
            value = next((v.split(";", 1)[0].split("=", 1)[1]
                          for v in response.header_values("set-cookie")
                          if v.split("=", 1)[0].strip() == capture["cookie"]), None)
            if value is None:
                raise CaseFailed(f"{label}: no cookie {capture['cookie']} in the response")
            self.captured[str(capture["as"])] = value
        if "podName" in capture:
            self.captured[str(capture["podName"])] = nginxcheck.pod_of(response)
        if "setCookie" in capture:
            values = response.header_values("set-cookie")
            self.captured[str(capture["setCookie"])] = values[0] if values else ""

    async def send(self, request: Mapping[str, Any]) -> Response:
        https = request.get("scheme") == "https"
        path = nginxcases.substitute(str(request.get("path") or "/"), {},
                                     datetime.datetime.now(datetime.UTC))
        url = URL(f"{'https' if https else 'http'}://{self.h.gateway_ip}:"
                  f"{443 if https else 80}{path}", encoded=True)
        headers = {str(k): str(v) for k, v in (request.get("headers") or {}).items()}
        if request.get("host"):
            headers["Host"] = str(request["host"])
        cookies = {str(k): str(v) for k, v in (request.get("cookies") or {}).items()}
        if request.get("cookiesFromSetCookie"):
            saved = self.captured.get(str(request["cookiesFromSetCookie"]), "")
            cookies.update(dict(p.strip().split("=", 1) for p in saved.split(";") if "=" in p))
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        if request.get("basicAuth"):
            auth = request["basicAuth"]
            token = base64.b64encode(f"{auth['user']}:{auth['password']}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        if request.get("clientIP") and not any(k.lower() == "x-forwarded-for" for k in headers):
            headers["X-Forwarded-For"] = str(request["clientIP"])
        headers = nginxcases.substitute(headers, {}, datetime.datetime.now(datetime.UTC))
        kwargs: dict[str, Any] = {}
        if https:
            kwargs["ssl"] = False
            kwargs["server_hostname"] = request.get("sni") or request.get("host")
        body = b"x" * int(request["bodyBytes"]) if request.get("bodyBytes") else None
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        connector = aiohttp.TCPConnector(force_close=True)
        try:
            async with aiohttp.ClientSession(connector=connector, timeout=timeout,
                                             auto_decompress=False,
                                             skip_auto_headers=("User-Agent",)) as session, \
                    session.request(str(request.get("method") or "GET"), url, headers=headers,
                                    data=body, allow_redirects=False, **kwargs) as resp:
                return Response(resp.status, list(resp.headers.items()), await resp.read())
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            raise CaseFailed(f"{request.get('host', '')}{path}: {type(err).__name__}: {err}") \
                from None

    # -- actions -------------------------------------------------------------------------

    async def action(self, entry: Mapping[str, Any]) -> None:
        action = entry["action"]
        if action in ("apply", "update"):
            self._take(nginxcases.substitute(entry["object"], self.variables))
            await self._publish()
        elif action == "sleep":
            await asyncio.sleep(float(entry["seconds"]))
        elif action == "deployBackend":
            name = str(entry["name"])
            self.deployed[name] = str(entry.get("image", "echo"))
            await self._deploy(self._backend(name, 1))
            await self.h.wait_programmed(self.shown)
        elif action == "scale":
            name = str(entry["deployment"])
            objects = self._backend(name, int(entry["replicas"]))
            await self._apply(objects)
            await self.h.backends.scale(objects[0])
            await self.h.backends.sync(objects)  # ready, and the EndpointSlice updated
            await self.h.wait_programmed(self.shown)
        elif action == "deleteDeployment":
            name = str(entry["name"])
            deployment, service = self._backend(name, 0)
            await manifests.delete_all(self.h.client, [object_ref(deployment, "")])
            await self.h.backends.stop(self.namespace, name)
            await self.h.backends.sync([service])  # the Service stays, without endpoints
            await self.h.wait_programmed(self.shown)
        else:
            raise CaseFailed(f"action not understood: {dict(entry)}")

    def _backend(self, name: str, replicas: int) -> list[dict[str, Any]]:
        """The Deployment and Service of backend `name` with `replicas`."""
        image = self.deployed.get(name) or str((self.case.backend.get(name) or {}).get("image",
                                                                                      "echo"))
        case = nginxcases.NginxCase(name, (), {name: {"image": image, "replicas": replicas}}, ())
        return nginxcases.backend_objects(case, self.namespace)

