"""htpasswd lines of every common hash: which format a line uses (`formats`), whether a password
matches it (`formats.verify`, with `md5crypt` and `shacrypt` computing the crypt(3) schemes),
and an htpasswd text read line by line with a problem per line no one can check (`lines`).

Pure: hashing is CPU work, no I/O. The Envoy basic_auth filter checks `{SHA}` only; the other
formats are checked by Propylon's own ext_authz service (`propylon.basicauth`).
"""
