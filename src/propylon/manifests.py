"""Manifests: load YAML/JSON files, server-side apply them, and keep a directory applied.

`load_manifests(paths)` reads files and directories (recursively: `*.yaml`, `*.yml`, `*.json`,
hidden files skipped), every YAML document of a file, with `kind: List` (or `...List`) expanded
into its items. Each `Manifest` remembers its file, document index and line, and errors
(`ManifestError`) name the file and line: malformed YAML or JSON, a document that is not a
mapping, an object without apiVersion, kind or metadata.name.

`apply_objects(client, objects)` server-side applies each object (create or update, as
`kubectl apply --server-side`), Namespaces first, and returns one `ApplyOutcome` per object with a
kubectl-like line (`gateway.gateway.networking.k8s.io/api-gateway serverside-applied`) or the
server's error for that object. One failure does not stop the others.

`ManifestSync` is `propylon up -f PATH...`: it applies everything under the paths, then polls
the files' modification times every `poll_s` seconds and re-applies the files that changed. It
applies as its own field manager, `propylon-up` (forcing conflicts: the files win for the fields
they set), so server-side apply merges the files into what kubectl added to the same objects (a
listener added with `kubectl apply` or `kubectl patch` stays, across restarts too) and removes
only the fields a file stops setting that no other manager owns. Objects that an older
`propylon up -f` applied as the manager `propylon` are handed over once, at the first pass: that
manager's `Apply` entry in their managedFields is renamed `propylon-up` (only for objects the
state file says this sync applied and that still carry its annotation).
Every object it applies carries the annotation `propylon.dev/applied-from: <file>`, and the set
of objects applied per file is persisted in a JSON state file. It also records the object as its
file holds it in `kubectl.kubernetes.io/last-applied-configuration`, exactly as `kubectl apply`
would have: so `kubectl apply -f` of the same file finds it unchanged, warns about no missing
annotation, and removes a field dropped from the file, as on a cluster after `kubectl apply`. When a file is removed, or an
object is removed from a file, the object is deleted, but only if the live object still carries
the annotation naming that file: objects created or taken over with kubectl are never pruned.
Because the state is on disk, a file removed while Propylon was stopped is pruned at the next
start. Errors go to the `on_message` callback (and the log); the sync never stops on them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from propylon.api.kinds import KindInfo, by_api_version
from propylon.client import KubeClient, KubeError, PatchType, resource_class

log = logging.getLogger(__name__)

APPLIED_FROM = "propylon.dev/applied-from"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SYNC_FIELD_MANAGER = "propylon-up"
LEGACY_FIELD_MANAGER = "propylon"  # what `propylon up -f` applied as before it had its own
SUFFIXES = (".yaml", ".yml", ".json")


class ManifestError(Exception):
    """A manifest file cannot be used; the message names the file, the line and the problem."""


@dataclass(frozen=True)
class Manifest:
    """One object read from a file: `index` is the document's position in the file (from 0),
    `line` the line (from 1) where the object starts."""

    source: Path
    index: int
    line: int
    obj: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


@dataclass(frozen=True)
class ObjectRef:
    """Where an object lives on the server."""

    api_version: str
    kind: str
    namespace: str | None
    name: str

    @property
    def info(self) -> KindInfo:
        return by_api_version(self.api_version, self.kind)

    def __str__(self) -> str:
        """kubectl's `<resource>.<group>/<name>` (`service/backend` for the core group)."""
        try:
            info = self.info
            resource = f"{info.singular}.{info.group}" if info.group else info.singular
        except KeyError:
            resource = self.kind.lower()
        return f"{resource}/{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {"apiVersion": self.api_version, "kind": self.kind,
                "namespace": self.namespace, "name": self.name}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ObjectRef:
        return cls(data["apiVersion"], data["kind"], data.get("namespace"), data["name"])


@dataclass(frozen=True)
class ApplyOutcome:
    ref: ObjectRef
    ok: bool
    message: str  # kubectl-like line, or the error naming the object (and the file, if known)
    source: Path | None = None


# -- loading ----------------------------------------------------------------------------------


