#!/usr/bin/env bash
# Install what the benchmarks need besides the Python packages: wrk (HTTP load), nginx (backend
# and reverse proxy), h2load (nghttp2-client) and taskset (util-linux), from Debian packages;
# then the `bench` extra (matplotlib, py-spy) into the virtualenv. Idempotent; run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v h2load >/dev/null || missing+=(nghttp2-client)
command -v taskset >/dev/null || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
"$VENV/bin/pip" install --quiet -e '.[test,bench]'
