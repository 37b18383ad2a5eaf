"""Ingress objects applied with kubectl are served by real Envoy through their conversion.

Real `propylon up --ingress-class-nginx`, real kubectl, real Envoy, the echo backend: an Ingress
of class `nginx` with `app-root` is served on port 80 of the Gateway the conversion makes
(nothing of which is stored), its `status.loadBalancer.ingress` names that address once Envoy
serves it (`kubectl get ingress` shows it), and an annotation the conversion refuses is logged
with the Ingress and the annotation's name.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from .conftest import Standalone, wait_for
from .test_envoy_refusals import _apply, _backend, _free_port, _own_address
from .test_walkthrough import http_get

pytestmark = pytest.mark.e2e

HOST = "ingress.example"
PORT = 80 if os.geteuid() == 0 else 10080  # the host infrastructure's privileged port offset


def _ingress(**annotations: str) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "default",
                         "annotations": {f"nginx.ingress.kubernetes.io/{k}": v
                                         for k, v in annotations.items()}},
            "spec": {"ingressClassName": "nginx", "rules": [{"host": HOST, "http": {"paths": [
                {"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": "echo", "port": {"number": 80}}}}]}}]}}


def _address(sa: Standalone) -> str:
    status = sa.get_json("ingress", "web").get("status") or {}
    return "".join(i.get("ip", "") for i in (status.get("loadBalancer") or {}).get("ingress") or [])


def test_an_ingress_is_served_with_its_annotations_and_status(standalone: Standalone) -> None:
    address, echo_port = _own_address((80, 443, 10080, 10443)), _free_port()
    standalone.start("--address-pool", f"{address}-{address}", "--echo", f"127.0.0.1:{echo_port}",
                     "--ingress-class-nginx")
    service_and_slice = [o for o in _backend(echo_port) if o["kind"] != "GatewayClass"]
    _apply(standalone, *service_and_slice,
           _ingress(**{"app-root": "/app", "configuration-snippet": "return 200;"}))
    assert wait_for("the Ingress status to name the Gateway address",
                    lambda: _address(standalone)) == address
    assert http_get(address, PORT, HOST, "/")[0] == 302  # app-root redirects "/"
    status, body = http_get(address, PORT, HOST, "/app")
    assert status == 200 and b"/app" in body  # the echo's report of the path it received
    assert address in standalone.kubectl("get", "ingress", "web").stdout
    assert standalone.get_json("gateways", "-A")["items"] == []  # the conversion is not stored
    wait_for("the refused annotation to be logged", lambda: "Ingress default/web: "
             "nginx.ingress.kubernetes.io/configuration-snippet refused" in standalone.log_tail(400))

    _apply(standalone, _ingress())  # the annotations removed: "/" is proxied
    wait_for("the update to be served", lambda: http_get(address, PORT, HOST, "/")[0] == 200)
