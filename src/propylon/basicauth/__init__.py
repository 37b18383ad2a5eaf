"""Propylon's htpasswd check service: Envoy's ext_authz (gRPC `envoy.service.auth.v3`) for the
routes whose basic auth users are hashed with more than `{SHA}` (`propylon.htpasswd.service`).

`server.BasicAuthServer` serves `Authorization/Check` on a Unix socket or a loopback port;
`verifier.Verifier` answers each check from the route's htpasswd lines (context extensions)
and the request's `Authorization` header, hashing off the event loop.
"""
