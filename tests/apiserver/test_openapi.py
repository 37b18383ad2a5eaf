"""OpenAPI documents with schemas and descriptions: `kubectl explain` at every depth for the
Gateway API kinds (their CRD schemas from ../shared), the built-in kinds (Kubernetes' own
schemas) and an applied CRD; `--validate=strict` refusing unknown fields of a built-in kind;
the documents served once per catalog change with an ETag. Each kubectl check runs with the
wheel's kubectl (1.37) and with /usr/bin/kubectl (1.32) when the machine has it. The expected
texts are what kubectl prints against a cluster with the same CRDs and Kubernetes version."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from propylon.apiserver.process import APIServerProcess
from propylon.shared_data import ENV

from .conftest import KUBECTL, Client, Kubectl

SYSTEM_KUBECTL = Path("/usr/bin/kubectl")
BINARIES = [KUBECTL, *([SYSTEM_KUBECTL] if SYSTEM_KUBECTL.exists() else [])]


@pytest.fixture(params=BINARIES, ids=lambda p: str(p))
def any_kubectl(request: pytest.FixtureRequest, kubectl: Kubectl,
                monkeypatch: pytest.MonkeyPatch) -> Kubectl:
    """The `kubectl` fixture run with each kubectl binary in turn."""
    binary = request.param
    monkeypatch.setattr(Kubectl, "argv", lambda self, *args: [
        str(binary), "--kubeconfig", str(self.server.kubeconfig_path),
        "--cache-dir", str(self.cache_dir), *args])
    return kubectl


def head(text: str, lines: int) -> list[str]:
    return text.split("\n")[:lines]


async def test_explain_gateway_api_fields_at_every_depth(any_kubectl: Kubectl) -> None:
    path = await any_kubectl.ok("explain", "httproute.spec.rules.matches.path")
    assert head(path, 11) == [
        "GROUP:      gateway.networking.k8s.io",
        "KIND:       HTTPRoute",
        "VERSION:    v1",
        "",
        "FIELD: path <Object>",
        "",
        "",
        "DESCRIPTION:",
        "    Path specifies a HTTP request path matcher. If this field is not",
        '    specified, a default prefix match on the "/" path is provided.',
        "    "]
    assert "  type\t<string>\n  enum: Exact, PathPrefix, RegularExpression\n" in path
    assert "  value\t<string>\n    Value of the HTTP path to match against.\n" in path

    spec = await any_kubectl.ok("explain", "httproute.spec")
    assert "    Spec defines the desired state of HTTPRoute.\n" in spec
    assert "  hostnames\t<[]string>\n" in spec and "  rules\t<[]Object>\n" in spec

    tls = await any_kubectl.ok("explain", "gateway.spec.listeners.tls")
    assert "FIELD: tls <Object>\n" in tls
    assert "  certificateRefs\t<[]Object>\n    CertificateRefs contains a series of" in tls
    assert "  mode\t<string>\n  enum: Terminate, Passthrough\n" in tls

    listeners = await any_kubectl.ok("explain", "gateway.spec.listeners")
    assert "FIELD: listeners <[]Object>\n" in listeners
    assert "  port\t<integer> -required-\n" in listeners

    # metadata is ObjectMeta, as apiextensions publishes it for every CRD
    name = await any_kubectl.ok("explain", "gateway.metadata.name")
    assert "FIELD: name <string>\n" in name
    assert "    Name must be unique within a namespace." in name


async def test_explain_recursive_lists_nested_fields(any_kubectl: Kubectl) -> None:
    out = await any_kubectl.ok("explain", "gateway.spec", "--recursive")
    assert "  gatewayClassName\t<string> -required-\n" in out
    assert ("  listeners\t<[]Object> -required-\n"
            "    allowedRoutes\t<Object>\n"
            "      kinds\t<[]Object>\n"
            "        group\t<string>\n"
            "        kind\t<string> -required-\n") in out
    assert "    tls\t<Object>\n      certificateRefs\t<[]Object>\n" in out


async def test_explain_builtin_kinds(any_kubectl: Kubectl) -> None:
    pod = await any_kubectl.ok("explain", "pod")
    assert head(pod, 7) == [
        "KIND:       Pod",
        "VERSION:    v1",
        "",
        "DESCRIPTION:",
        "    Pod is a collection of containers that can run on a host. This resource is",
        "    created by clients and scheduled onto hosts.",
        "    "]
    assert "  metadata\t<ObjectMeta>\n    Standard object's metadata." in pod
    assert "  spec\t<PodSpec>\n    Specification of the desired behavior of the pod." in pod

    port = await any_kubectl.ok("explain", "svc.spec.ports.targetPort")
    assert head(port, 5) == ["KIND:       Service", "VERSION:    v1", "",
                             "FIELD: targetPort <IntOrString>", ""]
    assert "Number or name of the port to access on the pods targeted by the service." \
        in port.replace("\n    ", " ")

    deploy = await any_kubectl.ok("explain", "deploy.spec", "--recursive")
    assert head(deploy, 4) == ["GROUP:      apps", "KIND:       Deployment", "VERSION:    v1", ""]
    assert "  selector\t<LabelSelector> -required-\n" in deploy
    assert "  template\t<PodTemplateSpec> -required-\n    metadata\t<ObjectMeta>\n" in deploy
    assert "\n        image\t<string>\n" in deploy  # template.spec.containers.image

    slice_ = await any_kubectl.ok("explain", "endpointslice.endpoints.conditions.ready")
    assert "FIELD: ready <boolean>\n" in slice_


async def test_explain_applied_crd_kind(any_kubectl: Kubectl, tmp_path: Path) -> None:
    crd = tmp_path / "crd.yaml"
    crd.write_text("""
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.dev}
spec:
  group: example.dev
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        description: A widget of the example shop.
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, description: "How big the widget is, in cm."}
""")
    await any_kubectl.ok("apply", "-f", str(crd))
    out = await any_kubectl.ok("explain", "widget.spec.size")
    assert head(out, 9) == [
        "GROUP:      example.dev", "KIND:       Widget", "VERSION:    v1", "",
        "FIELD: size <integer>", "", "", "DESCRIPTION:", "    How big the widget is, in cm."]


POD = """
apiVersion: v1
kind: Pod
metadata: {name: p1}
spec:
  colour: red
  containers:
  - {name: c, image: busybox, bogus: 1}
