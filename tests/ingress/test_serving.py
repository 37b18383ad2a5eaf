"""Serving Ingress objects: the conversion joins the translation as if its output were applied.

Pure: a snapshot with Ingress objects is translated by `ingress.serving.translate`; the
generated Gateway and routes reach the IR, never the statuses, and each Ingress gets
`status.loadBalancer.ingress` only once its Gateway is programmed."""

from __future__ import annotations

import base64
from typing import Any

from propylon.ingress import serving
from propylon.ir.model import GatewayKey
from propylon.translate import Memo
from propylon.translate.golden import snapshot_of
from propylon.translate.types import IngressSettings, Snapshot
from tests.certificates import self_signed

GATEWAY = GatewayKey("default", "ingress-propylon")


def ingress(name: str, host: str, klass: str = "propylon", **annotations: str) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"namespace": "apps", "name": name, "generation": 2, "uid": f"u-{name}",
                         "resourceVersion": "7",
                         "annotations": {f"nginx.ingress.kubernetes.io/{k}": v
                                         for k, v in annotations.items()}},
            "spec": {"ingressClassName": klass, "rules": [{"host": host, "http": {"paths": [
                {"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": "echo", "port": {"number": 80}}}}]}}]}}


CLASS = {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
         "metadata": {"name": "propylon"},
         "spec": {"controller": "propylon.dev/ingress-controller"}}
SERVICE = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"namespace": "apps", "name": "echo", "uid": "s", "resourceVersion": "1"},
           "spec": {"ports": [{"name": "http", "port": 80}]}}


def snapshot(*objects: dict[str, Any], ready: bool = False,
             settings: IngressSettings | None = None) -> Snapshot:
    data: dict[str, Any] = {"resources": [CLASS, SERVICE, *objects]}
    if ready:
        data["infra"] = [{"gateway": "default/ingress-propylon", "address": "127.0.10.7",
                          "ports": [{"port": 80}], "ready": True}]
    snap = snapshot_of(data)
    return Snapshot(snap.objects, snap.infra, snap.controller_name, snap.now,
                    ingress=settings or IngressSettings())


def ingress_status(result: Any, name: str) -> dict[str, Any]:
    return next(u.status.to_json() for u in result.statuses
                if u.kind == "Ingress" and u.name == name)


def test_an_ingress_is_served_through_a_generated_gateway_without_its_statuses() -> None:
    result = serving.translate(snapshot(ingress("web", "web.example.com")))
    assert GATEWAY in result.infra
    assert {u.kind for u in result.statuses} == {"Ingress"}  # no generated object's status
    assert ingress_status(result, "web") == {"loadBalancer": {}}  # not programmed yet
    update = next(u for u in result.statuses if u.kind == "Ingress")
    assert (update.namespace, update.generation) == ("apps", 2)


def test_the_status_names_the_gateway_address_once_programmed() -> None:
    result = serving.translate(snapshot(ingress("web", "web.example.com"), ready=True))
    assert ingress_status(result, "web") == {"loadBalancer": {"ingress": [{"ip": "127.0.10.7"}]}}
    assert "web.example.com" in repr(result.gateways[GATEWAY])  # its routes reach the IR


def test_class_nginx_is_served_only_when_asked() -> None:
    plain = serving.translate(snapshot(ingress("web", "web.example.com", klass="nginx")))
    assert not plain.statuses and not plain.infra
    nginx = IngressSettings(class_names=frozenset({"nginx"}))
    taken = serving.translate(snapshot(ingress("web", "web.example.com", klass="nginx"),
                                       settings=nginx))
    assert GatewayKey("default", "ingress-nginx") in taken.infra
    assert ingress_status(taken, "web") == {"loadBalancer": {}}


def test_refused_annotations_are_noted_for_the_log() -> None:
    result = serving.translate(snapshot(ingress("web", "web.example.com",
                                                **{"configuration-snippet": "more_set_headers"})))
    assert any("apps/web" in line and "configuration-snippet" in line and "refused" in line
               for line in result.ingress_notes)


def test_an_unchanged_ingress_is_not_translated_again() -> None:
    memo = Memo()
    snap = snapshot(ingress("web", "web.example.com"), ready=True)
    first = serving.translate(snap, memo)
    misses = memo.misses
    second = serving.translate(snap, memo)
    assert second.gateways == first.gateways
    assert memo.misses == misses  # every generated object decoded last pass is reused


def test_secrets_named_by_annotations_and_tls_sections_are_the_ones_read() -> None:
    tls = ingress("c", "c.example.com")
    tls["spec"]["tls"] = [{"hosts": ["c.example.com"], "secretName": "c-cert"}]
    assert serving.referenced_secrets([
        ingress("a", "a.example.com", **{"auth-secret": "basic", "auth-type": "basic"}),
        ingress("b", "b.example.com", **{"auth-tls-secret": "other/ca"}), tls]) == {
        ("apps", "basic"), ("other", "ca"), ("apps", "c-cert")}


def test_the_configmap_named_by_the_settings_applies_whatever_its_name() -> None:
    configmap = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"namespace": "ops", "name": "my-nginx-settings", "uid": "c",
                              "resourceVersion": "3"},
                 "data": {"force-ssl-redirect": "true"}}
    web = ingress("web", "web.example.com")
    plain = serving.translate(snapshot(web, configmap, ready=True))
    named = serving.translate(snapshot(web, configmap, ready=True,
                                       settings=IngressSettings(configmap="ops/my-nginx-settings")))
    assert "'https'" not in repr(plain.gateways[GATEWAY])  # proxied
    assert "'https'" in repr(named.gateways[GATEWAY])  # redirected to https


def test_only_the_named_configmap_is_ingress_nginx_s() -> None:
    """A ConfigMap that merely has one of the names of ingress-nginx's own is no setting."""
    configmap = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"namespace": "apps", "name": "ingress-nginx-controller",
                              "uid": "c", "resourceVersion": "3"},
                 "data": {"force-ssl-redirect": "true"}}
    web = ingress("web", "web.example.com")
    unnamed = serving.translate(snapshot(web, configmap, ready=True))
    assert "'https'" not in repr(unnamed.gateways[GATEWAY])
    named = serving.translate(snapshot(web, configmap, ready=True, settings=IngressSettings(
        configmap="apps/ingress-nginx-controller")))
    assert "'https'" in repr(named.gateways[GATEWAY])


def test_an_opaque_tls_secret_is_served_through_its_typed_copy_in_memory() -> None:
    """ingress-nginx serves any Secret with tls.crt and tls.key; the listener gets a
    kubernetes.io/tls copy that exists only in the translation's input."""
    cert, key = self_signed("site.example.com")
    site = ingress("site", "site.example.com")
    site["spec"]["tls"] = [{"hosts": ["site.example.com"], "secretName": "site-cert"}]
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"namespace": "apps", "name": "site-cert", "uid": "c",
                           "resourceVersion": "1"},
              "data": {"tls.crt": base64.b64encode(cert.encode()).decode(),
                       "tls.key": base64.b64encode(key.encode()).decode()}}
    result = serving.translate(snapshot(site, secret, ready=True))
    [chain] = [c for listener in result.gateways[GATEWAY].listeners for c in listener.tls_chains]
    assert (chain.server_names, chain.secrets) == (("site.example.com",), ("apps/site-cert-tls",))
    assert ingress_status(result, "site") == {"loadBalancer": {"ingress": [{"ip": "127.0.10.7"}]}}
    assert not any(u.kind == "Secret" for u in result.statuses)
