# Two entry points: `make quickstart` runs the standalone gateway serving examples/quickstart,
# `make test` runs the whole test suite. Both create .venv on first use. `make conformance`
# replays the Gateway API conformance cases (GATEWAY-HTTP, -TLS and -GRPC) from ../shared and
# the GATEWAY-TCP and -UDP ones of tests/data/conformance-l4.
VENV ?= .venv
PYTHON ?= python3

# One install at a time: `make quickstart` and `make test` started together on a fresh clone
# wait for each other's install instead of building the same venv twice (flock, util-linux).
$(VENV)/.installed: pyproject.toml
	flock $(VENV).lock sh -c '[ $@ -nt pyproject.toml ] || { \
	  $(PYTHON) -m venv $(VENV) && \
	  $(VENV)/bin/pip install --quiet --upgrade pip && \
	  $(VENV)/bin/pip install --quiet -e ".[test]" && \
	  touch $@; }'

.PHONY: quickstart test lint conformance conformance-l4 conformance-envoy-gateway envoy-gateway-crds bench-setup bench-smoke conformance-ingress-nginx controller-lock
quickstart: $(VENV)/.installed
	$(VENV)/bin/propylon up -f examples/quickstart --echo backend-1=127.0.0.1:9001

lint: $(VENV)/.installed
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: lint
	$(VENV)/bin/pytest -q

CONFORMANCE_PROFILES ?= GATEWAY-HTTP,GATEWAY-TLS,GATEWAY-GRPC,GATEWAY-TCP,GATEWAY-UDP
CONFORMANCE_REPORT ?= .conformance/report.yaml
L4_CASES ?= tests/data/conformance-l4/cases
conformance: $(VENV)/.installed
	mkdir -p $(dir $(CONFORMANCE_REPORT))
	$(VENV)/bin/propylon conformance --cases ../shared/conformance/cases --cases $(L4_CASES) \
		--feature $(CONFORMANCE_PROFILES) --report $(CONFORMANCE_REPORT)

# Only the GATEWAY-TCP and GATEWAY-UDP tests of Gateway API v1.6.1
conformance-l4: $(VENV)/.installed
	$(VENV)/bin/propylon conformance --cases $(L4_CASES) -v

# Kubernetes mode: Envoy Gateway's policy CRDs (SecurityPolicy, BackendTrafficPolicy, ...) into
# the cluster of the current kubeconfig, from a folder of CRD files. Server-side apply: the
# EnvoyProxy CRD is too large for kubectl's last-applied annotation, and a cluster running
# Envoy Gateway already has the same objects (its chart's), which this only updates.
EG_CRDS ?= ../shared/envoy-gateway/crds
KUBECTL ?= $(VENV)/bin/kubectl
# Envoy Gateway's own end-to-end cases. The ones skipped here fail for reasons the README gives
# (a client address inside a cluster network, node zones).
EG_CASES_SKIP ?= BackendUtilizationWeightedZones
conformance-envoy-gateway: $(VENV)/.installed
	$(VENV)/bin/propylon conformance --cases ../shared/envoy-gateway/cases --skip $(EG_CASES_SKIP) -v

# ingress-nginx's own annotation cases, both ways: the Ingress objects served, then converted by
# `propylon migrate` with only its output applied. Not observable, so not run: the cases that
# send no request (the README's config-only ones whose backend cannot show the behaviour; the
# runner would report them as skipped).
INGRESS_NGINX_CASES ?= ../shared/ingress-nginx/cases
INGRESS_NGINX_SKIP ?= BackendProtocolShouldSetBackendProtocolToAndUseFastcgiPass,BackendProtocolShouldSetBackendProtocolToGrpcAndUseGrpcPass,BackendProtocolShouldSetBackendProtocolToGrpcsAndUseGrpcPass,BackendProtocolShouldSetBackendProtocolToHttpsAndUseProxyPass,BackendProtocolShouldSetBackendProtocolToHttpsAndUseProxyPassWithLowercaseAnnotation,LimitRateCheckLimitRateAnnotation
conformance-ingress-nginx: $(VENV)/.installed
	$(VENV)/bin/propylon conformance --cases $(INGRESS_NGINX_CASES) -v --skip "$(INGRESS_NGINX_SKIP)"
	$(VENV)/bin/propylon conformance --cases $(INGRESS_NGINX_CASES) --migrate -v --skip "$(INGRESS_NGINX_SKIP)"

envoy-gateway-crds:
	$(KUBECTL) apply --server-side --field-manager=propylon -f $(EG_CRDS)

# The controller image's pinned dependencies (requirements/controller.lock, see requirements/lock.py).
controller-lock: $(VENV)/.installed
	$(VENV)/bin/python requirements/lock.py

# Benchmarks (see README "Benchmarks"): Debian packages + the bench extra, then every benchmark
# at its smallest size, figures in $(BENCH_OUT).
BENCH_OUT ?= .bench-smoke
bench-setup: $(VENV)/.installed
	benchmarks/setup.sh

bench-smoke: bench-setup
	$(VENV)/bin/python -m benchmarks.scale --routes 100 --changes 10 --out $(BENCH_OUT)
	$(VENV)/bin/python -m benchmarks.stages --routes 100 --changes 5 --out $(BENCH_OUT)
	$(VENV)/bin/python -m benchmarks.churn --routes 100 --seconds 8 --out $(BENCH_OUT)
	$(VENV)/bin/python -m benchmarks.dataplane --seconds 2 --rounds 1 --out $(BENCH_OUT)
	$(VENV)/bin/python -m benchmarks.policies --seconds 1 --rounds 2 --out $(BENCH_OUT)
	$(VENV)/bin/python -m benchmarks.cert_rotation --rotations 3 --interval 0.5 --out $(BENCH_OUT)
	$(VENV)/bin/python -m benchmarks.faults --rounds 1 --stop-seconds 2 --settle 0.5 --kubectl-timeout 10 --out $(BENCH_OUT)
	$(VENV)/bin/python -m benchmarks.passes --routes 100 --changes 10
