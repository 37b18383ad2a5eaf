"""An echo backend that answers like the Gateway API conformance `echo-basic` server.

The backends behind the routes of the quickstart (`propylon up --echo`, `propylon echo`) and of
the conformance runner (one `python -m propylon.echo --bind POD_IP` per pod, configured by
echo-basic's environment variables). One module per protocol, with no import cycle:

- `httpserver`: HTTP/1.1, H2C and HTTPS listeners and echo-basic's HTTP routes, with
  `http2` serving the HTTP/2 connections (loaded on the first one);
- `tcpserver`: the TCP and TLS line protocol (`TCP_ECHO_SERVER` set);
- `grpcserver`: the gRPC echo service (`GRPC_ECHO_SERVER` set), whose messages `grpcservice`
  builds from a descriptor (also used by the conformance runner's gRPC client);
- `ingressnginx`: ingress-nginx's e2e backends (its echo image's reply format, httpbun,
  slow-echo) for the replay of its cases (`INGRESS_NGINX_IMAGE` set);
- `orca`: the out-of-band ORCA load reports (`OpenRcaService`) beside the HTTP listeners
  (`ORCA_OOB_SERVER` set);
- `environment` and `tls`: what they share, reading the environment and describing a TLS
  connection;
- `command`: `python -m propylon.echo` (`main`, which picks the mode) and `propylon echo`
  (`run`).
"""