"""


async def test_validate_strict_refuses_unknown_fields_of_builtin_kinds(
        any_kubectl: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(POD)
    rc, _, err = await any_kubectl("apply", "-f", str(manifest))
    assert rc == 1
    assert err.strip() == (
        f'Error from server (BadRequest): error when creating "{manifest}": Pod in version "v1" '
        'cannot be handled as a Pod: strict decoding error: unknown field "spec.colour", '
        'unknown field "spec.containers[0].bogus"')
    rc, out, err = await any_kubectl("apply", "--validate=warn", "-f", str(manifest))
    assert rc == 0 and out.strip() == "pod/p1 created"
    assert 'Warning: unknown field "spec.colour"' in err
    stored = json.loads(await any_kubectl.ok("get", "pod", "p1", "-o", "json"))
    assert stored["spec"]["containers"] == [  # pruned, then defaulted
        {"name": "c", "image": "busybox", "imagePullPolicy": "Always",
         "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}]
    assert "colour" not in stored["spec"]


async def test_apply_of_builtin_kinds_patches_by_the_published_merge_keys(
        any_kubectl: Kubectl, tmp_path: Path) -> None:
    """kubectl computes a Service's strategic merge patch from the published schema."""
    manifest = tmp_path / "svc.yaml"
    svc = ("apiVersion: v1\nkind: Service\nmetadata: {name: s1}\nspec:\n  ports:\n"
           "  - {name: http, port: 80}\n  - {name: https, port: 443}\n")
    manifest.write_text(svc)
    await any_kubectl.ok("apply", "-f", str(manifest))
    manifest.write_text(svc.replace("port: 80}", "port: 8080}"))
    assert (await any_kubectl.ok("apply", "-f", str(manifest))).strip() == "service/s1 configured"
    stored = json.loads(await any_kubectl.ok("get", "svc", "s1", "-o", "json"))
    assert [(p["name"], p["port"]) for p in stored["spec"]["ports"]] == \
        [("http", 8080), ("https", 443)]


