"""How the CLI reports failures: one place that turns an exception into kubectl's wording.

Commands raise; `propylon.cli.main` calls `describe()` and prints the text to stderr with exit
status 1. `UsageError` is a command line that cannot work (`error: ...`); server errors
(`APIError`) print as kubectl prints them; kubeconfig, connection, manifest and JSONPath
problems print their own message, which names the file or field and the fix.
"""

from __future__ import annotations

from propylon.apiserver.errors import APIError
from propylon.cli.apiclient import ConnectionFailed, error_message
from propylon.cli.kubeconfig import KubeconfigError
from propylon.jsonpath import JSONPathError
from propylon.manifests import ManifestError


class UsageError(Exception):
    """A command line that cannot work; printed as `error: MESSAGE`."""


REPORTED: tuple[type[Exception], ...] = (UsageError, APIError, ConnectionFailed, KubeconfigError,
                                         JSONPathError, ManifestError)


def describe(err: Exception) -> str:
    """The text to print on stderr for an exception of one of the REPORTED types."""
    if isinstance(err, APIError):
        return error_message(err)
    if isinstance(err, ConnectionFailed):
        return str(err)
    return f"error: {err}"
