"""ingress-nginx's annotation cases (`../shared/ingress-nginx/cases`): load, and make objects.

The format (its README) differs from the Gateway API cases': a case names the Kubernetes objects
to apply (without namespace), Secrets described in words, a `ControllerConfig`, the backends to
deploy (`echo`, or `{service: {image, replicas}}`), and request and action entries run in order.

- `is_suite(folder)`: a folder whose parent holds `ANNOTATIONS.md` (ingress-nginx's).
- `load(folder)`: every case file but `index.yaml`, sorted by name, as `NginxCase` values.
- `observable(case)`: whether the case sends a request at all; the README's cases without one
  (config-only tests whose backend cannot show the behaviour) cannot pass or fail.
- `with_trusted_client_ip(case)`: the objects, with X-Forwarded-For trusted when a request
  presents a client address and the case does not say whether it is trusted.
- `unplayed(case)`: why a backend image of the case is not played (`nginx-custom`: an nginx
  configuration given in words), "" when all are.
- `substitute(value, variables)`: `${name}` placeholders replaced in every string (nested);
  `${cookieDate:now+Ns}` is computed when the request is sent (`cookie_date`).
- `secret(entry, variables)`: a described Secret as a manifest: the htpasswd files and bcrypt
  hashes (cost 14, as the tests make them), the self-signed certificate for the hosts named.
- `backend_objects(case)`: a Deployment (the image ingress-nginx's tests run, which
  `backends` plays) and a Service (port 80 named `http`, selecting `app: <name>`) per backend.
"""

from __future__ import annotations

import base64
import datetime
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from propylon.conformance.cases import CaseError
from propylon.conformance.tlsmaterial import issue

with warnings.catch_warnings():  # the C library's bcrypt; the module leaves Python in 3.13
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt

IMAGES = {"echo": "registry.k8s.io/ingress-nginx/e2e-test-echo:v1.2.9",
          "httpbun": "registry.k8s.io/ingress-nginx/httpbun:v1.2.9",
          "slow-echo": "registry.k8s.io/ingress-nginx/slow-echo:v1.2.9"}
_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
_COOKIE_DATE = re.compile(r"cookieDate:now\+(\d+)s")
BCRYPT_COST = 14  # the tests' htpasswd lines (`bcrypt, cost 14`)


@dataclass(frozen=True)
class NginxCase:
    name: str
    objects: tuple[dict[str, Any], ...]
    backend: Mapping[str, Mapping[str, Any]]  # Service name -> {image, replicas}
    entries: tuple[dict[str, Any], ...]
    annotations: tuple[str, ...] = ()
    notes: str = ""
    source: Path = field(default=Path())


def is_suite(folder: Path) -> bool:
    return (folder.parent / "ANNOTATIONS.md").exists()


def _backend(value: Any) -> dict[str, dict[str, Any]]:
    if value == "echo":
        return {"echo": {"image": "echo", "replicas": 1}}
    if isinstance(value, Mapping) and "none" not in value:
        return {str(k): dict(v) for k, v in value.items()}
    return {}


def load(folder: Path) -> list[NginxCase]:
    if not folder.is_dir():
        raise CaseError(f"case folder {folder} does not exist; pass --cases DIR")
    cases = []
    for path in sorted(folder.glob("*.yaml")):
        if path.name == "index.yaml":
            continue
        try:
            data = yaml.safe_load(path.read_text())
            cases.append(NginxCase(
                name=str(data["name"]), objects=tuple(data.get("objects") or ()),
                backend=_backend(data.get("backend")),
                entries=tuple(data.get("requests") or ()),
                annotations=tuple(data.get("annotations") or ()),
                notes=str(data.get("notes") or ""), source=path))
        except (yaml.YAMLError, KeyError, TypeError) as err:
            raise CaseError(f"{path}: not an ingress-nginx case file ({err})") from err
    return sorted(cases, key=lambda c: c.name)


def observable(case: NginxCase) -> bool:
    return any("request" in entry for entry in case.entries)


def unplayed(case: NginxCase) -> str:
    """Why the runner cannot play a backend of the case ("" when it plays them all):
    `nginx-custom` runs an nginx configuration the case gives in words."""
    images = {str(spec.get("image", "echo")) for spec in case.backend.values()} | {
        str(e.get("image", "echo")) for e in case.entries if e.get("action") == "deployBackend"}
    missing = sorted(images - IMAGES.keys())
    return (f"backend image {', '.join(missing)} (an nginx configuration given in words) is "
            "not played by the runner") if missing else ""


