"""An htpasswd text read: entries of every supported format kept, each other line reported
with its number, user and format; `{SHA}`-only texts are those Envoy's basic_auth checks."""

from __future__ import annotations

from propylon.htpasswd import lines

BCRYPT = "$2y$04$wHxWVFcqv1CXVBKNIqG5VO4N8ZuVD1VRZ7zGJ8MP7SQ3wBa1AdlCW"
SHA = "{SHA}Ys23Ag/5IOWqZCw9QGaVDdHwH00="


def test_supported_lines_are_kept_and_normalised() -> None:
    found = lines.read(f"# users\r\nfoo:{SHA}\r\n\r\n  alice:{BCRYPT}  \r\n")
    assert found.problems == ()
    assert [(e.user, e.scheme) for e in found.entries] == [("foo", "{SHA}"), ("alice", "$2")]
    assert found.text() == f"foo:{SHA}\nalice:{BCRYPT}\n"
    assert not found.sha_only
    assert lines.read(f"foo:{SHA}\n").sha_only


def test_each_bad_line_is_named_with_its_number_user_and_format() -> None:
    found = lines.read(f"foo:{SHA}\nbob:rl7U5i3GE5lyg\nnocolon\nfoo:{BCRYPT}\ncarol:$9$x$y\n")
    assert [e.user for e in found.entries] == ["foo"]
    assert found.problems[0].startswith('line 2 (user "bob"): a DES-crypt hash')
    assert found.problems[0].endswith("re-create the line with htpasswd -B (bcrypt)")
    assert found.problems[1] == "line 3: not user:hash"
    assert found.problems[2] == ('line 4 (user "foo"): names a user of an earlier line: keep '
                                 "one line per user")
    assert found.problems[3].startswith('line 5 (user "carol"): the unknown scheme "9"')
