"""The protobuf body decoder, on bytes encoded with the protobuf library from the same
`generated.proto` files, the way kubectl's Go code encodes them (non-pointer fields always
written, even when empty)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message

from propylon.apiserver import crds, protobody, protoschema
from propylon.apiserver.errors import APIError

from ..shared_data import shared


@pytest.fixture(scope="module")
def schema() -> protoschema.Schema:
    return protoschema.read(shared("kubernetes", "proto"))


def new(schema: protoschema.Schema, name: str) -> Message:
    cls = schema.message(name)
    assert cls is not None, name
    return cls()


def envelope(schema: protoschema.Schema, api_version: str, kind: str, obj: Message | bytes,
             encoding: str = "") -> bytes:
    unknown: Any = new(schema, "k8s.io.apimachinery.pkg.runtime.Unknown")
    unknown.typeMeta.apiVersion = api_version
    unknown.typeMeta.kind = kind
    unknown.raw = obj if isinstance(obj, bytes) else obj.SerializeToString()
    unknown.contentEncoding = encoding
    unknown.contentType = ""
    return b"k8s\x00" + unknown.SerializeToString()


def go_meta(meta: Any, name: str) -> None:
    """ObjectMeta as Go writes it: every non-pointer field, empty ones included."""
    meta.name = name
    for field in ("generateName", "namespace", "selfLink", "uid", "resourceVersion"):
        setattr(meta, field, "")
    meta.generation = 0
    meta.creationTimestamp.SetInParent()  # a zero Time: an empty message


def test_secret_bytes_are_base64_and_empty_optional_fields_left_out(
        schema: protoschema.Schema) -> None:
    secret: Any = new(schema, "k8s.io.api.core.v1.Secret")
    go_meta(secret.metadata, "tls")
    secret.metadata.labels["app"] = "web"
    secret.data["tls.key"] = b"\x00\xffkey"
    secret.data["empty"] = b""
    secret.type = "kubernetes.io/tls"
    obj = protobody.decode(envelope(schema, "v1", "Secret", secret), schema)
    assert obj == {"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "tls", "labels": {"app": "web"}},
                   "data": {"tls.key": base64.b64encode(b"\x00\xffkey").decode(), "empty": ""},
                   "type": "kubernetes.io/tls"}


def test_deployment_keeps_explicit_zero_replicas_and_empty_structs(
        schema: protoschema.Schema) -> None:
    deployment: Any = new(schema, "k8s.io.api.apps.v1.Deployment")
    go_meta(deployment.metadata, "web")
    spec = deployment.spec
    spec.replicas = 0  # a Go pointer set to zero: kept
    spec.minReadySeconds = 0  # not a pointer, +optional: left out
    spec.selector.matchLabels["app"] = "web"
    spec.strategy.SetInParent()
    go_meta(spec.template.metadata, "")
    container = spec.template.spec.containers.add(name="web", image="nginx")
    container.ports.add(containerPort=8080, protocol="TCP", name="")
    container.resources.limits["cpu"].string = "500m"
    container.resources.limits["memory"].string = "128Mi"
    deployment.status.SetInParent()
    obj = protobody.decode(envelope(schema, "apps/v1", "Deployment", deployment), schema)
    assert obj["spec"] == {
        "replicas": 0,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {},
        "template": {"metadata": {}, "spec": {"containers": [{
            "name": "web", "image": "nginx",
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}}}]}}}
    assert obj["status"] == {}


def test_service_int_or_string_and_required_zero(schema: protoschema.Schema) -> None:
    service: Any = new(schema, "k8s.io.api.core.v1.Service")
    go_meta(service.metadata, "web")
    by_number = service.spec.ports.add(port=80, nodePort=0)
    by_number.targetPort.type = 0
    by_number.targetPort.intVal = 8080
    by_name = service.spec.ports.add(name="https", port=0)  # required: its zero is written
    by_name.targetPort.type = 1
    by_name.targetPort.strVal = "https"
    obj = protobody.decode(envelope(schema, "v1", "Service", service), schema)
    assert obj["spec"]["ports"] == [{"port": 80, "targetPort": 8080},
                                    {"name": "https", "port": 0, "targetPort": "https"}]


def test_times_are_rfc3339(schema: protoschema.Schema) -> None:
    lease: Any = new(schema, "k8s.io.api.coordination.v1.Lease")
    go_meta(lease.metadata, "leader")
    lease.metadata.creationTimestamp.seconds = 1767225600  # 2026-01-01T00:00:00Z
    lease.metadata.deletionTimestamp.seconds = 1767225601
    lease.metadata.deletionTimestamp.nanos = 999_000_000  # Time keeps whole seconds
    lease.spec.renewTime.seconds = 1767225600
    lease.spec.renewTime.nanos = 123_456_000
    obj = protobody.decode(envelope(schema, "coordination.k8s.io/v1", "Lease", lease), schema)
    assert obj["metadata"]["creationTimestamp"] == "2026-01-01T00:00:00Z"
    assert obj["metadata"]["deletionTimestamp"] == "2026-01-01T00:00:01Z"
    assert obj["spec"] == {"renewTime": "2026-01-01T00:00:00.123456Z"}


def test_managed_fields_and_raw_extensions_are_inlined_json(schema: protoschema.Schema) -> None:
    cm: Any = new(schema, "k8s.io.api.core.v1.ConfigMap")
    go_meta(cm.metadata, "c")
    entry = cm.metadata.managedFields.add(manager="kubectl", operation="Update",
                                          fieldsType="FieldsV1")
    entry.fieldsV1.Raw = b'{"f:data":{"f:k":{}}}'
    cm.data["k"] = "v"
    obj = protobody.decode(envelope(schema, "v1", "ConfigMap", cm), schema)
    assert obj["metadata"]["managedFields"] == [{
        "manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:data": {"f:k": {}}}}]
    revision: Any = new(schema, "k8s.io.api.apps.v1.ControllerRevision")
    revision.data.raw = b'{"spec":{"replicas":2}}'
    revision.revision = 3
    assert protobody.to_json(revision, schema) == {"data": {"spec": {"replicas": 2}},
                                                   "revision": 3}


def test_every_served_builtin_kind_has_a_message(schema: protoschema.Schema) -> None:
    # The Gateway API, Envoy Gateway and Propylon kinds are custom resources, sent as JSON.
    # kubectl has no typed command for CRDs and admission policies either, and ../shared has no
    # definitions of them: a protobuf body of one gets the 415 of
    # `test_envelopes_that_do_not_decode`.
    # PodDisruptionBudgets and HorizontalPodAutoscalers (served for Kubernetes mode's proxies,
    # which the controller applies as JSON) have no definitions there either: `kubectl create
    # poddisruptionbudget` and `kubectl autoscale` get that 415.
    json_only = (crds.GATEWAY_GROUP, crds.ENVOY_GATEWAY_GROUP, crds.PROPYLON_GROUP,
                 crds.CRD_GROUP, crds.ADMISSION_GROUP, "policy", "autoscaling")
    builtin = [k for k in crds.builtin_kinds(True) if k.group not in json_only]
    assert {k.kind for k in builtin} >= {"Namespace", "Secret", "ConfigMap", "Service",
                                         "Deployment", "Pod", "EndpointSlice", "Lease"}
    for info in builtin:
        assert schema.message(protobody.message_name(info.api_version, info.kind)), info


@pytest.mark.parametrize(("body", "code", "words"), [
    (b'{"kind":"Secret"}', 400, "does not start with the 4 bytes k8s\\0"),
    (b"k8s\x00\xff\xfe", 400, "runtime.Unknown"),
])
def test_bodies_that_do_not_decode(schema: protoschema.Schema, body: bytes, code: int,
                                   words: str) -> None:
    with pytest.raises(APIError) as err:
        protobody.decode(body, schema)
    assert err.value.code == code and words in err.value.message
    assert "send the object as application/json instead" in err.value.message


def test_envelopes_that_do_not_decode(schema: protoschema.Schema) -> None:
    def error(body: bytes) -> APIError:
        with pytest.raises(APIError) as err:
            protobody.decode(body, schema)
        return err.value

    gateway = error(envelope(schema, "gateway.networking.k8s.io/v1", "Gateway", b""))
    assert gateway.code == 415 and gateway.reason == "UnsupportedMediaType"
    assert "Gateway (gateway.networking.k8s.io/v1) has no protobuf message" in gateway.message
    gzipped = error(envelope(schema, "v1", "Secret", b"\x1f\x8b", encoding="gzip"))
    assert gzipped.code == 415 and "contentEncoding 'gzip'" in gzipped.message
    truncated = error(envelope(schema, "v1", "Secret", b"\x0a\x05ab"))
    assert truncated.code == 400
    assert "the Secret in the envelope is not a valid k8s.io.api.core.v1.Secret" in \
        truncated.message
    untyped = error(envelope(schema, "", "", b""))
    assert untyped.code == 400 and "names no apiVersion and kind" in untyped.message


def test_missing_definitions_are_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PROPYLON_SHARED", str(tmp_path))
    protoschema.load.cache_clear()
    try:
        with pytest.raises(APIError) as err:
            protobody.decode(b"k8s\x00")
    finally:
        protoschema.load.cache_clear()
    assert err.value.code == 415
    assert "protobuf definitions are missing (../shared/kubernetes/proto" in err.value.message


def test_files_outside_the_subset_are_refused() -> None:
    with pytest.raises(protoschema.ProtoSyntaxError, match=r"x.proto: unsupported top-level "
                                                           r"statement 'enum'"):
        protoschema.parse('syntax = "proto2";\nenum Phase { A = 0; }\n', "x.proto")
    with pytest.raises(protoschema.ProtoSyntaxError, match="unsupported field label 'oneof'"):
        protoschema.parse("message M { oneof x { string a = 1; } }", "x.proto")
    with pytest.raises(protoschema.ProtoSyntaxError, match="malformed map<string> in message M"):
        protoschema.parse("message M { map<string> m = 1; }", "x.proto")