async def test_documents_are_cached_with_an_etag_until_the_kinds_change(client: Client) -> None:
    status, root, _ = await client.request("GET", "/openapi/v3")
    assert status == 200
    url = root["paths"]["api/v1"]["serverRelativeURL"]
    status, doc, resp = await client.request("GET", url)
    assert status == 200
    etag = resp.headers["ETag"]
    assert etag == f'"{url.rpartition("hash=")[2]}"'
    pod = doc["components"]["schemas"]["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "version": "v1",
                                                        "kind": "Pod"}]
    assert pod["properties"]["spec"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"}]
    assert "io.k8s.api.core.v1.Container" in doc["components"]["schemas"]
    status, body, _ = await client.request("GET", url, headers={"If-None-Match": etag})
    assert (status, body) == (304, "")

    assert "apis/example.dev/v1" not in root["paths"]
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.dev"},
           "spec": {"group": "example.dev", "scope": "Namespaced",
                    "names": {"kind": "Widget", "plural": "widgets"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {"type": "object"}}}]}}
    status, _, _ = await client.request(
        "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    assert status == 201
    _, root, _ = await client.request("GET", "/openapi/v3")
    assert "apis/example.dev/v1" in root["paths"]


async def test_openapi_v2_holds_the_same_schemas(client: Client) -> None:
    status, doc, _ = await client.request("GET", "/openapi/v2",
                                          headers={"Accept": "application/json"})
    assert status == 200 and doc["swagger"] == "2.0"
    pod = doc["definitions"]["io.k8s.api.core.v1.Pod"]
    assert pod["properties"]["spec"]["$ref"] == "#/definitions/io.k8s.api.core.v1.PodSpec"
    assert doc["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] \
        == "int-or-string"
    gateway = doc["definitions"]["io.k8s.networking.gateway.v1.Gateway"]
    assert "listeners" in gateway["properties"]["spec"]["properties"]
    patch = doc["paths"]["/apis/gateway.networking.k8s.io/v1/namespaces/{namespace}/gateways/{name}"]["patch"]
    assert {"name": "fieldValidation", "in": "query", "required": False, "uniqueItems": True,
            "type": "string"} in patch["parameters"]
    status, _, resp = await client.request(
        "GET", "/openapi/v2", headers={"Accept": "application/vnd.kubernetes.protobuf"})
    assert status == 406


async def test_without_shared_data_explain_lists_the_validated_fields(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    """With no ../shared, the Gateway API kinds are explained from the schema Propylon
    validates with (no descriptions), and the log says which file is missing."""
    empty = tmp_path / "no-shared"
    empty.mkdir()
    monkeypatch.setenv(ENV, str(empty))
    server = APIServerProcess(tmp_path / "state")
    await server.start()
    try:
        proc = await asyncio.create_subprocess_exec(
            str(KUBECTL), "--kubeconfig", str(server.kubeconfig_path), "--cache-dir",
            str(tmp_path / "cache"), "explain", "gateway.spec.listeners",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ})
        out, err = await proc.communicate()
    finally:
        await server.stop()
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    assert "FIELD: listeners <[]Object>\n" in text
    assert "  port\t<integer> -required-\n    <no description>\n" in text
    assert "  protocol\t<string> -required-\n" in text
    logged = capfd.readouterr().err
    assert "standard-install.yaml is missing: `kubectl explain` shows the kinds it defines " \
           "without descriptions" in logged


async def test_explain_from_openapi_v2_protobuf(any_kubectl: Kubectl) -> None:
    """`--output plaintext-openapiv2` reads /openapi/v2 as protobuf: the older layout."""
    pod = await any_kubectl.ok("explain", "pod", "--output=plaintext-openapiv2")
    assert head(pod, 9) == [
        "KIND:     Pod", "VERSION:  v1", "", "DESCRIPTION:",
        "     Pod is a collection of containers that can run on a host. This resource is",
        "     created by clients and scheduled onto hosts.", "", "FIELDS:",
        "   apiVersion\t<string>"]
    path = await any_kubectl.ok("explain", "httproute.spec.rules.matches.path",
                                "--output=plaintext-openapiv2")
    assert head(path, 4) == ["KIND:     HTTPRoute", "VERSION:  gateway.networking.k8s.io/v1",
                             "", "RESOURCE: path <Object>"]
    assert "   value\t<string>\n     Value of the HTTP path to match against.\n" in path
    ports = await any_kubectl.ok("explain", "svc.spec.ports", "--recursive",
                                 "--output=plaintext-openapiv2")
    # v2 has IntOrString as a string, as kube-apiserver's v2
    assert "   port\t<integer>\n   protocol\t<string>\n   targetPort\t<string>\n" in ports
