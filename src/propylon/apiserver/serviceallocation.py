"""What kube-apiserver's Service storage allocates: cluster IPs, IP families and node ports.

`ServiceAllocation.fill(service, old)` completes a Service being written (create, update,
patch, apply), in place, as kube-apiserver's `pkg/registry/core/service/storage` does:
- a Service that is not ExternalName gets a cluster IP (the lowest free address of
  10.96.0.0/16, `.1` kept back), or keeps the one it had; `clusterIP: None` is headless;
  `ipFamilyPolicy` (SingleStack, RequireDualStack for a headless Service without selector, or
  the old one) and `ipFamilies` (IPv4, plus IPv6 for that headless case) follow;
- each port of a NodePort Service, and of a LoadBalancer one unless
  `allocateLoadBalancerNodePorts: false`, gets a node port from 30000-32767 (the lowest free;
  ports with the same `port` number share one), and a LoadBalancer with
  `externalTrafficPolicy: Local` a `healthCheckNodePort`. An update that leaves them out keeps
  the old ones (node ports matched by port name); a type that needs none drops the ones it had;
- a cluster IP or node port asked for is honoured unless another Service holds it (422 with
  kube-apiserver's message, naming the field), and a node port outside the range is refused.

`Pool` keeps the numbers in use: it learns them from `load()` (the stored Services) on first
use and then follows the registry's writes, `hold(service)` when one is stored and
`release(service)` when one is replaced or removed, so an allocation never reads every stored
Service (at 500 Services that made creating them quadratic). Allocating takes nothing: the
registry stores the Service (and so holds its numbers) under its write lock, and a Service that
fails validation or is a dry run takes nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from propylon.api.kinds import by_kind
from propylon.apiserver.errors import APIError, invalid

Obj = dict[str, Any]
SERVICES = by_kind("Service", "")
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/16")
NODE_PORTS = range(30000, 32768)


def _spec(service: Obj | None) -> Obj:
    spec = (service or {}).get("spec")
    return spec if isinstance(spec, dict) else {}


def _ports(service: Obj | None) -> list[Obj]:
    ports = _spec(service).get("ports")
    return [p for p in ports if isinstance(p, dict)] if isinstance(ports, list) else []


def _ip_number(ip: Any) -> int | None:
    try:
        return int(ipaddress.IPv4Address(ip))
    except (ipaddress.AddressValueError, ValueError, TypeError):
        return None  # none yet, "None" (headless), or not an IPv4 address


def cluster_ip_numbers(service: Obj) -> set[int]:
    number = _ip_number(_spec(service).get("clusterIP"))
    return set() if number is None else {number}


def node_port_numbers(service: Obj) -> set[int]:
    spec = _spec(service)
    numbers = {p.get("nodePort") for p in _ports(service)} | {spec.get("healthCheckNodePort")}
    return {n for n in numbers if type(n) is int and n in NODE_PORTS}


class Pool:
    """The numbers of `numbers` (a range) that stored Services hold; see the module
    docstring."""

    def __init__(self, numbers: range, held_by: Callable[[Obj], set[int]],
                 load: Callable[[], Iterable[Obj]]) -> None:
        self.numbers = numbers
        self._held_by = held_by
        self._load = load
        self._used: set[int] | None = None
        self._lowest_free = numbers.start  # no number below this one is free

    def _in_use(self) -> set[int]:
        if self._used is None:
            self._used = {n for s in self._load() for n in self._held_by(s)
                          if n in self.numbers}
        return self._used

    def allocate(self, picked: set[int]) -> int | None:
        """The lowest free number not in `picked` (taken by the same request); None when
        none is left."""
        used = self._in_use()
        while self._lowest_free in used:
            self._lowest_free += 1
        number = self._lowest_free
        while number in used or number in picked:
            number += 1
        return number if number in self.numbers else None

    def taken(self, number: int, old: Obj | None) -> bool:
        """Whether another Service than `old` (the one being written) holds `number`."""
        return number in self._in_use() and (old is None or number not in self._held_by(old))

    def hold(self, service: Obj) -> None:
        if self._used is not None:
            self._used |= {n for n in self._held_by(service) if n in self.numbers}

    def release(self, service: Obj) -> None:
        if self._used is not None:
            for number in self._held_by(service):
                self._used.discard(number)
                self._lowest_free = min(self._lowest_free, number)


def needs_node_ports(spec: Obj) -> bool:
    return spec.get("type") == "NodePort" or (
        spec.get("type") == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is not False)


def needs_health_check(spec: Obj) -> bool:
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


class ServiceAllocation:
    """Cluster IPs and node ports of the stored Services; see the module docstring."""

    def __init__(self, load: Callable[[], Iterable[Obj]]) -> None:
        first_ip = int(SERVICE_CIDR.network_address) + 2  # .0 is the network, .1 kept back
        self.cluster_ips = Pool(range(first_ip, int(SERVICE_CIDR.broadcast_address)),
                                cluster_ip_numbers, load)
        self.node_ports = Pool(NODE_PORTS, node_port_numbers, load)

    def hold(self, service: Obj) -> None:
        self.cluster_ips.hold(service)
        self.node_ports.hold(service)

    def release(self, service: Obj) -> None:
        self.cluster_ips.release(service)
        self.node_ports.release(service)

    def fill(self, service: Obj, old: Obj | None) -> None:
        """Complete `service` (its kind's defaults already filled) in place; raise a 422
        naming the field when a number asked for is taken or out of range."""
        spec = service.get("spec")
        if not isinstance(spec, dict):
            return
        name = str((service.get("metadata") or {}).get("name") or "")
        old_spec = _spec(old)
        if spec.get("type") == "ExternalName":
            for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                if key in old_spec and spec.get(key) == old_spec[key]:
                    del spec[key]  # left from the old type
        else:
            self._cluster_ip(name, spec, old_spec, old)
        self._node_ports(name, spec, old_spec, old)

    def _cluster_ip(self, name: str, spec: Obj, old_spec: Obj, old: Obj | None) -> None:
        if not spec.get("clusterIP"):
            ips = spec.get("clusterIPs")
            spec["clusterIP"] = (ips[0] if isinstance(ips, list) and ips
                                 else old_spec.get("clusterIP") or "")
        ip = spec["clusterIP"]
        if not ip:
            number = self.cluster_ips.allocate(set())
            if number is None:
                raise APIError(500, "InternalError", "failed to allocate a serviceIP: the "
                               f"service IP range {SERVICE_CIDR} is full")
            ip = spec["clusterIP"] = str(ipaddress.IPv4Address(number))
        elif (number := _ip_number(ip)) is not None and self.cluster_ips.taken(number, old):
            raise invalid(SERVICES, name, [{
                "reason": "FieldValueInvalid", "field": "spec.clusterIPs",
                "message": f'Invalid value: ["{ip}"]: failed to allocate IP {ip}: provided IP '
                           "is already allocated"}])
        spec["clusterIPs"] = [ip]
        headless_without_selector = ip == "None" and not spec.get("selector")
        if spec.get("ipFamilyPolicy") is None:
            spec["ipFamilyPolicy"] = old_spec.get("ipFamilyPolicy") or (
                "RequireDualStack" if headless_without_selector else "SingleStack")
        if not spec.get("ipFamilies"):
            spec["ipFamilies"] = ["IPv4"]
            if headless_without_selector and spec["ipFamilyPolicy"] != "SingleStack":
                spec["ipFamilies"].append("IPv6")

    def _node_ports(self, name: str, spec: Obj, old_spec: Obj, old: Obj | None) -> None:
        ports = _ports({"spec": spec})
        if not needs_node_ports(spec):
            if spec.get("type") != "LoadBalancer":  # false allocateLoadBalancerNodePorts keeps
                old_ports = {p.get("name"): p.get("nodePort") for p in _ports(old)}
                for port in ports:
                    if "nodePort" in port and port["nodePort"] == old_ports.get(port.get("name")):
                        del port["nodePort"]  # left from the old type
        elif needs_node_ports(old_spec):
            old_ports = {p.get("name"): p.get("nodePort") for p in _ports(old)}
            kept = {p.get("nodePort") for p in ports} & set(old_ports.values())
            for port in ports:
                old_port = old_ports.get(port.get("name"))
                if not port.get("nodePort") and old_port and old_port not in kept:
                    port["nodePort"] = old_port
                    kept.add(old_port)
        if not needs_health_check(spec):
            if spec.get("healthCheckNodePort") == old_spec.get("healthCheckNodePort"):
                spec.pop("healthCheckNodePort", None)
        elif not spec.get("healthCheckNodePort") and needs_health_check(old_spec):
            spec["healthCheckNodePort"] = old_spec.get("healthCheckNodePort")
        picked: set[int] = set()
        by_port: dict[Any, int] = {}
        for i, port in enumerate(ports):
            if port.get("nodePort"):
                self._check(name, f"spec.ports[{i}].nodePort", port["nodePort"], old)
                by_port.setdefault(port.get("port"), port["nodePort"])
                picked.add(port["nodePort"])
        for port in ports:
            if needs_node_ports(spec) and not port.get("nodePort"):
                port["nodePort"] = by_port.get(port.get("port")) or self._next(picked)
                by_port.setdefault(port.get("port"), port["nodePort"])
                picked.add(port["nodePort"])
        if needs_health_check(spec):
            if spec.get("healthCheckNodePort"):
                self._check(name, "spec.healthCheckNodePort", spec["healthCheckNodePort"], old)
            else:
                spec["healthCheckNodePort"] = self._next(picked)

    def _check(self, name: str, field: str, number: Any, old: Obj | None) -> None:
        if type(number) is not int:
            return  # the schema refuses it
        if number not in NODE_PORTS:
            problem = (f"provided port is not in the valid range. The range of valid ports is "
                       f"{NODE_PORTS.start}-{NODE_PORTS.stop - 1}")
        elif self.node_ports.taken(number, old):
            problem = "provided port is already allocated"
        else:
            return
        raise invalid(SERVICES, name, [{"reason": "FieldValueInvalid", "field": field,
                                        "message": f"Invalid value: {number}: {problem}"}])

    def _next(self, picked: set[int]) -> int:
        number = self.node_ports.allocate(picked)
        if number is None:
            raise APIError(500, "InternalError", "failed to allocate a nodePort: range is full")
        return number
