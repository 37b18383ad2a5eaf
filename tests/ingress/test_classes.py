"""Which Ingresses a conversion takes: the serving defaults (our controller's IngressClasses and
the default class) against `propylon migrate`'s (ingress-nginx's classes, `nginx`, no class)."""

from __future__ import annotations

from typing import Any

from propylon.ingress import MIGRATE, Options, convert


def _ingress(name: str, class_name: str | None = None, annotation: str | None = None
             ) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "default"}
    if annotation:
        meta["annotations"] = {"kubernetes.io/ingress.class": annotation}
    spec: dict[str, Any] = {"rules": [{"host": f"{name}.example.com", "http": {"paths": [
        {"path": "/", "pathType": "Prefix",
         "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}
    if class_name:
        spec["ingressClassName"] = class_name
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta,
            "spec": spec}


def _class(name: str, controller: str, default: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if default:
        meta["annotations"] = {"ingressclass.kubernetes.io/is-default-class": "true"}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": meta,
            "spec": {"controller": controller}}


OBJECTS = [_class("edge", "propylon.dev/ingress-controller", default=True),
           _class("nginx", "k8s.io/ingress-nginx"),
           _ingress("ours", "edge"), _ingress("unclassed"), _ingress("by-annotation", None, "edge"),
           _ingress("nginx", "nginx"), _ingress("annotation-wins", "edge", "nginx")]


def test_serving_takes_our_classes_and_the_default_one() -> None:
    result = convert(OBJECTS, Options())
    assert result.gateways == {"default/ours": ("default", "ingress-edge"),
                               "default/unclassed": ("default", "ingress-edge"),
                               "default/by-annotation": ("default", "ingress-edge")}
    assert result.ignored == ("default/annotation-wins (class nginx)",
                              "default/nginx (class nginx)")


def test_serving_can_take_the_class_named_nginx_too() -> None:
    result = convert(OBJECTS, Options(class_names=frozenset({"nginx"})))
    assert result.gateways["default/nginx"] == ("default", "ingress-nginx")
    assert result.gateways["default/annotation-wins"] == ("default", "ingress-nginx")
    gateways = [o["metadata"]["name"] for o in result.objects if o["kind"] == "Gateway"]
    assert gateways == ["ingress-edge", "ingress-nginx"]


def test_migrate_takes_ingress_nginx_classes_and_ingresses_without_class() -> None:
    objects = [_class("public", "k8s.io/ingress-nginx"), _ingress("a", "public"), _ingress("b"),
               _ingress("c", "traefik")]
    result = convert(objects, MIGRATE)
    assert result.gateways == {"default/a": ("default", "ingress-public"),
                               "default/b": ("default", "ingress-nginx")}
    assert result.ignored == ("default/c (class traefik)",)