def with_trusted_client_ip(case: NginxCase) -> tuple[dict[str, Any], ...]:
    """The case's objects; when a request presents a `clientIP` and no `ControllerConfig` says
    whether X-Forwarded-For is trusted, with one that trusts it (`use-forwarded-headers`), the
    way the README lets a replay present the address: the runner sends it as X-Forwarded-For."""
    if not any((e.get("request") or {}).get("clientIP") for e in case.entries):
        return case.objects
    configs = [o for o in case.objects if o.get("kind") == "ControllerConfig"]
    if any("use-forwarded-headers" in (o.get("data") or {}) for o in configs):
        return case.objects
    trusted = {"kind": "ControllerConfig", "data": {
        **{k: v for o in configs for k, v in (o.get("data") or {}).items()},
        "use-forwarded-headers": "true"}}
    return (*(o for o in case.objects if o.get("kind") != "ControllerConfig"), trusted)


def cookie_date(seconds: int, now: datetime.datetime) -> str:
    """`Wdy, DD-Mon-YY HH:MM` of now + seconds, in GMT (cookie dates cut after the minutes)."""
    return (now + datetime.timedelta(seconds=seconds)).strftime("%a, %d-%b-%y %H:%M")


def substitute(value: Any, variables: Mapping[str, str],
               now: datetime.datetime | None = None) -> Any:
    """`value` with every known `${...}` replaced (unknown ones are left as they are)."""
    if isinstance(value, str):
        def one(match: re.Match[str]) -> str:
            key = match.group(1)
            date = _COOKIE_DATE.fullmatch(key)
            if date and now is not None:
                return cookie_date(int(date.group(1)), now)
            return variables.get(key, match.group(0))
        return _PLACEHOLDER.sub(one, value)
    if isinstance(value, Mapping):
        return {substitute(k, variables, now): substitute(v, variables, now)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [substitute(v, variables, now) for v in value]
    return value


def bcrypt(password: str) -> str:
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=2 ** BCRYPT_COST))


class Unplayable(Exception):
    """Something of a case the runner cannot make (the message says what); the case is skipped."""


_HTPASSWD = re.compile(r"htpasswd line for user (\S+) with password ([^\s,;()]+)")
_HASH_MAP = re.compile(r"key `([^`]+)` \(the user name\) whose value is the bcrypt hash "
                       r"\(cost \d+\) of password ([^\s,;()]+)")
_HOST = re.compile(r"(?<![\w.-])((?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)+)(?![\w-])")
_NOT_HOSTS = {"tls.crt", "tls.key", "ca.crt"}


def secret_data(contents: str) -> dict[str, bytes]:
    """The keys a described Secret holds (the README's `contents`); Unplayable for a
    description not understood."""
    if 'malformed htpasswd content "' in contents:
        return {"auth": contents.split('malformed htpasswd content "', 1)[1].split('"')[0]
                .encode()}
    line = _HTPASSWD.search(contents)
    if line:
        return {"auth": f"{line.group(1)}:{bcrypt(line.group(2))}\n".encode()}
    mapped = _HASH_MAP.search(contents)
    if mapped:
        return {mapped.group(1): bcrypt(mapped.group(2)).encode()}
    if "tls.crt and tls.key" in contents:
        common = re.search(r'CN "([^"]+)"', contents)
        hosts = tuple(h for h in _HOST.findall(contents) if h not in _NOT_HOSTS)
        pair = issue(common.group(1) if common else "default", hosts)
        return {"tls.crt": pair.cert_pem, "tls.key": pair.key_pem}
    raise Unplayable(f"Secret contents not understood by the runner: {contents!r}")


def secret(entry: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    data = secret_data(str(entry["contents"]))
    return {"apiVersion": "v1", "kind": "Secret", "type": entry.get("type") or "Opaque",
            "metadata": {"namespace": namespace, "name": entry["name"]},
            "data": {k: base64.b64encode(v).decode() for k, v in data.items()}}


def backend_objects(case: NginxCase, namespace: str) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for name, spec in case.backend.items():
        image = IMAGES[str(spec.get("image", "echo"))]
        labels = {"app": name}
        objects += [
            {"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"namespace": namespace, "name": name},
             "spec": {"replicas": int(spec.get("replicas", 1)), "selector": {"matchLabels": labels},
                      "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                          {"name": name, "image": image,
                           "ports": [{"name": "http", "containerPort": 80}]}]}}}},
            {"apiVersion": "v1", "kind": "Service",
             "metadata": {"namespace": namespace, "name": name},
             "spec": {"selector": labels,
                      "ports": [{"name": "http", "port": 80, "targetPort": 80}]}}]
    return objects