def manifest_files(paths: Sequence[Path]) -> list[Path]:
    """The manifest files under `paths`, in a stable order. ManifestError if a path is missing."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*")
                                if p.is_file() and p.suffix in SUFFIXES
                                and not any(part.startswith(".") for part in p.relative_to(path).parts)))
        elif path.is_file():
            files.append(path)
        else:
            raise ManifestError(f"{path}: no such file or directory")
    return files


def load_manifests(paths: Sequence[Path]) -> list[Manifest]:
    """Every object in the files and directories `paths`; see the module docstring."""
    manifests: list[Manifest] = []
    for file in manifest_files(paths):
        manifests.extend(load_file(file))
    return manifests


def load_file(path: Path) -> list[Manifest]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ManifestError(f"{path}: cannot read: {err}") from err
    documents = _json_documents(path, text) if path.suffix == ".json" else _yaml_documents(path, text)
    manifests: list[Manifest] = []
    for index, (line, doc) in enumerate(documents):
        if doc is None:
            continue
        for obj_line, obj in _expand(path, line, doc):
            _check(path, obj_line, obj)
            manifests.append(Manifest(path, index, obj_line, obj))
    return manifests


def _yaml_documents(path: Path, text: str) -> list[tuple[int, Any]]:
    loader = yaml.SafeLoader(text)
    documents: list[tuple[int, Any]] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # check_node() said there is one
                break
            documents.append((node.start_mark.line + 1, loader.construct_document(node)))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else 0
        raise ManifestError(f"{path}:{line}: malformed YAML: {err.problem or err.context}") from err
    except yaml.YAMLError as err:
        raise ManifestError(f"{path}: malformed YAML: {err}") from err
    finally:
        loader.dispose()
    return documents


def _json_documents(path: Path, text: str) -> list[tuple[int, Any]]:
    try:
        return [(1, json.loads(text))]
    except json.JSONDecodeError as err:
        raise ManifestError(f"{path}:{err.lineno}: malformed JSON: {err.msg}") from err


def _expand(path: Path, line: int, doc: Any) -> list[tuple[int, Any]]:
    if isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List") and "items" in doc:
        items = doc["items"] or []
        if not isinstance(items, list):
            raise ManifestError(f"{path}:{line}: {doc['kind']}.items must be a list of objects")
        return [(line, item) for item in items]
    return [(line, doc)]


def _check(path: Path, line: int, obj: Any) -> None:
    if not isinstance(obj, dict):
        raise ManifestError(f"{path}:{line}: expected an object (a mapping with apiVersion, kind "
                            f"and metadata), found {type(obj).__name__}")
    for field in ("apiVersion", "kind"):
        if not isinstance(obj.get(field), str) or not obj[field]:
            raise ManifestError(f"{path}:{line}: object has no {field}: add `{field}:` "
                                "(for example `apiVersion: gateway.networking.k8s.io/v1`)")
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise ManifestError(f"{path}:{line}: {obj['kind']} has no metadata.name: add "
                            "`metadata: {name: ...}`")


# -- applying ---------------------------------------------------------------------------------


def object_ref(obj: Mapping[str, Any], default_namespace: str) -> ObjectRef:
    """The object's address, with the default namespace filled in for namespaced kinds."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    try:
        if by_api_version(obj["apiVersion"], obj["kind"]).namespaced:
            namespace = namespace or default_namespace
        else:
            namespace = None
    except KeyError:
        pass
    return ObjectRef(obj["apiVersion"], obj["kind"], namespace, meta["name"])


def last_applied(obj: Mapping[str, Any], default_namespace: str) -> str:
    """The `last-applied-configuration` that `kubectl apply -f` records for `obj` as written in
    its file: the object with its namespace filled in, its annotations without this one (an empty
    map if none is left), as Go's encoding/json writes it (keys sorted, compact, `<`, `>` and `&`
    escaped, a final newline), so kubectl finds it byte for byte as it would have written it."""
    body = dict(obj)
    meta = dict(body.get("metadata") or {})
    namespace = object_ref(obj, default_namespace).namespace
    if namespace is not None:
        meta["namespace"] = namespace
    meta["annotations"] = {k: v for k, v in (meta.get("annotations") or {}).items()
                           if k != LAST_APPLIED}
    body["metadata"] = meta
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in _GO_JSON_ESCAPES.items():
        text = text.replace(char, escaped)
    return text + "\n"


# Characters Go's encoding/json escapes inside strings that Python's json leaves as they are.
_GO_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                    "\u2028": "\\u2028", "\u2029": "\\u2029"}


