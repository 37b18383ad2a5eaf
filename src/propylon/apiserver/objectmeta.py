"""The checks kube-apiserver makes on every object's metadata (`ValidateObjectMeta`).

`meta_causes(info, obj)` returns 422 causes for: a `metadata.name` that is not a DNS subdomain
(a DNS label for a Namespace); label keys that are not qualified names (an optional DNS
subdomain prefix and '/', then at most 63 alphanumeric characters, '-', '_' or '.') and label
values that are not valid label values; annotation keys that are not qualified names; and
annotations whose keys and values together exceed 256 KiB (262144 bytes), the limit that keeps
an object within what a client and the store handle. Messages are kube-apiserver's, so kubectl
prints what a user would see on a cluster. `unknown_meta_fields` names the fields ObjectMeta
does not have, which the API server prunes as it prunes unknown fields elsewhere.
"""

from __future__ import annotations

import re
from typing import Any

from propylon.api.formats import DNS_LABEL, DNS_SUBDOMAIN, LABEL_VALUE
from propylon.api.kinds import KindInfo

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
OBJECT_META_FIELDS = frozenset((
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
    "annotations", "ownerReferences", "finalizers", "managedFields"))

_DNS_SUBDOMAIN = re.compile(DNS_SUBDOMAIN)
_DNS_LABEL = re.compile(DNS_LABEL)
_NAME_PART = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(LABEL_VALUE)
_NAME_PART_RULE = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and "
                   "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
                   "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?"
                   "[A-Za-z0-9]')")
_SUBDOMAIN_RULE = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                   "characters, '-' or '.', and must start and end with an alphanumeric "
                   "character")


def _cause(reason: str, field: str, message: str) -> dict[str, str]:
    return {"reason": reason, "field": field, "message": message}


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _name_causes(info: KindInfo, meta: dict[str, Any]) -> list[dict[str, str]]:
    name = meta.get("name")
    if not name:
        return [_cause("FieldValueRequired", "metadata.name",
                       "Required value: name or generateName is required")]
    pattern, limit, what = (_DNS_LABEL, 63, "RFC 1123 label") if info.kind == "Namespace" \
        else (_DNS_SUBDOMAIN, 253, "RFC 1123 subdomain")
    if not isinstance(name, str) or len(name) > limit or not pattern.match(name):
        return [_cause("FieldValueInvalid", "metadata.name",
                       f'Invalid value: "{name}": a lowercase {what} must consist of lower '
                       "case alphanumeric characters, '-' or '.', and must start and end "
                       f"with an alphanumeric character (at most {limit} characters)")]
    return []


def qualified_name_problem(key: str) -> str | None:
    """Why `key` is not a qualified name (`[prefix/]name`), or None."""
    parts = key.split("/")
    if len(parts) > 2:
        return (f"a qualified name {_NAME_PART_RULE} with an optional DNS subdomain prefix and "
                "'/' (e.g. 'example.com/MyName')")
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            return "prefix part must be non-empty"
        if len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix):
            return f"prefix part {_SUBDOMAIN_RULE} (e.g. 'example.com')"
    name = parts[-1]
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _NAME_PART.match(name):
        return f"name part {_NAME_PART_RULE}"
    return None


def _string_map(meta: dict[str, Any], field: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    value = meta.get(field)
    if value is None:
        return {}, []
    path = f"metadata.{field}"
    if not isinstance(value, dict):
        return {}, [_cause("FieldValueInvalid", path,
                           f"Invalid value: {type(value).__name__}: must be a map of strings")]
    wrong = [k for k, v in value.items() if not isinstance(v, str)]
    if wrong:
        return {}, [_cause("FieldValueInvalid", f"{path}[{k}]",
                           f"Invalid value: {value[k]!r}: must be a string (quote it)")
                    for k in wrong]
    return value, []


def _label_causes(meta: dict[str, Any]) -> list[dict[str, str]]:
    labels, causes = _string_map(meta, "labels")
    for key, value in labels.items():
        problem = qualified_name_problem(key)
        if problem:
            causes.append(_cause("FieldValueInvalid", "metadata.labels",
                                 f"Invalid value: {_quote(key)}: {problem}"))
        if len(value) > 63:
            causes.append(_cause("FieldValueInvalid", "metadata.labels",
                                 f"Invalid value: {_quote(value)}: must be no more than 63 "
                                 "characters"))
        elif not _LABEL_VALUE.match(value):
            causes.append(_cause(
                "FieldValueInvalid", "metadata.labels",
                f"Invalid value: {_quote(value)}: a valid label must be an empty string or "
                "consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                "with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
                "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"))
    return causes


def _annotation_causes(meta: dict[str, Any]) -> list[dict[str, str]]:
    annotations, causes = _string_map(meta, "annotations")
    total = 0
    for key, value in annotations.items():
        problem = qualified_name_problem(key.lower())
        if problem:
            causes.append(_cause("FieldValueInvalid", "metadata.annotations",
                                 f"Invalid value: {_quote(key)}: {problem}"))
        total += len(key.encode()) + len(value.encode())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        causes.append(_cause("FieldValueTooLong", "metadata.annotations",
                             f"Too long: must have at most {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"))
    return causes


def meta_causes(info: KindInfo, obj: dict[str, Any]) -> list[dict[str, str]]:
    """Every problem of `obj`'s metadata, as 422 causes (empty when it is valid)."""
    meta = obj.get("metadata") or {}
    return _name_causes(info, meta) + _label_causes(meta) + _annotation_causes(meta)


def unknown_meta_fields(obj: dict[str, Any]) -> list[str]:
    """The paths of `metadata` fields that ObjectMeta does not have (`metadata.foo`)."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return []
    return [f"metadata.{key}" for key in meta if key not in OBJECT_META_FIELDS]
