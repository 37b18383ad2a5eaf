"""What Envoy and Propylon's htpasswd check service (`propylon.basicauth`) agree on.

A route whose users are not all `{SHA}` enables an ext_authz filter (gRPC, the cluster
`CLUSTER`) whose per-route check settings carry, as context extensions, the htpasswd lines
(`USERS`) and the header to forward the user name in (`FORWARD_USERNAME_HEADER`, absent when
none): the service is stateless. The cluster is static in every proxy's bootstrap: the Unix
socket `SOCKET` of the stack's private socket directory (standalone), or 127.0.0.1:`PORT` in a
Kubernetes proxy pod, whose shutdown-manager sidecar serves it.
"""

from __future__ import annotations

CLUSTER = "propylon_htpasswd"
SOCKET = "htpasswd.sock"
PORT = 19004
USERS = "htpasswd"
FORWARD_USERNAME_HEADER = "forward_username_header"
