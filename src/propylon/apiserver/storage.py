"""SQLite persistence: one table of objects, one table of settings.

`objects` is keyed by (plural, namespace, name) and holds each object's JSON; cluster-scoped
objects use the empty namespace. `meta` holds small settings, among them the resourceVersion
counter. Every write bumps that counter and stores the object (with its new
`metadata.resourceVersion`) in the same transaction, so resourceVersions stay monotonic across
restarts. Calls are synchronous: SQLite on a local file is fast enough to run inline on the event
loop, and the caller serialises writes with one asyncio lock.

The database runs in WAL mode with `synchronous=NORMAL`: a commit appends to the write-ahead log
without waiting for the disk (the log is synced at checkpoints). A crash of the process loses
nothing and the file never corrupts; a power cut can lose the last commits, which standalone mode
accepts: waiting for the disk on each of thousands of writes (a bulk apply, the status of every
route) was a fifth of the API server's time.

A write that SQLite refuses (a full disk: "database or disk is full", a read-only or vanished
file) raises `StorageError` with SQLite's own message. SQLite may already have rolled the
transaction back by then (it does on a full disk), so the rollback runs only when a transaction
is still open: the error the caller sees is the real cause, the counter is not advanced, nothing
half-written stays, reads keep working and the next write succeeds once the cause is gone.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    plural TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (plural, namespace, name));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StorageError(Exception):
    """A write the database refused; the message is SQLite's (e.g. "database or disk is full")."""


class Storage:
    """Objects as JSON dicts in `<path>`; `resource_version` is the last one handed out."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # see the module docstring
        self._db.executescript(_SCHEMA)
        self.resource_version = int(self.get_meta("resourceVersion") or "0")

    def close(self) -> None:
        self._db.close()

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT body FROM objects WHERE plural = ? AND namespace = ? AND name = ?",
            (plural, namespace, name)).fetchone()
        return None if row is None else json.loads(row[0])

    def list(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Objects of `plural` (in `namespace`, or everywhere), ordered by namespace and name."""
        return [json.loads(body) for body, _ in self.list_json(plural, namespace)]

    def list_json(self, plural: str, namespace: str | None = None
                  ) -> builtins.list[tuple[str, str | None]]:
        """Like `list`, not decoded: each object's stored JSON and its apiVersion."""
        columns = "SELECT body, json_extract(body, '$.apiVersion') FROM objects WHERE plural = ?"
        if namespace is None:
            rows = self._db.execute(f"{columns} ORDER BY namespace, name", (plural,))
        else:
            rows = self._db.execute(f"{columns} AND namespace = ? ORDER BY name",
                                    (plural, namespace))
        return [(str(body), version) for body, version in rows]

    def put(self, plural: str, namespace: str, name: str, obj: dict[str, Any]) -> int:
        """Store `obj` under a new resourceVersion (written into it); returns that version."""
        return self._write(plural, namespace, name, obj)

    def rewrite(self, plural: str, namespace: str, name: str, obj: dict[str, Any]) -> None:
        """Replace a stored object's body keeping its resourceVersion (no new version: the
        object is the same one, as `defaulting.Defaulter.refill` fills a default it lacked)."""
        self._db.execute("UPDATE objects SET body = ? WHERE plural = ? AND namespace = ? "
                         "AND name = ?", (json.dumps(obj), plural, namespace, name))

    def delete(self, plural: str, namespace: str, name: str) -> int:
        """Remove an object; the deletion consumes a new resourceVersion, which is returned."""
        return self._write(plural, namespace, name, None)

    def _write(self, plural: str, namespace: str, name: str, obj: dict[str, Any] | None) -> int:
        rv = self.resource_version + 1
        self._db.execute("BEGIN")
        try:
            if obj is None:
                self._db.execute(
                    "DELETE FROM objects WHERE plural = ? AND namespace = ? AND name = ?",
                    (plural, namespace, name))
            else:
                obj.setdefault("metadata", {})["resourceVersion"] = str(rv)
                self._db.execute(
                    "INSERT OR REPLACE INTO objects (plural, namespace, name, body) "
                    "VALUES (?, ?, ?, ?)", (plural, namespace, name, json.dumps(obj)))
            self.set_meta("resourceVersion", str(rv))
            self._db.execute("COMMIT")
        except BaseException as err:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            if isinstance(err, sqlite3.Error):
                raise StorageError(str(err)) from err
            raise
        self.resource_version = rv
        return rv
