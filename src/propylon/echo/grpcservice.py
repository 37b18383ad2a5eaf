"""The messages of echo-basic's gRPC echo service, built from a descriptor at import time.

The service is the conformance suite's (`gateway_api_conformance.echo_basic.grpcecho`); its
proto, written out:

    message Header { string key = 1; string value = 2; }
    message Context { string namespace = 1; string ingress = 2; string service_name = 3;
                      string pod = 4; }
    message TLSAssertions { string version = 1; repeated string peer_certificates = 2;
                            string server_name = 3; string negotiated_protocol = 4;
                            string cipher_suite = 5; }
    message Assertions { string fully_qualified_method = 1; repeated Header headers = 2;
                         string authority = 3; Context context = 4;
                         TLSAssertions tls_assertions = 5; }
    message EchoRequest {}
    message EchoResponse { Assertions assertions = 1; }
    service GrpcEcho { rpc Echo(EchoRequest) returns (EchoResponse);
                       rpc EchoTwo(EchoRequest) returns (EchoResponse);
                       rpc EchoThree(EchoRequest) returns (EchoResponse); }

Building the `FileDescriptorProto` here keeps the project free of generated code and of a
protoc step. `EchoRequest` and `EchoResponse` are the message classes; `method_path(name)` is
the RPC's HTTP/2 path.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PACKAGE = "gateway_api_conformance.echo_basic.grpcecho"
SERVICE = f"{PACKAGE}.GrpcEcho"
METHODS = ("Echo", "EchoTwo", "EchoThree")

_STRING = descriptor_pb2.FieldDescriptorProto.TYPE_STRING
_MESSAGE = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
_REPEATED = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
_OPTIONAL = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL

# message name -> (field name, number, message type or None for string, repeated)
_MESSAGES: dict[str, tuple[tuple[str, int, str | None, bool], ...]] = {
    "Header": (("key", 1, None, False), ("value", 2, None, False)),
    "Context": (("namespace", 1, None, False), ("ingress", 2, None, False),
                ("service_name", 3, None, False), ("pod", 4, None, False)),
    "TLSAssertions": (("version", 1, None, False), ("peer_certificates", 2, None, True),
                      ("server_name", 3, None, False), ("negotiated_protocol", 4, None, False),
                      ("cipher_suite", 5, None, False)),
    "Assertions": (("fully_qualified_method", 1, None, False), ("headers", 2, "Header", True),
                   ("authority", 3, None, False), ("context", 4, "Context", False),
                   ("tls_assertions", 5, "TLSAssertions", False)),
    "EchoRequest": (),
    "EchoResponse": (("assertions", 1, "Assertions", False),),
}


def _file() -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto(name="grpcecho.proto", package=PACKAGE,
                                               syntax="proto3")
    for name, fields in _MESSAGES.items():
        message = proto.message_type.add(name=name)
        for field_name, number, type_name, repeated in fields:
            field = message.field.add(name=field_name, number=number, type=_STRING,
                                      label=_REPEATED if repeated else _OPTIONAL)
            if type_name:
                field.type = _MESSAGE
                field.type_name = f".{PACKAGE}.{type_name}"
    service = proto.service.add(name="GrpcEcho")
    for method in METHODS:
        service.method.add(name=method, input_type=f".{PACKAGE}.EchoRequest",
                           output_type=f".{PACKAGE}.EchoResponse")
    return proto


_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(_file())
EchoRequest = message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{PACKAGE}.EchoRequest"))
EchoResponse = message_factory.GetMessageClass(
    _POOL.FindMessageTypeByName(f"{PACKAGE}.EchoResponse"))


def method_path(method: str) -> str:
    """`/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/<method>`."""
    return f"/{SERVICE}/{method}"
