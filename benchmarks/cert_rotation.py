"""Listener certificate rotation under steady HTTPS load: failed requests, time to serve, Envoy pid.

`python -m benchmarks.cert_rotation --rotations 10 --interval 1` starts the stack with one
Gateway whose HTTPS listener (port 8443, host `bench.test`) serves the certificate of the
`kubernetes.io/tls` Secret `bench-tls` (issued by a CA of the benchmark's own) and routes to
nginx. While `--keepalive` clients send requests one after the other on one kept-alive
connection each and `--new-conn` clients open a new TLS connection for every request, the
Secret is replaced `--rotations` times (a merge patch with a certificate of a new serial
number), every `--interval` seconds. Each rotation row gives:

- `served_ms`: from the write of the Secret until a new TLS connection is handed the new
  certificate (a probe that checks the serial number);
- `requests`, `failed` (any answer but 200) and `connection_errors` (connect, TLS or read
  errors, timeouts) counted by the clients from the start of the load until then;
- `envoy_pid`: the pid of the Gateway's Envoy, which must never change (certificates reach it
  over SDS: no restart, no hot restart).

Zero failed requests, zero connection errors and one Envoy pid are the target: the script
prints a verdict and exits with status 1 when one of them is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import ssl
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from benchmarks.common import NS, Api, Nginx, Report, Stack, free_port, median, pct

HOST = "bench.test"
PORT = 8443
SECRET = "bench-tls"


@dataclass(frozen=True)
class Issuer:
    """The benchmark's CA: the clients trust it, every listener certificate is signed by it."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls) -> Issuer:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cert-rotation bench CA")])
        cert = (_builder(name, name, key.public_key(), 1)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))
        return cls(cert, key)

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def secret(self, serial: int) -> dict[str, Any]:
        """The Secret `bench-tls` holding a new certificate for `bench.test` with `serial`."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
        cert = (_builder(name, self.cert.subject, key.public_key(), serial)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
                .sign(self.key, hashes.SHA256()))
        pems = (cert.public_bytes(serialization.Encoding.PEM),
                key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
        return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                "metadata": {"name": SECRET, "namespace": NS},
                "data": {k: base64.b64encode(v).decode() for k, v in zip(("tls.crt", "tls.key"),
                                                                          pems, strict=True)}}


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey,
             serial: int) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(public_key).serial_number(serial)
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1)))


def objects(backend_port: int) -> list[dict[str, Any]]:
    """GatewayClass, Gateway `bench` (HTTPS on 8443), Service, EndpointSlice and HTTPRoute."""
    return [
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
         "metadata": {"name": "bench"},
         "spec": {"controllerName": "propylon.dev/gateway-controller"}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
         "metadata": {"name": "bench", "namespace": NS},
         "spec": {"gatewayClassName": "bench", "listeners": [{
             "name": "https", "port": PORT, "protocol": "HTTPS", "hostname": HOST,
             "tls": {"mode": "Terminate", "certificateRefs": [{"name": SECRET}]}}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "app", "namespace": NS},
         "spec": {"ports": [{"name": "http", "port": 80, "targetPort": backend_port}]}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": "app", "namespace": NS,
                      "labels": {"kubernetes.io/service-name": "app"}},
         "addressType": "IPv4", "ports": [{"name": "http", "port": backend_port}],
         "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
         "metadata": {"name": "app", "namespace": NS},
         "spec": {"parentRefs": [{"name": "bench"}], "hostnames": [HOST],
                  "rules": [{"backendRefs": [{"name": "app", "port": 80}]}]}},
    ]


@dataclass
class Counts:
    requests: int = 0
    failed: int = 0
    connection_errors: int = 0


class Load:
    """HTTPS clients sending GETs to `https://bench.test:8443/` until stopped."""

    def __init__(self, address: str, context: ssl.SSLContext, keepalive: int,
                 new_conn: int) -> None:
        self.url = f"https://{address}:{PORT}/"
        self.context = context
        self.counts = Counts()
        self._stop = asyncio.Event()
        self._tasks = [asyncio.create_task(self._client(force_close=False))
                       for _ in range(keepalive)]
        self._tasks += [asyncio.create_task(self._client(force_close=True))
                        for _ in range(new_conn)]

    async def _client(self, force_close: bool) -> None:
        connector = aiohttp.TCPConnector(ssl=self.context, limit=1, force_close=force_close)
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            while not self._stop.is_set():
                self.counts.requests += 1
                try:
                    async with session.get(self.url, server_hostname=HOST,
                                           headers={"Host": HOST}) as response:
                        await response.read()
                        if response.status != 200:
                            self.counts.failed += 1
                except (TimeoutError, aiohttp.ClientError, OSError):
                    self.counts.connection_errors += 1

    async def stop(self) -> Counts:
        self._stop.set()
        await asyncio.gather(*self._tasks)
        return self.counts


async def served_serial(address: str, context: ssl.SSLContext) -> int:
    """The serial number of the certificate a new TLS connection to the listener is handed."""
    _, writer = await asyncio.open_connection(address, PORT, ssl=context, server_hostname=HOST)
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
    return x509.load_der_x509_certificate(der).serial_number


async def until_serial(address: str, context: ssl.SSLContext, serial: int,
                       timeout: float = 60.0) -> float:
    """Probe new connections until the listener serves `serial`; the monotonic time it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if await served_serial(address, context) == serial:
                return time.monotonic()
        except (OSError, ssl.SSLError):
            pass
        await asyncio.sleep(0.005)
    raise TimeoutError(f"the listener never served the certificate with serial {serial}")


