"""A malformed Ingress (as a file may hold it; the API server would refuse it) costs only its
own bad parts: the conversion never fails, and reports what it left out."""

from __future__ import annotations

from propylon.ingress import MIGRATE, convert


def test_malformed_fields_are_skipped_and_reported() -> None:
    bad = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
           "metadata": {"name": "bad", "annotations": None},
           "spec": {"tls": "not a list", "rules": [
               "not a rule",
               {"host": "a.example.com", "http": {"paths": [
                   None, {"path": "/x", "backend": "not a backend"},
                   {"path": "/ok", "pathType": "Prefix",
                    "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}
    result = convert([bad], MIGRATE)
    [route] = [o for o in result.objects if o["kind"] == "HTTPRoute"]
    assert [r["matches"][0]["path"]["value"] for r in route["spec"]["rules"]] == ["/ok"]
    assert [(e.outcome, e.note.split(":")[0]) for e in result.report] == [
        ("refused", "path '/x' left out")]
