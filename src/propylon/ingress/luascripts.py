"""Lua scripts the conversion writes for what only a script can say (run by an
EnvoyExtensionPolicy `lua` on the converted HTTPRoute), and the nginx variables they read.

- `www_redirect(code, base)`: ingress-nginx's from-to-www answer: `code` with
  `Location: <base><request_uri>`, one trailing `/` of the request URI dropped (nginx's
  `set_by_lua_block $redir_to`), so `/` is exactly `<base>`.
- `header_script(request, response)`: header directives whose values read nginx variables:
  `request` and `response` are (action, header name, value parts) with action `set`, `add`
  or `remove`, and a value part either literal text or a `Variable`. Request values are read
  when the request arrives (as nginx reads them), kept in the stream's dynamic metadata
  (`propylon.snippet`) for the response's directives.
- `client_certificate(header)`: the request headers ingress-nginx sets on a host checking
  client certificates, which a client cannot send itself: `ssl-client-verify` (`SUCCESS` when
  a certificate was presented, which the handshake then checked, else `NONE`),
  `ssl-client-subject-dn` and `ssl-client-issuer-dn` (RFC 2253, removed without a
  certificate), and with `auth-tls-pass-certificate-to-upstream` the certificate, URL-encoded
  PEM (`$ssl_client_escaped_cert`), in header `header` (None: not forwarded).
`VARIABLES` lists the nginx variables a script can read; `$http_<name>` reads any request
header.
"""

from __future__ import annotations

from dataclasses import dataclass

_METADATA = "propylon.snippet"
# what ingress-nginx tells the backends of a host checking client certificates
CLIENT_CERTIFICATE_HEADERS = ("ssl-client-verify", "ssl-client-subject-dn", "ssl-client-issuer-dn")
# nginx variable -> Lua expression over `h` (the request headers) and `s` (stream info)
VARIABLES = {
    "host": 'host_of(h:get(":authority"))',
    "scheme": 'h:get(":scheme")',
    "request_uri": 'h:get(":path")',
    "uri": '(h:get(":path") or ""):match("^[^?]*")',
    "args": '(h:get(":path") or ""):match("%?(.*)$")',
    "query_string": '(h:get(":path") or ""):match("%?(.*)$")',
    "request_method": 'h:get(":method")',
    "remote_addr": "address_of(s:downstreamDirectRemoteAddress())",
    "server_port": '(h:get(":scheme") == "https") and "443" or "80"',
}
_HELPERS = {  # the functions VARIABLES' expressions call
    "host_of": """local function host_of(authority)
  return ((authority or ""):gsub(":%d+$", "")):lower()
end""",
    "address_of": """local function address_of(address)
  return ((address or ""):gsub(":%d+$", ""):gsub("^%[(.*)%]$", "%1"))
end"""}


@dataclass(frozen=True)
class Variable:
    """An nginx variable read in a value (`$host`, `$http_x_user`)."""

    name: str


Part = str | Variable
Directive = tuple[str, str, tuple[Part, ...]]  # (set | add | remove, header name, value)


def known(name: str) -> bool:
    """Whether a script can read the nginx variable `name`."""
    return name in VARIABLES or (name.startswith("http_") and len(name) > 5)


def quote(text: str) -> str:
    """`text` as a Lua string literal: its UTF-8 bytes, printable ASCII as is but `"` and `\\`,
    every other byte a decimal escape (Lua's `\\ddd`, at most 255)."""
    escaped = "".join(chr(b) if 0x20 <= b < 0x7f and b not in b'"\\' else f"\\{b:03d}"
                      for b in text.encode())
    return f'"{escaped}"'


def _read(name: str) -> str:
    if name.startswith("http_"):
        header = name[5:].replace("_", "-").lower()
        return f'h:get({quote(":authority" if header == "host" else header)})'
    return VARIABLES[name]


def www_redirect(code: int, base: str) -> str:
    """The script answering every request with the from-to-www redirect to `base`."""
    return f"""function envoy_on_request(handle)
  local uri = handle:headers():get(":path") or ""
  if uri:sub(-1) == "/" then
    uri = uri:sub(1, -2)
  end
  handle:respond({{[":status"] = "{code}", ["location"] = {quote(base)} .. uri}}, "")
end
"""


def client_certificate(header: str | None) -> str:
    """The script setting the client certificate headers (module docstring)."""
    names = [*CLIENT_CERTIFICATE_HEADERS, *((header,) if header else ())]
    sets = [f"    headers:add({quote(name)}, ssl:{method}())" for name, method in (
        ("ssl-client-subject-dn", "subjectPeerCertificate"),
        ("ssl-client-issuer-dn", "issuerPeerCertificate"),
        *(((header, "urlEncodedPemEncodedPeerCertificate"),) if header else ()))]
    return "\n".join([
        "function envoy_on_request(handle)",
        "  local headers = handle:headers()",
        "  local ssl = handle:streamInfo():downstreamSslConnection()",
        "  local presented = ssl ~= nil and ssl:peerCertificatePresented()",
        *(f"  headers:remove({quote(name)})" for name in names),
        '  headers:add("ssl-client-verify", presented and "SUCCESS" or "NONE")',
        "  if presented then", *sets, "  end", "end", ""])


def _statements(directives: tuple[Directive, ...], value_of: str) -> list[str]:
    out = []
    for action, name, parts in directives:
        if action == "remove":
            out.append(f"  headers:remove({quote(name)})")
            continue
        value = " .. ".join(quote(p) if isinstance(p, str)
                            else f'({value_of}[{quote(p.name)}] or "")' for p in parts) or '""'
        out.append(f"  headers:{'replace' if action == 'set' else 'add'}({quote(name)}, {value})")
    return out


def header_script(request: tuple[Directive, ...], response: tuple[Directive, ...]) -> str:
    """The script applying the header directives (see the module docstring)."""
    names = sorted({p.name for _, _, parts in (*request, *response) for p in parts
                    if isinstance(p, Variable)})
    reads = [f"  v[{quote(n)}] = ({_read(n)}) or \"\"" for n in names]
    lines = [code for helper, code in _HELPERS.items() if any(helper in r for r in reads)]
    lines += ["function envoy_on_request(handle)",
              "  local h, s = handle:headers(), handle:streamInfo()", "  local v = {}"]
    lines += reads
    if response:
        lines += [f"  s:dynamicMetadata():set({quote(_METADATA)}, {quote(n)}, v[{quote(n)}])"
                  for n in names]
    lines += ["  local headers = h", *_statements(request, "v"), "end"]
    if response:
        lines += ["function envoy_on_response(handle)",
                  f"  local v = handle:streamInfo():dynamicMetadata():get({quote(_METADATA)})"
                  " or {}",
                  "  local headers = handle:headers()", *_statements(response, "v"), "end"]
    return "\n".join(lines) + "\n"
