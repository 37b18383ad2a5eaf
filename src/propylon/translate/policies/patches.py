"""EnvoyPatchPolicy: which patches each Gateway's Envoy resources get, and the Programmed status.

Propylon applies EnvoyPatchPolicies always (Envoy Gateway needs `enableEnvoyPatchPolicy` in its
own configuration; here whoever may write an EnvoyPatchPolicy in a Gateway's namespace may patch
that Gateway). `attachment.attach` finds the Gateway each policy targets; `by_gateway` lists, per
Gateway, the patches of the policies accepted there, in the order they apply: `spec.priority`
ascending, then the policies' age and name (attachment's order), then index. The IR carries them
(`GatewayIR.patches`) to the xDS translation, which applies them
(`propylon.xds.translate.patches`) and reports a policy whose patches it had to leave out; that
report comes back with the next translation (`Rejections.patches`) and `programmed` turns it
into the policy's condition: Programmed False, reason Invalid, with the patch index and the
reason, or Programmed True once every patch applies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from propylon.api.envoygateway import Policy
from propylon.api.envoypatch import json_patches, priority
from propylon.ir.patches import JsonPatch
from propylon.translate import conditions as c
from propylon.translate.policies.attachment import Attachments, Condition

Key = tuple[str, str]
APPLIED = "Patches have been successfully applied."


def programmed(failures: Mapping[str, str]) -> Callable[[Policy], Condition]:
    """The Programmed condition of an accepted policy, given what the xDS translation left out
    (policy namespace/name -> why)."""
    def condition(policy: Policy) -> Condition:
        failure = failures.get(f"{policy.meta.namespace}/{policy.meta.name}")
        if failure is not None:
            return (False, c.INVALID, failure)
        return (True, c.PROGRAMMED, APPLIED)
    return condition


def by_gateway(found: Attachments) -> dict[Key, tuple[JsonPatch, ...]]:
    """Per Gateway, the patches of the policies accepted on it, in the order they apply."""
    ranked: dict[Key, list[tuple[int, int, tuple[JsonPatch, ...]]]] = {}
    for order, (policy, entries) in enumerate(found.statuses):
        if policy.problems:
            continue
        spec = policy.spec_value()
        patches = json_patches(spec, f"{policy.meta.namespace}/{policy.meta.name}")[0]
        for entry in entries:
            if any(cond.type == c.ACCEPTED and cond.status for cond in entry.conditions):
                ranked.setdefault((entry.ref.namespace or "", entry.ref.name), []).append(
                    (priority(spec), order, patches))
    return {key: tuple(p for _, _, patches in sorted(items, key=lambda i: i[:2])
                       for p in patches)
            for key, items in ranked.items()}
