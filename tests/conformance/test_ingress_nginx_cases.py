"""ingress-nginx's cases through the runner: the pure parts (loading, placeholders, Secrets,
checks of responses) and real runs of a few cases both ways (Ingress served directly, and
converted with --migrate) through standalone Propylon, real Envoy and the backends it plays."""

from __future__ import annotations

import asyncio
import datetime
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from propylon.conformance import nginxcases, nginxcheck, nginxrunner
from propylon.conformance.matching import Response
from tests.conformance.sigterm import check_sigterm_stops_the_run, descendants, runs_envoy
from tests.shared_data import shared

ECHO_BODY = (b"Hostname: echo-5b9c0d1e2f-ab120\n\nRequest Information:\n\treal path=/new/backend\n"
             b"\n\nRequest Headers:\n\thost=rewrite.bar.com\n\tx-forwarded-prefix=/test\n"
             b"\nRequest Body:\n\t-no body in request-\n")


def test_the_folder_is_recognised_and_cases_without_requests_are_not_observable() -> None:
    folder = shared("ingress-nginx", "cases")
    assert nginxcases.is_suite(folder)
    assert not nginxcases.is_suite(shared("conformance", "cases"))
    cases = {c.name: c for c in nginxcases.load(folder)}
    assert len(cases) == 77
    assert not nginxcases.observable(cases["BackendProtocolShouldSetBackendProtocolToGrpcAndUseGrpcPass"])
    canary = cases["CanaryWhenCanaryIsCreatedShouldRouteRequestsToTheCorrectUpstreamIfTheMainlineIngressIsModified"]
    assert nginxcases.observable(canary)
    assert dict(canary.backend) == {"httpbun": {"image": "httpbun", "replicas": 1},
                                    "httpbun-canary": {"image": "httpbun", "replicas": 1}}
    kinds = [o["kind"] for o in nginxcases.backend_objects(canary, "ns")]
    assert kinds == ["Deployment", "Service", "Deployment", "Service"]


def test_a_client_address_is_presented_through_trusted_forwarded_headers() -> None:
    cases = {c.name: c for c in nginxcases.load(shared("ingress-nginx", "cases"))}
    allowlist = cases["AllowlistSourceRangeShouldSetValidIpAllowlistRange"]
    [config] = [o for o in nginxcases.with_trusted_client_ip(allowlist)
                if o["kind"] == "ControllerConfig"]
    assert config["data"] == {"use-forwarded-headers": "true"}
    approot = cases["AppRootShouldRedirectToFoo"]
    assert nginxcases.with_trusted_client_ip(approot) == approot.objects


def test_placeholders_and_cookie_dates() -> None:
    now = datetime.datetime(2026, 3, 20, 2, 50, 31, tzinfo=datetime.UTC)
    value = {"host": "${gatewayIP}.nip.io", "h": ["${ingressClass}", "${kept}"],
             "d": "expires=${cookieDate:now+60s}"}
    assert nginxcases.substitute(value, {"gatewayIP": "127.2.10.200", "ingressClass": "p"},
                                 now) == {"host": "127.2.10.200.nip.io", "h": ["p", "${kept}"],
                                          "d": "expires=Fri, 20-Mar-26 02:51"}


