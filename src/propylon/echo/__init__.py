"""The echo backends: what answers behind the routes in the quickstart and the conformance runner."""