async def apply_objects(client: KubeClient,
                        objects: Sequence[Manifest | Mapping[str, Any]],
                        field_manager: str = "propylon", force: bool = True) -> list[ApplyOutcome]:
    """Server-side apply every object (Namespaces first); one outcome per object."""
    items = [o if isinstance(o, Manifest) else Manifest(Path(), 0, 0, dict(o)) for o in objects]
    items.sort(key=lambda m: m.obj.get("kind") != "Namespace")  # stable: file order otherwise
    return [await _apply_one(client, m, field_manager, force) for m in items]


async def _apply_one(client: KubeClient, m: Manifest, field_manager: str,
                     force: bool) -> ApplyOutcome:
    ref = object_ref(m.obj, client.namespace)
    source = m.source if m.line else None
    where = f"{m.where}: " if source else ""
    try:
        info = ref.info
    except KeyError:
        return ApplyOutcome(ref, False, f"{where}error: {ref.kind} of apiVersion {ref.api_version} "
                                        f"({ref.name}) is not served: check apiVersion and kind",
                            source)
    body = dict(m.obj)
    body["metadata"] = dict(body["metadata"])
    if ref.namespace is not None:
        body["metadata"]["namespace"] = ref.namespace
    try:
        await client.apply(resource_class(info)(body), field_manager=field_manager, force=force)
    except KubeError as err:
        reason = err.reason or "Error"
        return ApplyOutcome(ref, False, f"{where}Error from server ({reason}): {ref}: "
                                        f"{err.message}", source)
    except Exception as err:  # noqa: BLE001 - the API is unreachable or answered garbage
        return ApplyOutcome(ref, False, f"{where}error applying {ref}: {err}", source)
    return ApplyOutcome(ref, True, f"{ref} serverside-applied", source)


async def delete_object(client: KubeClient, ref: ObjectRef) -> None:
    """Delete one object; an object already gone is not an error."""
    try:
        await client.delete(resource_class(ref.info), ref.name, namespace=ref.namespace or None)
    except KubeError as err:
        if err.code != 404:
            raise


# -- keeping a directory applied --------------------------------------------------------------

FileStamp = tuple[int, int]  # mtime_ns, size


