"""The controller: reads the Kubernetes API, reconciles, writes status and publishes config.

- `status`: the single status writer (coalescing, no-op skipping, conflict retries).
- `reconciler`: `Controller`, the debounced whole-graph reconcile tying informers
  (`propylon.informer`), the pure translators, the infrastructure manager, the xDS snapshot cache
  and the status writer together.
"""

from propylon.controller.reconciler import Controller

__all__ = ["Controller"]
