"""The task hub store: instances, history, queued messages, work items and entity state.

One SQLite database per task hub (a file under ``.devhost/`` or ``:memory:``). The engine is
the only writer and runs on one thread; every state change is written in one transaction
(:meth:`Store.commit`) before the engine acts on it, so a killed devhost resumes where it left
off. WAL mode with ``synchronous=NORMAL`` survives a killed process (not a power cut).
"""

from __future__ import annotations

import base64
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    instance_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT,
    output TEXT,
    custom_status TEXT,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    parent TEXT,
    state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_created ON instances (created, instance_id);
CREATE TABLE IF NOT EXISTS history (
    instance_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (instance_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    instance_id TEXT NOT NULL,
    visible_at REAL NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS work (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS entities (
    entity_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    state TEXT,
    last_op TEXT NOT NULL
);
"""

ACTIVE_STATUSES = ("Pending", "Running", "ContinuedAsNew", "Suspended")


@dataclass
class InstanceRow:
    """One orchestration instance (its latest execution)."""

    instance_id: str
    name: str
    version: str
    execution_id: str
    status: str
    input: str | None
    output: str | None
    custom_status: str | None
    created: str
    updated: str
    parent: str | None
    state: str

    def as_tuple(self) -> tuple[Any, ...]:
        """Column values in schema order."""
        return (
            self.instance_id,
            self.name,
            self.version,
            self.execution_id,
            self.status,
            self.input,
            self.output,
            self.custom_status,
            self.created,
            self.updated,
            self.parent,
            self.state,
        )


@dataclass
class MessageRow:
    """A message for an orchestration instance (visible from ``visible_at``, epoch seconds)."""

    id: int
    instance_id: str
    visible_at: float
    payload: dict[str, Any]


@dataclass
class WorkRow:
    """An activity invocation or an entity operation that has not completed yet."""

    id: int
    kind: str
    target: str
    payload: dict[str, Any]


@dataclass
class EntityRow:
    """Stored entity state (``state`` is JSON text)."""

    entity_id: str
    name: str
    key: str
    state: str | None
    last_op: str


@dataclass
class Batch:
    """All changes of one engine step; applied atomically by :meth:`Store.commit`."""

    purge: list[str] = field(default_factory=list)
    reset_history: list[str] = field(default_factory=list)
    drop_messages_for: list[str] = field(default_factory=list)
    instances: list[InstanceRow] = field(default_factory=list)
    history: list[tuple[str, int, str]] = field(default_factory=list)
    messages: list[MessageRow] = field(default_factory=list)
    drop_messages: list[int] = field(default_factory=list)
    work: list[WorkRow] = field(default_factory=list)
    drop_work: list[int] = field(default_factory=list)
    entities: list[EntityRow] = field(default_factory=list)
    drop_entities: list[str] = field(default_factory=list)


@dataclass
class InstanceQuery:
    """Filters of the list/purge APIs."""

    created_from: str | None = None
    created_to: str | None = None
    statuses: list[str] | None = None
    prefix: str | None = None


def encode_token(created: str, instance_id: str) -> str:
    """Opaque continuation token for keyset paging."""
    return base64.urlsafe_b64encode(json.dumps([created, instance_id]).encode()).decode()


def decode_token(token: str) -> tuple[str, str] | None:
    """Decode a continuation token; ``None`` if it is malformed."""
    try:
        created, instance_id = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        return None
    return str(created), str(instance_id)


class Store:
    """SQLite-backed task hub store (file or in-memory)."""

    def __init__(self, path: Path | None) -> None:
        """Open (and create) the store; ``path=None`` keeps everything in memory."""
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            ":memory:" if path is None else str(path), isolation_level=None, check_same_thread=False
        )
        if path is not None:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._next_message = self._max_id("messages") + 1
        self._next_work = self._max_id("work") + 1

    def _max_id(self, table: str) -> int:
        row = self._db.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()  # noqa: S608
        return int(row[0])

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def new_message_id(self) -> int:
        """Allocate a message id."""
        self._next_message += 1
        return self._next_message

    def new_work_id(self) -> int:
        """Allocate a work item id."""
        self._next_work += 1
        return self._next_work

    # -- reads ---------------------------------------------------------------------------------

    def instance(self, instance_id: str) -> InstanceRow | None:
        """Load one instance."""
        row = self._db.execute("SELECT * FROM instances WHERE instance_id = ?", (instance_id,)).fetchone()
        return InstanceRow(*row) if row else None

    def active_instances(self) -> list[InstanceRow]:
        """Instances that have not finished."""
        marks = ",".join("?" * len(ACTIVE_STATUSES))
        rows = self._db.execute(
            f"SELECT * FROM instances WHERE status IN ({marks})",  # noqa: S608
            ACTIVE_STATUSES,
        ).fetchall()
        return [InstanceRow(*row) for row in rows]

    def history(self, instance_id: str) -> list[str]:
        """History events (JSON text) of an instance's current execution, in order."""
        rows = self._db.execute(
            "SELECT event FROM history WHERE instance_id = ? ORDER BY idx", (instance_id,)
        ).fetchall()
        return [str(row[0]) for row in rows]

    def messages(self) -> list[MessageRow]:
        """All queued messages in id order."""
        rows = self._db.execute("SELECT id, instance_id, visible_at, payload FROM messages ORDER BY id")
        return [MessageRow(int(r[0]), str(r[1]), float(r[2]), json.loads(r[3])) for r in rows.fetchall()]

    def work(self) -> list[WorkRow]:
        """All pending work items in id order."""
        rows = self._db.execute("SELECT id, kind, target, payload FROM work ORDER BY id").fetchall()
        return [WorkRow(int(r[0]), str(r[1]), str(r[2]), json.loads(r[3])) for r in rows]

    def entity(self, entity_id: str) -> EntityRow | None:
        """Load one entity."""
        row = self._db.execute("SELECT * FROM entities WHERE entity_id = ?", (entity_id,)).fetchone()
        return EntityRow(*row) if row else None

    def entities(self, name: str, limit: int, after: str | None) -> list[EntityRow]:
        """Entities of one (lower-cased) name, ordered by id, after a paging key."""
        rows = self._db.execute(
            "SELECT * FROM entities WHERE name = ? AND entity_id > ? ORDER BY entity_id LIMIT ?",
            (name, after or "", limit),
        ).fetchall()
        return [EntityRow(*row) for row in rows]

    def _where(self, query: InstanceQuery) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        if query.created_from:
            clauses.append("created >= ?")
            args.append(query.created_from)
        if query.created_to:
            clauses.append("created <= ?")
            args.append(query.created_to)
        if query.statuses:
            clauses.append(f"status IN ({','.join('?' * len(query.statuses))})")
            args.extend(query.statuses)
        if query.prefix:
            clauses.append("substr(instance_id, 1, ?) = ?")
            args.extend([len(query.prefix), query.prefix])
        return (" AND ".join(clauses) or "1"), args

    def query(self, query: InstanceQuery, limit: int, after: tuple[str, str] | None) -> list[InstanceRow]:
        """Instances matching the filters, ordered by creation time, after a paging key."""
        where, args = self._where(query)
        if after is not None:
            where += " AND (created > ? OR (created = ? AND instance_id > ?))"
            args.extend([after[0], after[0], after[1]])
        rows = self._db.execute(
            f"SELECT * FROM instances WHERE {where} ORDER BY created, instance_id LIMIT ?",  # noqa: S608
            [*args, limit],
        ).fetchall()
        return [InstanceRow(*row) for row in rows]

    def matching_ids(self, query: InstanceQuery) -> list[str]:
        """Instance ids matching the filters (for purge-many)."""
        where, args = self._where(query)
        rows = self._db.execute(f"SELECT instance_id FROM instances WHERE {where}", args)  # noqa: S608
        return [str(row[0]) for row in rows.fetchall()]

    # -- writes --------------------------------------------------------------------------------

    def commit(self, batch: Batch) -> None:
        """Apply a batch of changes in one transaction."""
        db = self._db
        db.execute("BEGIN")
        try:
            for instance_id in batch.purge:
                db.execute("DELETE FROM instances WHERE instance_id = ?", (instance_id,))
            for instance_id in batch.purge + batch.reset_history:
                db.execute("DELETE FROM history WHERE instance_id = ?", (instance_id,))
            for instance_id in batch.purge + batch.drop_messages_for:
                db.execute("DELETE FROM messages WHERE instance_id = ?", (instance_id,))
            if batch.instances:
                db.executemany(
                    "INSERT OR REPLACE INTO instances VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    [row.as_tuple() for row in batch.instances],
                )
            if batch.history:
                db.executemany("INSERT OR REPLACE INTO history VALUES (?,?,?)", batch.history)
            if batch.drop_messages:
                db.executemany("DELETE FROM messages WHERE id = ?", [(i,) for i in batch.drop_messages])
            if batch.messages:
                db.executemany(
                    "INSERT INTO messages VALUES (?,?,?,?)",
                    [(m.id, m.instance_id, m.visible_at, json.dumps(m.payload)) for m in batch.messages],
                )
            if batch.drop_work:
                db.executemany("DELETE FROM work WHERE id = ?", [(i,) for i in batch.drop_work])
            if batch.work:
                db.executemany(
                    "INSERT INTO work VALUES (?,?,?,?)",
                    [(w.id, w.kind, w.target, json.dumps(w.payload)) for w in batch.work],
                )
            if batch.drop_entities:
                db.executemany("DELETE FROM entities WHERE entity_id = ?", [(e,) for e in batch.drop_entities])
            if batch.entities:
                db.executemany(
                    "INSERT OR REPLACE INTO entities VALUES (?,?,?,?,?)",
                    [(e.entity_id, e.name, e.key, e.state, e.last_op) for e in batch.entities],
                )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
