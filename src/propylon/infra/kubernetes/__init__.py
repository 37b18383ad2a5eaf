"""Proxies in a Kubernetes cluster: an Envoy Deployment and Service per Gateway.

- `manager`: `KubernetesInfra`, the `InfraManager` that applies them and watches their state;
- `resources`: the objects it applies, as plain dicts (no I/O).
"""
