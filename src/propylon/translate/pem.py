"""Certificates and keys as Envoy judges them, before they are sent.

Envoy refuses a TLS certificate whose PEM it cannot load, and with it the listener (or cluster)
that uses it, so each one is parsed here with `cryptography` first. What Envoy 1.40 refuses was
found with the real binary (`envoy --mode validate` on a listener with the inline PEM):

- `key_pair_problem(cert, key)`, a `tls.crt` / `tls.key` pair: every CERTIFICATE block of the
  chain must parse, and there must be one; the key (the first PEM key block) must parse and not
  be encrypted (Envoy has no passphrase); it must be RSA of 2048 bits or more, ECDSA on P-256,
  P-384 or P-521, or Ed25519 (Envoy refuses RSA-1024, secp256k1, Ed448, DSA, and RSA-PSS
  certificates, whose key cryptography loads as RSA); and it must be
  the key of the chain's *first* certificate (a chain with the CA first is refused as well).
  Text around the PEM blocks is ignored, as Envoy does, and so is a block whose BEGIN line
  does not start a line (indented): Envoy does not see it.
- `ca_bundle_problem(pem)`, a CA bundle (`ca.crt`): every CERTIFICATE block must parse and there
  must be at least one; other PEM blocks and text are ignored, as Envoy does.

Each returns a sentence naming the key and what is wrong, ending with the fix, or None. Verdicts
are cached by a SHA-256 digest of the content (so a Secret is parsed once per content, not per
listener or pass, and the cache holds no key material). RSA keys are loaded without
cryptography's own consistency check (about 90 ms per 2048-bit key): the key is compared with
the certificate's public key instead.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable
from functools import wraps

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.x509.oid import PublicKeyAlgorithmOID

MIN_RSA_BITS = 2048
CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
# certificate key algorithms Envoy takes (an RSA-PSS key loads as an RSA key, but not in Envoy)
_ALGORITHMS = (PublicKeyAlgorithmOID.RSAES_PKCS1_v1_5, PublicKeyAlgorithmOID.EC_PUBLIC_KEY,
               PublicKeyAlgorithmOID.ED25519)
_BLOCK = re.compile(r"^-----BEGIN ([A-Z0-9 ]+)-----\r?$.*?^-----END \1-----\r?$", re.M | re.S)
CACHE_SIZE = 4096
_NO_BLOCK = "no line starts with -----BEGIN"
_SUPPORTED = "RSA of 2048 bits or more, ECDSA on P-256, P-384 or P-521, or Ed25519"


def _by_digest(check: Callable[..., str | None]) -> Callable[..., str | None]:
    """`check` with its verdicts cached (least recently used first out) by a digest of its
    arguments."""
    verdicts: OrderedDict[bytes, str | None] = OrderedDict()

    @wraps(check)
    def cached(*texts: str) -> str | None:
        digest = hashlib.sha256("\0".join(texts).encode()).digest()
        if digest in verdicts:
            verdicts.move_to_end(digest)
            return verdicts[digest]
        verdict = verdicts[digest] = check(*texts)
        if len(verdicts) > CACHE_SIZE:
            verdicts.popitem(last=False)
        return verdict
    return cached


def _reason(e: Exception) -> str:
    """The parser's message without its pointer to a FAQ."""
    return str(e).split(". See https://")[0]


def _armored(text: str) -> bytes:
    """The PEM blocks of `text` that Envoy sees: those whose BEGIN and END lines start a line."""
    return "\n".join(m.group(0) for m in _BLOCK.finditer(text)).encode()


def _certificates(pem: str, key: str) -> list[x509.Certificate] | str:
    blocks = _armored(pem)
    if not blocks:
        return f"{key} is not a PEM certificate: {_NO_BLOCK}"
    try:
        return x509.load_pem_x509_certificates(blocks)
    except ValueError as e:
        return f"{key} is not a PEM certificate: {_reason(e)}"


@_by_digest
def key_pair_problem(cert: str, key: str) -> str | None:
    """Why Envoy would refuse this certificate chain (`tls.crt`) and private key (`tls.key`)."""
    chain = _certificates(cert, "tls.crt")
    if isinstance(chain, str):
        return (f"{chain}: put the PEM certificate chain, the certificate of tls.key first, "
                "in tls.crt")
    private = _private_key(key)
    if isinstance(private, str):
        return private
    kind = _unsupported(private)
    if kind is not None:
        return f"tls.key is {kind}, which Envoy does not support: use {_SUPPORTED}"
    algorithm = chain[0].public_key_algorithm_oid
    if algorithm not in _ALGORITHMS:
        name = ("RSA-PSS" if algorithm == PublicKeyAlgorithmOID.RSASSA_PSS
                else f"{algorithm.dotted_string} (OID)")
        return (f"the first certificate of tls.crt has an {name} public key, which Envoy does "
                f"not support: use {_SUPPORTED}")
    public = _spki(private.public_key())
    if _spki(chain[0].public_key()) == public:
        return None
    if any(_spki(c.public_key()) == public for c in chain[1:]):
        return ("private key in tls.key matches a later certificate of tls.crt, not the first: "
                "put the certificate of that key first in tls.crt, then its issuers")
    return ("private key in tls.key does not match the certificate in tls.crt: put the key of "
            "that certificate in tls.key, or the certificate of that key in tls.crt")


@_by_digest
def ca_bundle_problem(pem: str, key: str = "ca.crt") -> str | None:
    """Why Envoy would refuse this CA bundle (`key` names where it is, for the message)."""
    certs = _certificates(pem, key)
    if isinstance(certs, str):
        return f"{certs}: put one or more PEM CA certificates in {key}"
    return None


def _private_key(key: str) -> PrivateKeyTypes | str:
    """The first PEM private key of `key`, or why Envoy could not load it, with the fix."""
    blocks = _armored(key)
    reason = _NO_BLOCK
    if blocks:
        try:
            return serialization.load_pem_private_key(blocks, password=None,
                                                      unsafe_skip_rsa_key_validation=True)
        except TypeError:
            return ("tls.key is an encrypted private key, which Envoy cannot decrypt: store it "
                    "unencrypted (openssl pkey -in tls.key -out plain.key)")
        except (ValueError, UnsupportedAlgorithm) as e:
            reason = _reason(e)
    return f"tls.key is not a PEM private key: {reason}: put the certificate's key in tls.key"


def _unsupported(private: PrivateKeyTypes) -> str | None:
    """A description of `private` when Envoy refuses its kind, else None."""
    if isinstance(private, rsa.RSAPrivateKey):
        bits = private.key_size
        return f"a {bits}-bit RSA key" if bits < MIN_RSA_BITS else None
    if isinstance(private, ec.EllipticCurvePrivateKey):
        return None if isinstance(private.curve, CURVES) else f"an EC key on {private.curve.name}"
    if isinstance(private, ed25519.Ed25519PrivateKey):
        return None
    names = {dsa.DSAPrivateKey: "a DSA key", ed448.Ed448PrivateKey: "an Ed448 key"}
    return next((n for t, n in names.items() if isinstance(private, t)), "a key of another kind")


def _spki(public: PublicKeyTypes) -> bytes:
    return public.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)
