"""The Secrets a SecurityPolicy's `basicAuth` and `apiKeyAuth` name, read and checked.

`resolve(policy, secrets, grants, store)` returns the policy with `credentials` (the htpasswd
lines of `basicAuth.users`, key `.htpasswd`; the (client id, key) pairs of every
`apiKeyAuth.credentialRefs` Secret, each data key a client id and its value the key, a client
id already given by an earlier Secret ignored, as in Envoy Gateway) and, for every Secret it
cannot use, a problem naming the field, the Secret and the fix, so the policy is Accepted False
and applies nothing:
- the Secret is in another namespace and no ReferenceGrant there lets SecurityPolicies of the
  policy's namespace reference it;
- it does not exist, or is not of type Opaque (the controller watches Opaque and
  kubernetes.io/tls Secrets only, see `controller.reconciler`);
- it lacks the key, or a value is not text;
- an htpasswd line is not `user:hash` with a hash of a supported format (bcrypt, Apache MD5,
  MD5-, SHA-256- and SHA-512-crypt, `{SHA}`, `{SSHA}`, `{PLAIN}`: `propylon.htpasswd`), or
  names the user of an earlier line: one problem per line, naming its number, user and format;
- two clients share one API key (Envoy would refuse the filter).
The result is last pass's object while the policy, the Secrets it names and what the
ReferenceGrants allow of them are (`store`).

`referenced(objects)` lists the Secrets the SecurityPolicies of a snapshot name: the only Opaque
Secrets the controller hands to the translation.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from propylon.api.core import Secret
from propylon.api.envoygateway import (
    GROUP,
    SECURITY_POLICY,
    Credentials,
    Policy,
    SecretRef,
    Security,
    security,
)
from propylon.htpasswd import lines
from propylon.translate.references import Grants
from propylon.translate.types import Store

HTPASSWD_KEY = ".htpasswd"
OPAQUE = "Opaque"
Key = tuple[str, str]


def referenced(objects: Iterable[Mapping[str, Any]]) -> set[Key]:
    """(namespace, name) of every Secret the SecurityPolicies among `objects` name."""
    out: set[Key] = set()
    for obj in objects:
        if obj.get("kind") != SECURITY_POLICY or not isinstance(obj.get("spec"), Mapping):
            continue
        namespace = str((obj.get("metadata") or {}).get("namespace") or "")
        users, keys = _refs(security(obj["spec"], namespace)[0])
        out.update((r.namespace, r.name) for r in (*keys, *([users] if users else [])))
    return out


def _refs(found: Security) -> tuple[SecretRef | None, tuple[SecretRef, ...]]:
    """The Secret of `basicAuth.users` and those of `apiKeyAuth.credentialRefs`."""
    return (found.basic_auth.users if found.basic_auth else None,
            found.api_key_auth.credential_refs if found.api_key_auth else ())


def resolve(policy: Policy, secrets: Mapping[Key, Secret], grants: Grants,
            store: Store | None = None) -> Policy:
    """`policy` with its credentials and the problems of the Secrets it names (see the module
    docstring)."""
    users, keys = _refs(security(policy.spec_value(), policy.meta.namespace)[0])
    if users is None and not keys:
        return policy
    refs = (*keys, *([users] if users else []))
    named = [secrets.get((r.namespace, r.name)) for r in refs]
    allowed = tuple(_allowed(policy, r, grants) for r in refs)
    cache_key = ("credentials", policy.key)
    cached = store.get(cache_key) if store is not None else None
    if cached is None or cached[0] is not policy or cached[1] != allowed \
            or len(cached[2]) != len(named) or not all(map(operator.is_, cached[2], named)):
        cached = (policy, allowed, named, _resolved(policy, users, keys, secrets, grants))
    if store is not None:
        store.put(cache_key, cached)
    result: Policy = cached[3]
    return result


def _resolved(policy: Policy, users: SecretRef | None, key_refs: Iterable[SecretRef],
              secrets: Mapping[Key, Secret], grants: Grants) -> Policy:
    problems: list[str] = []
    htpasswd = None
    if users is not None:
        secret = _usable(policy, users, secrets, grants, problems)
        if secret is not None:
            htpasswd = _htpasswd(users, secret, problems)
    keys: dict[str, str] = {}  # client id -> key
    for ref in key_refs:
        secret = _usable(policy, ref, secrets, grants, problems)
        if secret is None:
            continue
        for client, _ in secret.data:
            value = secret.value(client)
            if not value:
                problems.append(f"{ref.field}: Secret {ref.namespace}/{ref.name} key "
                                f'"{client}" does not hold a key as text: store the API key '
                                "of that client as its value")
            elif client not in keys:
                keys[client] = value
    owners: dict[str, str] = {}
    for client, key in keys.items():
        if key in owners:
            problems.append(f"spec.apiKeyAuth.credentialRefs: clients \"{owners[key]}\" and "
                            f'"{client}" have the same API key: give each client its own')
        owners.setdefault(key, client)
    return replace(policy, problems=(*policy.problems, *problems),
                   credentials=Credentials(htpasswd, tuple(sorted(keys.items()))))


def _allowed(policy: Policy, ref: SecretRef, grants: Grants) -> bool:
    return grants.allows(GROUP, SECURITY_POLICY, policy.meta.namespace, "", "Secret",
                         ref.namespace, ref.name)


def _usable(policy: Policy, ref: SecretRef, secrets: Mapping[Key, Secret], grants: Grants,
            problems: list[str]) -> Secret | None:
    """The Secret `ref` names, if the policy may read it and it is an Opaque Secret."""
    ns = policy.meta.namespace
    where = f"Secret {ref.namespace}/{ref.name}"
    if not _allowed(policy, ref, grants):
        problems.append(f"{ref.field}: {where} is in another namespace and no ReferenceGrant "
                        f"there allows SecurityPolicies of namespace {ns} to reference it: "
                        f"create one in {ref.namespace}, or move the Secret to {ns}")
        return None
    secret = secrets.get((ref.namespace, ref.name))
    if secret is None:
        problems.append(f"{ref.field}: {where} does not exist: create it (an Opaque Secret)")
        return None
    if secret.type != OPAQUE:
        problems.append(f"{ref.field}: {where} is of type {secret.type}: credentials are read "
                        "from Opaque Secrets only: store them in a Secret of type Opaque")
        return None
    return secret


def _htpasswd(ref: SecretRef, secret: Secret, problems: list[str]) -> str | None:
    """The Secret's htpasswd lines (normalised: one `user:hash` a line), if every one can be
    checked (`propylon.htpasswd.lines`)."""
    where = f"Secret {ref.namespace}/{ref.name}"
    text = secret.value(HTPASSWD_KEY)
    if not text or not text.strip():
        problems.append(f'{ref.field}: {where} has no "{HTPASSWD_KEY}" key with htpasswd '
                        f'lines: add it (kubectl create secret generic {ref.name} '
                        f"--from-file={HTPASSWD_KEY})")
        return None
    found = lines.read(text)
    problems.extend(f'{ref.field}: {where} key "{HTPASSWD_KEY}" {problem}'
                    for problem in found.problems)
    if not found.entries and not found.problems:
        problems.append(f'{ref.field}: {where} key "{HTPASSWD_KEY}" has no user line: add '
                        "one (htpasswd -B makes bcrypt lines)")
    return None if found.problems or not found.entries else found.text()
