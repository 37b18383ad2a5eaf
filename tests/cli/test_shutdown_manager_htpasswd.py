"""The proxy pod's shutdown-manager sidecar (`propylon proxy-shutdown-manager wait`) serves
the htpasswd check service on 127.0.0.1 at the port the proxy's bootstrap names, until SIGTERM,
and then exits 0."""

from __future__ import annotations

import base64
import signal
import subprocess
import sys
from pathlib import Path

import grpc
from envoy.service.auth.v3 import external_auth_pb2 as pb
from envoy.service.auth.v3 import external_auth_pb2_grpc as pb_grpc

from propylon.htpasswd import service
from propylon.xds.bootstrap import bootstrap

BIN = Path(sys.executable).parent
USERS = "foo:$apr1$saltsalt$HZb7DO9JU4769Nu3n58bv.\n"


def _check(stub: pb_grpc.AuthorizationStub, password: str) -> pb.CheckResponse:
    token = base64.b64encode(f"foo:{password}".encode()).decode()
    request = pb.CheckRequest()
    request.attributes.context_extensions[service.USERS] = USERS
    request.attributes.context_extensions[service.FORWARD_USERNAME_HEADER] = "x-user"
    http = request.attributes.request.http
    http.host, http.path = "web", "/"
    http.headers["authorization"] = f"Basic {token}"
    return stub.Check(request, timeout=10, wait_for_ready=True)


def test_sidecar_serves_the_check_until_sigterm() -> None:
    clusters = bootstrap("ns/gw", "control-plane", 18000, 19000)["static_resources"]["clusters"]
    (htpasswd,) = [c for c in clusters if c["name"] == service.CLUSTER]
    address = htpasswd["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"][
        "address"]["socket_address"]
    assert (address["address"], address["port_value"]) == ("127.0.0.1", service.PORT)

    proc = subprocess.Popen([str(BIN / "propylon"), "proxy-shutdown-manager", "wait"])
    try:
        with grpc.insecure_channel(f"127.0.0.1:{service.PORT}") as channel:
            stub = pb_grpc.AuthorizationStub(channel)
            ok = _check(stub, "bar")
            assert ok.status.code == 0
            assert [(h.header.key, h.header.value) for h in ok.ok_response.headers] == [
                ("x-user", "foo")]
            assert _check(stub, "wrong").denied_response.status.code == 401
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
