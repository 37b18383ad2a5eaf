"""`propylon migrate`: Ingress files in, Gateway API YAML and a report out; its output is what
`propylon translate` (the controller's translation) accepts and Envoy serves."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from propylon.cli.main import main

INGRESS = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  namespace: web
  annotations:
    nginx.ingress.kubernetes.io/rewrite-target: /$1
    nginx.ingress.kubernetes.io/use-regex: "true"
    nginx.ingress.kubernetes.io/configuration-snippet: 'more_set_headers "X: y";'
spec:
  ingressClassName: nginx
  rules:
  - host: shop.example.com
    http:
      paths:
      - path: /api/(.*)
        pathType: ImplementationSpecific
        backend:
          service: {name: api, port: {number: 8080}}
"""
SERVING = """
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: propylon}
spec: {controllerName: propylon.dev/gateway-controller}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: web}
spec:
  ports: [{port: 8080}]
"""


def test_writes_resources_to_stdout_and_report_to_stderr(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ingress.yaml").write_text(INGRESS)
    assert main(["migrate", "-f", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    kinds = [(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(out)]
    assert kinds == [("Gateway", "ingress-nginx"), ("HTTPRouteFilter", "shop-rewrite-0"),
                     ("HTTPRoute", "shop-shop-example-com")]
    assert "| web/shop | `nginx.ingress.kubernetes.io/configuration-snippet` | refused |" in err
    assert "| web/shop | `nginx.ingress.kubernetes.io/rewrite-target` | converted |" in err


def test_output_dir_holds_one_file_per_object_and_the_report(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "ingress.yaml"
    source.write_text(INGRESS)
    out = tmp_path / "out"
    assert main(["migrate", "-f", str(source), "-o", str(out),
                 "--gateway-namespace", "edge"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "REPORT.md", "gateway-edge-ingress-nginx.yaml", "httproute-web-shop-shop-example-com.yaml",
        "httproutefilter-web-shop-rewrite-0.yaml"]
    route = yaml.safe_load((out / "httproute-web-shop-shop-example-com.yaml").read_text())
    assert route["spec"]["parentRefs"] == [
        {"name": "ingress-nginx", "namespace": "edge", "sectionName": "http"}]
    assert "1 refused" in (out / "REPORT.md").read_text()
    # the output, with a GatewayClass and the Service, is served as written
    (out / "serving.yaml").write_text(SERVING)
    assert main(["translate", "-f", str(out), "--check-with-envoy"]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    routes = [d for d in docs if d.get("kind") == "HTTPRoute"]
    conditions = {c["type"]: c["status"] for c in routes[0]["status"]["parents"][0]["conditions"]}
    assert conditions == {"Accepted": "True", "ResolvedRefs": "True"}
    hosts = next(d["virtual_hosts"] for d in docs if "virtual_hosts" in d)
    [route_entry] = next(h for h in hosts if h["domains"] == ["shop.example.com"])["routes"]
    assert route_entry["match"] == {"safeRegex": {"regex": "(?i)/api/(.*).*"}}
    assert route_entry["route"]["regexRewrite"] == {
        "pattern": {"regex": "(?i)^/api/(.*).*"}, "substitution": "/\\1"}


def test_unreadable_input_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yaml").write_text("kind: [")
    assert main(["migrate", "-f", str(tmp_path / "bad.yaml")]) == 1
    assert "bad.yaml" in capsys.readouterr().err


OPAQUE_TLS = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: site, namespace: web}
spec:
  ingressClassName: nginx
  tls: [{hosts: [site.example.com], secretName: site-cert}]
  rules:
  - host: site.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: api, port: {number: 8080}}}
---
apiVersion: v1
kind: Secret
metadata: {name: site-cert, namespace: web}
type: Opaque
stringData: {tls.crt: CERT, tls.key: KEY, other: kept-out}
"""


def test_an_opaque_tls_secret_is_served_from_a_typed_copy_written_private(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ingress-nginx serves any Secret with tls.crt and tls.key; a listener takes only
    kubernetes.io/tls ones, so migrate writes a typed copy, mode 0600, and says so."""
    source = tmp_path / "ingress.yaml"
    source.write_text(OPAQUE_TLS)
    out = tmp_path / "out"
    assert main(["migrate", "-f", str(source), "-o", str(out)]) == 0
    copy_path = out / "secret-web-site-cert-tls.yaml"
    assert copy_path.stat().st_mode & 0o777 == 0o600
    copy = yaml.safe_load(copy_path.read_text())
    assert copy["type"] == "kubernetes.io/tls"
    assert copy["stringData"] == {"tls.crt": "CERT", "tls.key": "KEY"}
    grant = yaml.safe_load((out / "referencegrant-web-ingress-nginx-secrets-default.yaml")
                           .read_text())
    assert grant["spec"]["to"] == [{"group": "", "kind": "Secret", "name": "site-cert-tls"}]
    gateway = yaml.safe_load((out / "gateway-default-ingress-nginx.yaml").read_text())
    [https] = [lis for lis in gateway["spec"]["listeners"] if lis["port"] == 443]
    assert https["tls"]["certificateRefs"] == [
        {"kind": "Secret", "name": "site-cert-tls", "namespace": "web"}]
    assert "secret-web-site-cert-tls.yaml: Secrets, written with mode 0600" in \
        capsys.readouterr().err
    assert "kubernetes.io/tls copy web/site-cert-tls" in (out / "REPORT.md").read_text()
