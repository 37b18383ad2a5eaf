"""Steps that a few case files give as prose (or only as `phase` names), written as data.

The case format cannot say everything the Go tests do. Where a case file describes a mutation in
free text, this module holds the same mutation as steps the runner executes, transcribed from
the Go test (`conformance/tests/<test>.go`, kubernetes-sigs/gateway-api):

- `PROSE_STEPS[case][text]`: the steps that replace a prose step of the case's `steps`, found by
  its action, patch or `what` text;
- `PHASE_STEPS[case]`: the steps of a case whose mutations exist only as the `phase` names of
  its status entries; they run after the case's own steps;
- `CLIENT_NETWORKS[case]`: the network the test client's own address must lie in (its
  `special` prose); the runner sends that case's HTTP requests from its client address
  (`sourceaddress`), or skips the case when it cannot have one.

Besides the actions of the case format, these steps use four of the runner's own:
`copyData` (create or update the named object with the `data` of object `from` of the same
kind and namespace), `infrastructureMetadata` (read once, as Go does: at least one
ServiceAccount, Pod or Service of the namespace is labelled
`gateway.networking.k8s.io/gateway-name=<gateway>`, and the first of each kind found carries
every label and annotation of the Gateway's `spec.infrastructure`),
`endpointsFromPods` (set each named EndpointSlice's endpoints to the running pods of a
Deployment whose IP family is the slice's addressType, ready and serving; a slice with no pod of
its family is left alone, as the API would refuse it) and the text patch `remove PATH` (see
`steps`). Status entries may name the placeholder addresses of the manifests
(`PLACEHOLDER_USABLE_ADDRS`), which the runner replaces like the Applier does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from propylon.conformance.cases import Case
from propylon.conformance.manifests import USABLE

INFRA = "gateway-conformance-infra"

_STATIC = {"kind": "Gateway", "namespace": INFRA, "name": "gateway-static-addresses"}
_LATEST = {"action": "expect", "status": [{**_STATIC, "latestObservedGeneration": True}]}

PROSE_STEPS: dict[str, dict[str, list[dict[str, Any]]]] = {
    # httproute-service-types.go: setupEndpointSlices before the three requests
    "HTTPRouteServiceTypes": {
        "patch EndpointSlices": [{
            "action": "endpointsFromPods", "namespace": INFRA, "deployment": "infra-backend-v1",
            "endpointSlices": ["manual-endpointslices-ip4", "manual-endpointslices-ip6",
                               "headless-manual-endpointslices-ip4",
                               "headless-manual-endpointslices-ip6"],
        }],
    },
}

_RECONCILE = {"kind": "BackendTLSPolicy", "namespace": INFRA, "name": "reconcile-test"}
_RECONCILE_CM = {"kind": "ConfigMap", "namespace": INFRA,
                 "name": "tls-checks-ca-certificate-reconcile-test"}


def _ca_refs(name: str) -> dict[str, Any]:
    return {"spec": {"validation": {"caCertificateRefs": [
        {"group": "", "kind": "ConfigMap", "name": name}]}}}


# backendtlspolicy.go, the ConfigMap reconcile subtest
PROSE_STEPS["BackendTLSPolicy"] = {
    'spec.validation.caCertificateRefs=[{group:"",kind:ConfigMap,name:tls-checks-ca-certificate-'
    'reconcile-test}] (that ConfigMap does not exist yet)': [
        {"action": "patch", **_RECONCILE, "patch": _ca_refs(_RECONCILE_CM["name"])}],
    "data ca.crt = copy of ConfigMap tls-checks-ca-certificate ca.crt": [
        {"action": "copyData", **_RECONCILE_CM, "from": "tls-checks-ca-certificate"}],
    "data.ca.crt = original CA data": [
        {"action": "copyData", **_RECONCILE_CM, "from": "tls-checks-ca-certificate"}],
    "restore original spec.validation.caCertificateRefs": [
        {"action": "patch", **_RECONCILE, "patch": _ca_refs("tls-checks-ca-certificate")},
        {"action": "delete", **_RECONCILE_CM}],
}

PHASE_STEPS: dict[str, list[dict[str, Any]]] = {
    # gateway-infrastructure.go: the generated objects carry the infrastructure metadata
    "GatewayInfrastructure": [{"action": "infrastructureMetadata", "namespace": INFRA,
                               "gateway": "gateway-with-infrastructure-metadata"}],
    # gateway-static-addresses.go: spec.addresses is [invalid type, unusable, usable]; each
    # patch drops the first entry (Go filters the address by value), then waits for the
    # Gateway's conditions to reach the new generation before checking them.
    "GatewayStaticAddresses": [
        _LATEST,
        {"action": "expect", "status": [{**_STATIC, "conditions": {
            "Accepted": {"status": "False", "reason": "UnsupportedAddress"}}}]},
        {"action": "patch", **_STATIC, "patch": "remove spec.addresses[0]"},
        _LATEST,
        {"action": "expect", "status": [{**_STATIC, "conditions": {
            "Accepted": {"status": "True", "reason": "Accepted"},
            "Programmed": {"status": "False", "reason": "AddressNotUsable"}}}]},
        {"action": "patch", **_STATIC, "patch": "remove spec.addresses[0]"},
        _LATEST,
        {"action": "expect", "status": [{
            **_STATIC,
            "conditions": {"Accepted": {"status": "True", "reason": "Accepted"},
                           "Programmed": {"status": "True", "reason": "Programmed"}},
            "listenersExact": {"http": {
                "supportedKinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}],
                "attachedRoutes": 0, "conditions": {"Accepted": "True", "ResolvedRefs": "True"}}},
            "addresses": [{"type": "IPAddress", "value": USABLE}],
        }]},
    ],
}

CLIENT_NETWORKS: dict[str, str] = {
    # authorization_client_ip.go: the client is trusted by xForwardedFor.trustedCIDRs
    # 172.0.0.0/8 (Envoy Gateway's CI runs it from the kind docker network)
    "AuthzWithClientIPTrustedCIDRs": "172.0.0.0/8",
}


def steps(case: Case) -> list[Mapping[str, Any]]:
    """The steps the runner executes for `case`, prose replaced by data."""
    prose = PROSE_STEPS.get(case.name, {})
    out: list[Mapping[str, Any]] = []
    for step in case.steps:
        texts = (str(step.get(k)) for k in ("action", "patch", "what") if k in step)
        out.extend(next((prose[t] for t in texts if t in prose), [step]))
    return out + PHASE_STEPS.get(case.name, [])