def test_described_secrets_are_made_as_the_tests_make_them() -> None:
    htpasswd = nginxcases.secret_data("key `auth`: one htpasswd line for user foo with password "
                                      "bar (bcrypt, cost 14), newline-terminated")["auth"]
    user, hashed = htpasswd.decode().rstrip("\n").split(":", 1)
    assert user == "foo" and hashed.startswith("$2b$14$") and htpasswd.endswith(b"\n")
    assert nginxcases.secret_data('key `auth` with the malformed htpasswd content "foo:" (user '
                                  'foo, empty hash)') == {"auth": b"foo:"}
    mapped = nginxcases.secret_data("key `foo` (the user name) whose value is the bcrypt hash "
                                    "(cost 14) of password bar; no `auth` key")
    assert list(mapped) == ["foo"] and mapped["foo"].startswith(b"$2b$14$")
    tls = nginxcases.secret_data('keys tls.crt and tls.key: a self-signed RSA-2048 certificate '
                                 '(CN "default") whose DNS SANs are both TLS hosts, '
                                 '127.2.10.200.nip.io and www.127.2.10.200.nip.io; the Secret')
    assert x509.load_pem_x509_certificate(tls["tls.crt"]).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == [
        "127.2.10.200.nip.io", "www.127.2.10.200.nip.io"]
    with pytest.raises(nginxcases.Unplayable, match="not understood"):
        nginxcases.secret_data("something else")


def test_checks_read_the_echo_body_and_the_answering_pod() -> None:
    echo = Response(200, [("Set-Cookie", "route=abc; Path=/")], ECHO_BODY)
    sees = {"backendSees": {"path": "/new/backend", "host": "rewrite.bar.com",
                            "headers": {"X-Forwarded-Prefix": "/test"}}}
    assert nginxcheck.check({"status": 200, "servedBy": "echo", **sees}, echo, {}) is None
    assert "path" in (nginxcheck.check({"backendSees": {"path": "/other"}}, echo, {}) or "")
    assert nginxcheck.check({"servedBy": "httpbun"}, echo, {}) is not None
    assert nginxcheck.check({"absentCookies": ["route"]}, echo, {}) is not None
    assert nginxcheck.check({"headersContain": {"Set-Cookie": ["Path=/"]}}, echo, {}) is None
    # `${pod}` is replaced by the saved pod's name before the check; a bare variable name works
    assert nginxcheck.check({"samePodAs": "echo-5b9c0d1e2f-ab120"}, echo, {}) is None
    assert nginxcheck.check({"samePodAs": "pod"}, echo, {"pod": "echo-5b9c0d1e2f-ab120"}) is None
    assert nginxcheck.check({"differentPodFrom": "echo-5b9c0d1e2f-ab120"}, echo, {}) is not None
    bun = Response(200, [], b'{"hostname": "httpbun-canary-0a1b2c3d4e-f5a6b0"}')
    assert nginxcheck.check({"servedBy": "httpbun-canary"}, bun, {}) is None
    counts = {"status": {200: 2}, "otherStatuses": 0, "servedBy": {"echo": {"min": 1}},
              "distinctPods": 1}
    assert nginxcheck.check_counts(counts, [echo, echo]) is None
    assert nginxcheck.check_counts(counts, [echo, bun]) is not None


