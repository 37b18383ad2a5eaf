"""The few DNS messages the UDP conformance tests exchange, in wire format (RFC 1035).

The UDP tests query a CoreDNS backend through the Gateway (`dns.Exchange` of miekg/dns: one
A question, a reply counts when it is a response with the query's id). `query(name, ident)`
builds that question; `Question.parse(data)` reads a message's id, flags and first question
(raising ValueError on a message too short or malformed); `reply(question, rcode, additional)`
answers it, echoing the question; `a_record` and `srv_record` are the records CoreDNS's `whoami`
plugin puts in the additional section (the client's address and port); `reply_id(data)` is the
id of a response (ValueError if `data` is not one).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

TYPE_A, TYPE_SRV, CLASS_IN = 1, 33, 1
RCODE_OK, RCODE_SERVFAIL, RCODE_REFUSED = 0, 2, 5
_QR, _RD, _RA, _AA = 0x8000, 0x0100, 0x0080, 0x0400
_HEADER = struct.Struct("!HHHHHH")


def encode_name(name: str) -> bytes:
    """`foo.bar.com.` -> length-prefixed labels ending with the root label."""
    labels = [label for label in name.rstrip(".").split(".") if label]
    if any(len(label.encode()) > 63 for label in labels):
        raise ValueError(f"DNS name {name!r} has a label longer than 63 bytes")
    return b"".join(bytes([len(label.encode())]) + label.encode() for label in labels) + b"\0"


def _decode_name(data: bytes, offset: int) -> tuple[str, int]:
    """The (uncompressed) name at `offset` and the offset after it."""
    labels: list[str] = []
    while True:
        if offset >= len(data):
            raise ValueError("DNS name runs past the message")
        length = data[offset]
        if length & 0xC0:
            raise ValueError("compressed name in a question")
        offset += 1
        if length == 0:
            return ".".join(labels) + ".", offset
        labels.append(data[offset:offset + length].decode(errors="replace"))
        offset += length


def query(name: str, ident: int, qtype: int = TYPE_A) -> bytes:
    """A recursive query for `name` of `qtype` with message id `ident`."""
    return _HEADER.pack(ident, _RD, 1, 0, 0, 0) + encode_name(name) + struct.pack(
        "!HH", qtype, CLASS_IN)


@dataclass(frozen=True)
class Question:
    ident: int
    flags: int
    name: str
    qtype: int
    qclass: int

    @classmethod
    def parse(cls, data: bytes) -> Question:
        if len(data) < _HEADER.size:
            raise ValueError(f"DNS message of {len(data)} bytes is shorter than its header")
        ident, flags, qdcount, _, _, _ = _HEADER.unpack_from(data)
        if qdcount < 1:
            raise ValueError("DNS message without a question")
        name, offset = _decode_name(data, _HEADER.size)
        if offset + 4 > len(data):
            raise ValueError("DNS question runs past the message")
        qtype, qclass = struct.unpack_from("!HH", data, offset)
        return cls(ident, flags, name, qtype, qclass)


def _record(name: str, rtype: int, rdata: bytes, ttl: int = 0) -> bytes:
    return encode_name(name) + struct.pack("!HHIH", rtype, CLASS_IN, ttl, len(rdata)) + rdata


def a_record(name: str, address: str) -> bytes:
    return _record(name, TYPE_A, ipaddress.IPv4Address(address).packed)


def srv_record(name: str, port: int, target: str) -> bytes:
    return _record(name, TYPE_SRV, struct.pack("!HHH", 0, 0, port) + encode_name(target))


def reply(question: Question, rcode: int, additional: tuple[bytes, ...] = ()) -> bytes:
    """The response to `question`: same id, authoritative, no answer records."""
    flags = _QR | _AA | _RA | (question.flags & _RD) | rcode
    return (_HEADER.pack(question.ident, flags, 1, 0, 0, len(additional))
            + encode_name(question.name) + struct.pack("!HH", question.qtype, question.qclass)
            + b"".join(additional))


def reply_id(data: bytes) -> int:
    """The id of the response `data`; ValueError when it is not a DNS response."""
    if len(data) < _HEADER.size:
        raise ValueError(f"{len(data)} bytes are not a DNS message")
    ident, flags = struct.unpack_from("!HH", data)
    if not flags & _QR:
        raise ValueError("the DNS message is a query, not a response")
    return int(ident)