class ManifestSync:
    """Applies the manifests under `paths` and keeps them applied; see the module docstring."""

    def __init__(self, client: KubeClient, paths: Sequence[Path], state_file: Path,
                 on_message: Callable[[str], None] | None = None, *,
                 field_manager: str = SYNC_FIELD_MANAGER, poll_s: float = 0.5) -> None:
        self.client = client
        self.paths = [Path(p) for p in paths]
        self.state_file = Path(state_file)
        self.on_message = on_message
        self.field_manager = field_manager
        self.poll_s = poll_s
        self._seen: dict[Path, FileStamp] = {}
        self._applied: dict[Path, list[ObjectRef]] = self._load_state()

    async def run(self) -> None:
        """Apply, then re-apply on every file change, until cancelled."""
        while True:
            try:
                await self.sync_once()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - report, try again at the next poll
                self._report(f"error: manifest sync failed: {err}")
                log.exception("manifest sync failed")
            await asyncio.sleep(self.poll_s)

    async def sync_once(self) -> None:
        """Apply the files changed since the last pass and prune what they no longer hold."""
        files = self._scan()
        changed = sorted(p for p, stamp in files.items() if self._seen.get(p) != stamp)
        gone = sorted(p for p in set(self._applied) | set(self._seen) if p not in files)
        if not changed and not gone:
            return
        now: dict[Path, list[ObjectRef]] = {}
        first_pass = not self._seen
        for path in changed:
            try:
                manifests = load_file(path)
            except ManifestError as err:
                self._report(f"error: {err}")  # keep what this file applied before
                continue
            if first_pass:
                for m in manifests:
                    ref = object_ref(m.obj, self.client.namespace)
                    if ref in self._applied.get(path, []):
                        await self._adopt(path, ref)
            outcomes = await apply_objects(
                self.client, [self._annotated(m) for m in manifests], self.field_manager)
            for outcome in outcomes:
                self._report(outcome.message)
            now[path] = [object_ref(m.obj, self.client.namespace) for m in manifests]
        for path in gone:
            now[path] = []
        for path, refs in now.items():
            for ref in self._applied.get(path, []):
                if ref not in refs:
                    await self._prune(path, ref)
            if refs:
                self._applied[path] = refs
            else:
                self._applied.pop(path, None)
        self._seen = files
        self._save_state()

    def _scan(self) -> dict[Path, FileStamp]:
        existing = [p for p in self.paths if p.exists()]
        for missing in set(self.paths) - set(existing):
            log.debug("manifest path %s does not exist (yet)", missing)
        stamps: dict[Path, FileStamp] = {}
        for file in manifest_files(existing):
            try:
                st = file.stat()
            except FileNotFoundError:
                continue
            stamps[file.resolve()] = (st.st_mtime_ns, st.st_size)
        return stamps

    def _annotated(self, m: Manifest) -> Manifest:
        obj = dict(m.obj)
        meta = dict(obj["metadata"])
        meta["annotations"] = {**(meta.get("annotations") or {}), APPLIED_FROM: str(m.source),
                               LAST_APPLIED: last_applied(m.obj, self.client.namespace)}
        obj["metadata"] = meta
        return Manifest(m.source, m.index, m.line, obj)

    async def _adopt(self, source: Path, ref: ObjectRef) -> None:
        """Rename the legacy manager's Apply entry of an object this sync applied (see the
        module docstring), so that this sync removes what its files stop setting."""
        namespace = ref.namespace or None
        try:
            live = dict(await self.client.get(resource_class(ref.info), ref.name,
                                              namespace=namespace))
        except (KubeError, KeyError):
            return  # gone, or a kind this server does not serve: the apply reports it
        meta = live.get("metadata") or {}
        entries = [dict(e) for e in meta.get("managedFields") or []]
        managers = {(e.get("manager"), e.get("operation")) for e in entries}
        if (meta.get("annotations") or {}).get(APPLIED_FROM) != str(source) or \
                (LEGACY_FIELD_MANAGER, "Apply") not in managers or \
                (self.field_manager, "Apply") in managers:
            return
        for entry in entries:
            if (entry.get("manager"), entry.get("operation")) == (LEGACY_FIELD_MANAGER, "Apply"):
                entry["manager"] = self.field_manager
        patch = [{"op": "test", "path": "/metadata/resourceVersion",
                  "value": meta.get("resourceVersion")},
                 {"op": "replace", "path": "/metadata/managedFields", "value": entries}]
        try:
            await self.client.patch(resource_class(ref.info), ref.name, patch,
                                    patch_type=PatchType.JSON, namespace=namespace)
        except KubeError as err:
            self._report(f"error: cannot hand {ref} over to field manager "
                         f"{self.field_manager}: {err.message}")

    async def _prune(self, source: Path, ref: ObjectRef) -> None:
        try:
            live = await self.client.get(resource_class(ref.info), ref.name,
                                         namespace=ref.namespace or None)
        except KubeError as err:
            if err.code == 404:
                return
            self._report(f"error: cannot read {ref} to prune it: {err.message}")
            return
        except KeyError:
            return  # a kind this server does not serve: it was never applied
        annotations = (dict(live).get("metadata") or {}).get("annotations") or {}
        if annotations.get(APPLIED_FROM) != str(source):
            log.info("not pruning %s: it is no longer applied from %s", ref, source)
            return
        try:
            await delete_object(self.client, ref)
        except KubeError as err:
            self._report(f"error: cannot delete {ref}: {err.message}")
            return
        self._report(f"{ref} deleted (no longer in {source})")

    def _report(self, line: str) -> None:
        if self.on_message is not None:
            self.on_message(line)
        else:
            log.info("%s", line)

    def _load_state(self) -> dict[Path, list[ObjectRef]]:
        try:
            data = json.loads(self.state_file.read_text())
            return {Path(src): [ObjectRef.from_json(r) for r in refs]
                    for src, refs in data["applied"].items()}
        except FileNotFoundError:
            return {}
        except (ValueError, KeyError, TypeError) as err:
            log.warning("ignoring unreadable manifest state %s: %s", self.state_file, err)
            return {}

    def _save_state(self) -> None:
        data = {"applied": {str(src): [r.to_json() for r in refs]
                            for src, refs in sorted(self._applied.items())}}
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, self.state_file)
