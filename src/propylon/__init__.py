"""Propylon: a Kubernetes Gateway API implementation with an Envoy data plane."""
