"""The controller: reads the Kubernetes API, reconciles, writes status and publishes config.

- `informer`: one list+watch mirror per kind (resume on reconnect, relist on 410 Gone).
- `status`: the single status writer (coalescing, no-op skipping, conflict retries).
- `reconciler`: `Controller`, the debounced whole-graph reconcile tying informers, the pure
  translators, the infrastructure manager, the xDS snapshot cache and the status writer together.
"""

from propylon.controller.reconciler import Controller

__all__ = ["Controller"]
