"""The xDS agent's files: swapped in atomically through `..data` (the old version removed, the
key 0600), and fetched again when due: no certificate, one near its end, or a changed CA bundle
in the mounted ConfigMap."""

from __future__ import annotations

import datetime
from pathlib import Path

from propylon import pki
from propylon.infra.kubernetes import agent
from tests.certificates import proxy_client

POLICY = pki.Policy()


def issued(ca: pki.KeyPair, policy: pki.Policy = POLICY) -> dict[str, bytes]:
    client = proxy_client(ca, "default/web", policy)
    return {"tls.crt": client.cert, "tls.key": client.key, "ca.crt": ca.cert}


def test_a_renewal_swaps_every_file_at_once(tmp_path: Path) -> None:
    ca = pki.new_ca(POLICY)
    first, second = issued(ca), issued(ca)
    agent.write(tmp_path, first)
    agent.write(tmp_path, second)
    assert agent.current(tmp_path) == second
    for name in agent.FILES:
        assert (tmp_path / name).readlink() == Path(agent.DATA_LINK, name)
    [version] = [p for p in tmp_path.iterdir() if p.is_dir() and not p.is_symlink()]
    assert (tmp_path / agent.DATA_LINK).readlink() == Path(version.name)  # the old one is gone
    assert (version / "tls.key").stat().st_mode & 0o777 == 0o600


def test_a_certificate_is_fetched_when_missing_due_or_the_bundle_changed(tmp_path: Path) -> None:
    ca, bundle = pki.new_ca(POLICY), tmp_path / "ca.crt"
    certs = tmp_path / "certs"
    certs.mkdir()
    bundle.write_bytes(ca.cert)
    assert agent.due(certs, bundle) == "no certificate yet"
    agent.write(certs, issued(ca))
    assert agent.due(certs, bundle) is None
    bundle.write_bytes(pki.trust_bundle(pki.new_ca(POLICY).cert, ca.cert))
    assert agent.due(certs, bundle) == "the controller's CA bundle changed"
    # valid 6 minutes (5 back-dated), 1 left: less than a third
    short = pki.Policy(leaf_validity=datetime.timedelta(minutes=1))
    agent.write(certs, {**issued(ca, short), "ca.crt": bundle.read_bytes()})
    assert agent.due(certs, bundle) == "the certificate is due for renewal"
