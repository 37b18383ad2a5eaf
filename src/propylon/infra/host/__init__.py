"""Proxies on this machine (standalone mode): one Envoy process per Gateway.

- `manager`: `HostInfra`, the `InfraManager` that converges Gateways to Envoy processes;
- `addresses`: the loopback address pool; `ports`: probing and mapping listener ports;
- `envoy_process`: launching, adopting and stopping one Envoy; `envoy_admin`: its admin socket;
  `proxy_supervisor`: keeping one Envoy running and telling when it is ready;
- `private_sockets`: the private directory of the xDS and admin Unix sockets;
- `mirror`: `MirroredInfra`, which shows each process in the API as the Pod and Service
  `host_objects` describes.
"""