async def test_waiting_for_the_gateway_gives_up_naming_what_it_awaited(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A controller that never becomes idle, or Envoys that never answer every xDS push, fail
    the case after the bound instead of hanging the run."""
    monkeypatch.setattr(nginxrunner, "PROGRAMMED_TIMEOUT_S", 0.2)

    async def never() -> None:
        await asyncio.Event().wait()

    async def idle() -> None:
        return None

    def harness(idle_wait: Any, settled: bool) -> nginxrunner.NginxHarness:
        return nginxrunner.NginxHarness(None, None, "127.0.0.1", idle_wait,  # type: ignore[arg-type]
                                        lambda: settled)
    with pytest.raises(nginxrunner.CaseFailed, match="controller did not become idle"):
        await harness(never, True).wait_programmed([])
    with pytest.raises(nginxrunner.CaseFailed, match="not programmed within 0s: the Gateway's "
                                                     "Envoys have not answered every xDS push"):
        await harness(idle, False).wait_programmed([])


def run_cases(tmp_path: Path, names: str, *extra: str) -> None:
    """Runs ingress-nginx's cases `names` (comma-separated) and asserts that each passed."""
    done = subprocess.run(
        [sys.executable, "-m", "propylon.cli.main", "conformance",
         "--cases", str(shared("ingress-nginx", "cases")), "--run", names,
         "--state-dir", str(tmp_path / "state"), *extra],
        capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == f"{len(names.split(','))} passed, 0 failed"


CASES = ("AppRootShouldRedirectToFoo,"
         "CanaryWhenCanaryIsCreatedShouldRouteRequestsToTheCorrectUpstreamIfTheMainlineIngressIsModified")


def test_cases_pass_with_the_ingress_objects_served(tmp_path: Path) -> None:
    run_cases(tmp_path, CASES)


def test_cases_pass_with_the_ingress_objects_migrated(tmp_path: Path) -> None:
    run_cases(tmp_path, CASES, "--migrate")


def test_sigterm_stops_the_stack_its_envoys_and_the_backends(tmp_path: Path) -> None:
    check_sigterm_stops_the_run(
        ["--cases", str(shared("ingress-nginx", "cases")), "--run", "AppRootShouldRedirectToFoo",
         "--state-dir", str(tmp_path / "state")],
        "the case's echo pod and the Gateway's Envoy to run",
        lambda pid: any((tmp_path / "state" / "pods").glob("*/echo-*.log"))
        and any(map(runs_envoy, descendants(pid))))


RUNNER_CASE = """
name: RunnerFeatures
objects:
- apiVersion: networking.k8s.io/v1
  kind: Ingress
  metadata: {name: runner}
  spec:
    ingressClassName: ${ingressClass}
    rules:
    - host: runner.example
      http:
        paths:
        - {path: /, pathType: Prefix, backend: {service: {name: echo, port: {number: 80}}}}
backend:
  echo: {image: echo, replicas: 2}
requests:
- request: {host: runner.example, path: /, method: GET}
  repeat: 4
  expect: {status: 200, servedBy: echo}
  counts: {status: {200: 4}, otherStatuses: 0, servedBy: {echo: {min: 4}}}
- action: scale
  deployment: echo
  replicas: 1
- request: {host: runner.example, path: /, method: GET}
  capture: {podName: only}
- request: {host: runner.example, path: /, method: GET}
  concurrent: 3
  expect: {samePodAs: '${only}'}
  counts: {distinctPods: 1}
- action: deployBackend
  name: other
  image: httpbun
- action: update
  object:
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata: {name: runner}
    spec:
      ingressClassName: ${ingressClass}
      rules:
      - host: runner.example
        http:
          paths:
          - {path: /, pathType: Prefix, backend: {service: {name: echo, port: {number: 80}}}}
          - {path: /info, pathType: Prefix, backend: {service: {name: other, port: {number: 80}}}}
- request: {host: runner.example, path: '/echo?at=${podIP:other}', method: GET}
  expect: {servedBy: echo, backendSees: {path: '/echo?at=${podIP:other}'}}
- request: {host: runner.example, path: /info, method: GET}
  expect: {status: 200, servedBy: other}
- action: deleteDeployment
  name: other
- request: {host: runner.example, path: /info, method: GET}
  expect: {status: 503}
"""


def test_the_runner_plays_scale_capture_counts_and_backend_actions(tmp_path: Path) -> None:
    """A case of our own, in the format of ingress-nginx's cases, using the runner's features
    the shared cases do not: repeat with counts, scale, a captured pod, concurrent requests,
    deployBackend, `${podIP:...}`, an update, deleteDeployment."""
    cases = tmp_path / "suite" / "cases"
    cases.mkdir(parents=True)
    (tmp_path / "suite" / "ANNOTATIONS.md").write_text("ingress-nginx's annotations\n")
    (cases / "RunnerFeatures.yaml").write_text(RUNNER_CASE)
    done = subprocess.run(
        [sys.executable, "-m", "propylon.cli.main", "conformance", "--cases", str(cases),
         "--state-dir", str(tmp_path / "state")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "1 passed, 0 failed"
