"""The controller's requests stay within the RBAC rules `deploy/` grants.

The API server records every resource request it serves (`--audit-log`); the controller runs the
walkthrough (proxies created, status written, certificates issued to the pod's xDS agent for
its ServiceAccount token, leader elected, a Gateway deleted, a clean stop releasing the Lease);
then each request of the controller (kubectl's and the played kubelet's are told apart by their
User-Agent) must be allowed by the ClusterRole, or in the controller's
namespace by the Role, that `kubectl kustomize deploy/` renders. The controller logs JSON
(`--log-format json`): every line is one object, and no key or certificate appears in them.
"""

from __future__ import annotations

import base64
import json
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import wait_for
from tests.k8s.conftest import KUBELET_AGENT, NAME, QUICKSTART, Cluster, mount_proxy_files
from tests.k8s.test_deploy import rendered

pytestmark = pytest.mark.e2e


def allows(rules: list[dict[str, Any]], request: dict[str, str]) -> bool:
    resource = request["resource"] + (f"/{request['subresource']}"
                                      if request["subresource"] else "")
    return any(request["group"] in rule.get("apiGroups", ())
               and resource in rule.get("resources", ())
               and request["verb"] in rule.get("verbs", ())
               and (not rule.get("resourceNames") or request["name"] in rule["resourceNames"])
               for rule in rules)


def test_the_controller_needs_no_more_than_deploy_grants(cluster: Cluster,
                                                        tmp_path: Path) -> None:
    docs = rendered()
    [cluster_role] = [d for d in docs if d["kind"] == "ClusterRole"]
    [role] = [d for d in docs if d["kind"] == "Role"]
    namespace = role["metadata"]["namespace"]

    cluster.install()
    controller, _ = cluster.controller("controller", "--log-format", "json")
    cluster.kubectl("apply", "-f", str(QUICKSTART / "gatewayclass.yaml"),
                    "-f", str(QUICKSTART / "gateway.yaml"), "-f", str(QUICKSTART / "app.yaml"))
    wait_for("the proxy Deployment", lambda: cluster.get("deployment", NAME))
    root = tmp_path / "etc-propylon"
    mount_proxy_files(cluster, root)  # the pod's agent obtains its certificate
    issued = {name: (root / "xds-tls" / name).read_bytes() for name in ("tls.crt", "tls.key")}
    wait_for("the route's status", lambda: cluster.get("httproute", "host-route").get(
        "status", {}).get("parents"))
    cluster.kubectl("delete", "gateway", "api-gateway")
    wait_for("the proxies removed", lambda: not cluster.kubectl(
        "get", "deployment", NAME, "--ignore-not-found", "-o", "name").strip())
    controller.send_signal(signal.SIGTERM)
    assert controller.wait(timeout=30) == 0

    lines = (cluster.tmp / "controller.log").read_text().splitlines()
    logs = [json.loads(line) for line in lines]
    assert {"time", "level", "logger", "message"} <= logs[0].keys()
    assert any("status written kind=Gateway" in entry["message"] for entry in logs)
    ca = cluster.get("secret", "propylon-xds-ca", "-n", "propylon-system")
    for pem in (*issued.values(), *map(base64.b64decode, ca["data"].values())):
        assert base64.b64encode(pem).decode() not in "\n".join(lines)
        assert pem.decode().splitlines()[1] not in "\n".join(lines)

    requests = [r for r in map(json.loads, cluster.audit_log.read_text().splitlines())
                if not r["user_agent"].startswith("kubectl/") and r["user_agent"] != KUBELET_AGENT]
    verbs = {(r["verb"], r["resource"], r["subresource"]) for r in requests}
    for expected in [("watch", "gateways", ""), ("update", "gateways", "status"),
                     ("patch", "deployments", ""), ("delete", "services", ""),
                     ("create", "secrets", ""), ("update", "leases", ""),
                     ("create", "tokenreviews", "")]:
        assert expected in verbs, expected
    denied = sorted({json.dumps({k: v for k, v in r.items() if k != "user_agent"})
                     for r in requests
                     if not allows(cluster_role["rules"], r)
                     and not (r["namespace"] == namespace and allows(role["rules"], r))})
    assert not denied, "\n".join(denied)
