"""Replay of the Gateway API conformance suite against standalone Propylon.

`propylon conformance` loads case files (`cases.py`), starts the standalone stack, applies the
suite's base manifests with the harness rewrites (`manifests.py`), generates the TLS material
(`tlsmaterial.py`), runs one echo process per Deployment replica with EndpointSlices pointing at
them (`backends.py`), then runs each case (`runner.py`, `steps.py`): status checks (`status.py`),
requests and their matching rules (`requests.py`, `matching.py`), weighted splits and mirror
checks (`traffic.py`). `report.py` builds the official ConformanceReport.
"""
