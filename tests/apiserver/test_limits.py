"""Limits and transport errors as kube-apiserver has them: the request body size, the total size
of annotations, label syntax, and plain HTTP sent to the https port."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from propylon.apiserver import APIServer

from .conftest import Client, Kubectl

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def configmap(name: str, **meta: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **meta}}


async def test_a_body_over_3_mib_is_413_naming_the_limit(client: Client) -> None:
    big = configmap("big")
    big["data"] = {"blob": "x" * (3 * 1024 * 1024)}
    status, body, _ = await client.request("POST", CONFIGMAPS, big)
    assert status == 413, body
    assert body["reason"] == "RequestEntityTooLarge"
    assert body["message"] == "Request entity too large: limit is 3145728"
    fits = configmap("fits")
    fits["data"] = {"blob": "x" * (3 * 1024 * 1024 - 200)}
    status, body, _ = await client.request("POST", CONFIGMAPS, fits)
    assert status == 201, body


async def test_annotations_over_256_kib_are_invalid(client: Client) -> None:
    status, body, _ = await client.request(
        "POST", CONFIGMAPS, configmap("big", annotations={"a": "b" * (256 * 1024)}))
    assert status == 422, body
    assert body["reason"] == "Invalid"
    assert body["message"] == ('ConfigMap "big" is invalid: metadata.annotations: Too long: '
                               "must have at most 262144 bytes")
    status, body, _ = await client.request("GET", f"{CONFIGMAPS}/big")
    assert status == 404
    status, body, _ = await client.request(
        "POST", CONFIGMAPS, configmap("fits", annotations={"a": "b" * (256 * 1024 - 1)}))
    assert status == 201, body
    # an update or a patch that grows them past the limit is refused too
    status, body, _ = await client.request(
        "PATCH", f"{CONFIGMAPS}/fits", {"metadata": {"annotations": {"c": "d"}}},
        "application/merge-patch+json")
    assert status == 422, body
    assert "metadata.annotations: Too long: must have at most 262144 bytes" in body["message"]


async def test_invalid_label_keys_and_values_are_refused(client: Client) -> None:
    status, body, _ = await client.request(
        "POST", CONFIGMAPS, configmap("labels", labels={"bad key": "ok", "app": "-dash"}))
    assert status == 422, body
    fields = [(c["field"], c["message"].split(":")[0]) for c in body["details"]["causes"]]
    assert fields == [("metadata.labels", "Invalid value"), ("metadata.labels", "Invalid value")]
    assert '"bad key": name part must consist of alphanumeric characters' in body["message"]
    assert '"-dash": a valid label must be an empty string' in body["message"]
    status, body, _ = await client.request(
        "POST", CONFIGMAPS, configmap("labels", labels={"example.com/app": "web_1"},
                                      annotations={"Example.com/Note": "any text at all"}))
    assert status == 201, body


async def test_kubectl_shows_the_annotation_limit(kubectl: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(json.dumps(configmap("big", annotations={"a": "b" * 300_000})))
    rc, _, err = await kubectl("create", "-f", str(manifest))
    assert rc != 0
    assert 'The ConfigMap "big" is invalid: metadata.annotations: Too long: must have at most ' \
           "262144 bytes" in err


async def test_plain_http_gets_400_saying_to_use_https(server: APIServer,
                                                      client: Client) -> None:
    host, port = server.url.removeprefix("https://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /version HTTP/1.1\r\nHost: localhost\r\n\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert answer == (b"HTTP/1.0 400 Bad Request\r\n\r\n"
                      b"Client sent an HTTP request to an HTTPS server.\n")
    status, body, _ = await client.request("GET", "/version")  # https still works
    assert status == 200, body
