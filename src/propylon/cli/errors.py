"""How the CLI reports failures: one place that turns an exception into kubectl's wording.

Commands raise; `propylon.cli.main` calls `describe()` and prints the text to stderr with exit
status 1. `UsageError` is a command line that cannot work (`error: ...`); server refusals
(`KubeError`) print as kubectl prints them (`error_message()`); an unreachable server prints
kubectl's message (`KubeUnreachable` is worded so); kubeconfig, manifest and JSONPath problems
print their own message, which names the file or field and the fix.
"""

from __future__ import annotations

from propylon.client import ClientConfigError, KubeError, KubeUnreachable
from propylon.jsonpath import JSONPathError
from propylon.manifests import ManifestError


class UsageError(Exception):
    """A command line that cannot work; printed as `error: MESSAGE`."""


REPORTED: tuple[type[Exception], ...] = (UsageError, KubeError, KubeUnreachable,
                                         ClientConfigError, JSONPathError, ManifestError)


def error_message(err: KubeError) -> str:
    """What kubectl prints for a refusal (without a trailing newline), e.g.
    `Error from server (NotFound): gateways.gateway.networking.k8s.io "x" not found`, or for a
    422 `The Gateway "x" is invalid:` followed by one `* field: message` line per cause."""
    if err.reason == "Invalid":
        kind, name = err.details.get("kind", ""), err.details.get("name", "")
        head = f'The {kind} "{name}" is invalid' if kind or name else "The request is invalid"
        causes = [f"{c.get('field', '')}: {c.get('message', '')}"
                  for c in err.details.get("causes") or ()]
        if not causes:
            return head
        if len(causes) == 1:
            return f"{head}: {causes[0]}"
        return "\n".join([f"{head}: "] + [f"* {c}" for c in causes])
    if err.reason == "Unauthorized":
        return f"error: You must be logged in to the server ({err.message})"
    if err.reason:
        return f"Error from server ({err.reason}): {err.message}"
    return f"Error from server: {err.message}"


def describe(err: Exception) -> str:
    """The text to print on stderr for an exception of one of the REPORTED types."""
    if isinstance(err, KubeError):
        return error_message(err)
    if isinstance(err, KubeUnreachable):
        return str(err)
    return f"error: {err}"