async def main_async(args: argparse.Namespace) -> bool:
    report = Report("cert_rotation", "Listener certificate rotation under HTTPS load",
                    out=args.out)
    issuer = Issuer.create()
    context = ssl.create_default_context(cadata=issuer.pem)
    backend_port = free_port()
    async with Nginx(backend_port), Stack() as stack, Api(stack.kubeconfig) as api:
        await api.create(issuer.secret(serial=100))
        await api.create_all(objects(backend_port))
        address = await api.gateway_address()
        await until_serial(address, context, 100)
        pids = {stack.envoy()["pid"]}
        load = Load(address, context, args.keepalive, args.new_conn)
        served: list[float] = []
        for rotation in range(1, args.rotations + 1):
            await asyncio.sleep(args.interval)
            serial = 100 + rotation
            secret = issuer.secret(serial)
            started = time.monotonic()
            await api.replace(secret)
            served.append((await until_serial(address, context, serial) - started) * 1000)
            pid = stack.envoy()["pid"]
            pids.add(pid)
            report.add({"rotation": rotation, "served_ms": served[-1],
                        "requests": load.counts.requests, "failed": load.counts.failed,
                        "connection_errors": load.counts.connection_errors, "envoy_pid": pid})
        await asyncio.sleep(args.interval)
        counts = await load.stop()
    report.extra.update({"requests": counts.requests, "failed": counts.failed,
                         "connection_errors": counts.connection_errors,
                         "served_p50_ms": median(served), "served_max_ms": pct(served, 100),
                         "envoy_pids": sorted(pids)})
    report.write([("served", "rotation", ["served_ms"])])
    ok = counts.failed == 0 and counts.connection_errors == 0 and len(pids) == 1
    print(f"{args.rotations} rotations under load: {counts.requests} requests, "
          f"{counts.failed} failed, {counts.connection_errors} connection errors; served after "
          f"{median(served):.0f} ms (p50), {pct(served, 100):.0f} ms (max); Envoy pid "
          f"{'unchanged' if len(pids) == 1 else 'CHANGED'} ({', '.join(map(str, sorted(pids)))})"
          f": {'OK' if ok else 'FAILED'}")
    return ok


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rotations", type=int, default=10)
    p.add_argument("--interval", type=float, default=1.0, help="seconds of load between rotations")
    p.add_argument("--keepalive", type=int, default=4, help="clients on kept-alive connections")
    p.add_argument("--new-conn", type=int, default=4, help="clients opening a connection per request")
    p.add_argument("--out", type=Path, default=Report("", "").out)
    sys.exit(0 if asyncio.run(main_async(p.parse_args())) else 1)


if __name__ == "__main__":
    main()
