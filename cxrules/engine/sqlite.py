"""A durable store in one SQLite file: the engine survives restarts and keeps every promise once.

The state is rows in the file (the tables of :mod:`.tables`), never held between events, so
memory stays flat however many tickets, timers and events the file holds. Each event (or
run of due timers) is one transaction (WAL; `synchronous=NORMAL` survives a killed process,
`synchronous="FULL"` a power cut too) that writes only the rows it changed together with its
decisions, before any handler runs; a failure rolls all of it back. A new engine on the file
starts where the last left off: :meth:`Engine.start` runs the handlers of decisions not yet
marked delivered and fires the timers that fell due meanwhile, at their own due times.

One engine owns a file at a time: it holds an exclusive lock on `PATH.lock` (released when
the process ends, even when killed), and a second engine is refused. An existing file of 0
bytes is refused rather than taken for an empty store. The file records the org's id and
fingerprint: another org's file is refused; with a changed org, the engine moves the tickets
in flight to the new rules as :meth:`Engine.reload` would and reports it in ``org_change``.
A file of format 2 (snapshot and journal) or 1 (a pickle, read by an unpickler that builds
only engine state) is migrated once, in one transaction (:mod:`.legacy`).

Guarantees: a decision is on disk before its handlers run; handlers run at least once per
decision and get its idempotency ``key``; failed tries and dead letters are kept in the
outbox (see :mod:`.delivery`); a timer fires exactly once, because it is deleted in the
transaction that fires it.
"""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any, Optional

from .data import to_data
from .legacy import LEGACY_TABLES, LegacyFile
from .store import StoreError, entry_timer
from .snapshot import ticket_to_data
from .tables import OPENING_COLUMNS, TableStore, first_line, schema
from .wire import decision_from_json, decision_to_json, event_from_json, event_to_json

try:  # POSIX: an advisory lock the kernel drops with the process
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, one engine per file is the operator's job
    fcntl = None  # type: ignore[assignment]

__all__ = ["SqliteStore", "StoreError", "event_to_json", "event_from_json", "decision_to_json", "decision_from_json"]

_OPENING = "SELECT " + OPENING_COLUMNS.format(
    loads="(SELECT coalesce(json_group_object(agent, load), '{}') FROM cx_loads)",
    cursors="(SELECT coalesce(json_group_object(role, number), '{}') FROM cx_cursors)",
    surges="(SELECT coalesce(json_group_array(surge), '[]') FROM cx_active_surges)",
    queues="(SELECT coalesce(json_group_object(role, length), '{}') FROM cx_queues)")

_DUE_TIMERS = """SELECT seq, due, due_data, kind, ticket_id, key, data, (SELECT state FROM cx_tickets WHERE id = t.ticket_id)
FROM cx_timers t WHERE due <= ? ORDER BY due, seq"""


class SqliteStore(TableStore):
    """The engine's state in one SQLite file (see the module docstring)."""

    errors = (sqlite3.Error,)

    def __init__(self, path: str | os.PathLike, synchronous: str = "NORMAL", keep_tickets: int = 10_000):
        """``keep_tickets``: tickets kept decoded in memory between events (the most recently used), to save reading them."""
        super().__init__(keep_tickets=keep_tickets, only_writer=True)
        self.path = str(path)
        self.synchronous = "FULL" if synchronous.upper() == "FULL" else "NORMAL"
        self._statements: dict[str, str] = {}
        if os.path.isfile(self.path) and os.path.getsize(self.path) == 0:
            raise StoreError(f"{self.path} is empty (0 bytes), so it holds no engine state; if the state is lost, "
                             "remove the file to start afresh")
        self._lock_file = self._take_lock()
        try:
            self._connect()
        except BaseException:
            self._release_lock()
            raise

    def where(self) -> str:
        return self.path

    # ------------------------------------------------------------ the connection

    def _connect(self) -> None:
        try:
            self.db = self._connection()
            self.db.executescript(schema("INTEGER PRIMARY KEY AUTOINCREMENT"))
            self.db.execute("INSERT INTO cx_counters VALUES ('next_seq', 0), ('events', 0) ON CONFLICT DO NOTHING")
            self._inode = os.stat(self.path).st_ino
        except (sqlite3.DatabaseError, OSError) as error:
            raise StoreError(f"cannot use {self.path} as a cxrules store: {error}") from error

    def _connection(self) -> sqlite3.Connection:
        """A connection to the file, in WAL mode at the store's durability."""
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=2)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={self.synchronous}")
        return db

    def _sql(self, sql: str) -> str:
        text = self._statements.get(sql)
        if text is None:
            text = self._statements[sql] = sql.replace("%s", "?")
        return text

    def _run(self, sql: str, parameters: tuple = ()) -> Any:
        return self.db.execute(self._sql(sql), parameters)

    def _run_many(self, sql: str, rows: list) -> None:
        self.db.executemany(self._sql(sql), rows)

    def _open(self, begun: bool) -> tuple:
        if not begun:
            self._keep_if_replaced()
            self.db.execute("BEGIN IMMEDIATE")
        return self._opening_kept or self.db.execute(_OPENING).fetchone()

    def _commit(self, write, end: str) -> None:
        write()
        self.db.execute(end)

    def _take_due(self, now: float) -> tuple[list[tuple], Optional[float]]:
        rows = self.db.execute(_DUE_TIMERS, (now,)).fetchall()  # the only writer: the same rows are deleted next
        self.db.execute("DELETE FROM cx_timers WHERE due <= ?", (now,))
        return rows, self.db.execute("SELECT min(due) FROM cx_timers").fetchone()[0]

    # ------------------------------------------------------------ one owner per file

    def _take_lock(self):
        """Hold `PATH.lock` exclusively for as long as this store is open: one engine per file."""
        if fcntl is None:
            return None
        try:
            handle = open(f"{self.path}.lock", "a+", encoding="utf-8")
        except OSError as error:
            raise StoreError(f"cannot lock {self.path}: {error}") from error
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read(200).strip() or "another engine"
            handle.close()
            raise StoreError(f"{self.path} is in use by {owner}; one engine owns a store file at a time "
                             "(for several instances share a PostgreSQL database instead)") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}")
        handle.flush()
        return handle

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing the descriptor drops the lock
            self._lock_file = None

    # ------------------------------------------------------------ a file deleted, replaced or damaged

    def _keep_if_replaced(self) -> None:
        """A file deleted or replaced under the running engine: its state, still open here, is copied back to the path."""
        try:
            inode = os.stat(self.path).st_ino
        except OSError:
            inode = None
        if inode != self._inode:
            self._copy_to_path(f"{self.path} was deleted or replaced while the engine ran; rewritten from the open store")

    def rewrite(self) -> str:
        """Start a fresh file at the path from what the open connection can still read (e.g. after damage).

        The old file is kept beside it as `PATH.corrupt-N` for inspection; returns its name.
        """
        number = 1
        while os.path.exists(f"{self.path}.corrupt-{number}"):
            number += 1
        kept = f"{self.path}.corrupt-{number}"
        if os.path.exists(self.path):
            os.replace(self.path, kept)
        self._copy_to_path(f"{self.path} rewritten from the open store; the old file is {kept}")
        return kept

    def _copy_to_path(self, fault: str) -> None:
        for suffix in ("-wal", "-shm"):
            if os.path.exists(self.path + suffix):
                os.remove(self.path + suffix)
        try:
            fresh = self._connection()
            self.db.backup(fresh)
        except sqlite3.Error as error:
            raise StoreError(f"cannot rewrite {self.path} from the open store: {first_line(error)}") from None
        self.db.close()
        self.db = fresh
        self._inode = os.stat(self.path).st_ino
        self.faults.append(fault)

    # ------------------------------------------------------------ start and end

    def recover(self, engine) -> list:
        """Migrate a file of an earlier format, check the org, and return the decisions still owed to handlers."""
        try:
            self._migrate(engine)
            self.check_org(engine)
            return self._undelivered()
        except StoreError:
            self.close()
            raise
        except Exception as error:  # whatever is wrong with the file, the operator gets one clear error and the file back
            self.close()
            raise StoreError(f"cannot recover from {self.path}: {type(error).__name__}: {error}") from error

    def _migrate(self, engine) -> None:
        """A file of format 1 or 2: its state rebuilt as that version did, written as rows, the old tables dropped; one transaction."""
        tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables & {"journal", "snapshot"}:
            return
        from .clock import VirtualClock
        from .engine import Engine

        legacy = LegacyFile(self.db, self.path)
        old = Engine(engine.org, VirtualClock(engine.clock.now()), legacy)  # replays the journal into memory
        old.close()
        state = legacy.state()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self._write_state(state, legacy, engine.org.info.id)
            for table in LEGACY_TABLES:
                self.db.execute(f"DROP TABLE IF EXISTS {table}")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.faults.extend(legacy.faults)

    def _write_state(self, state: dict, legacy: LegacyFile, org_id: str) -> None:
        self._run_many("INSERT INTO cx_tickets VALUES (%s, %s)",
                       [(t.id, json.dumps(ticket_to_data(t), ensure_ascii=False)) for t in state["tickets"].values()])
        self._run_many("INSERT INTO cx_timers VALUES (%s, %s, %s, %s, %s, %s, %s)",
                       [(t.seq, t.due.timestamp(), json.dumps(to_data(t.due)), t.kind, t.ticket_id, t.key, json.dumps(to_data(t.data)))
                        for t in map(entry_timer, state["timers"])])
        self._run_many("INSERT INTO cx_queued (role, ticket_id) VALUES (%s, %s)",
                       [(role, ticket_id) for role, queue in state["queues"].items() for ticket_id in queue])
        self._run_many("INSERT INTO cx_queues VALUES (%s, %s)", [(role, len(queue)) for role, queue in state["queues"].items()])
        self._run_many("INSERT INTO cx_loads VALUES (%s, %s)", list(state["loads"].items()))
        self._run_many("INSERT INTO cx_cursors VALUES (%s, %s)", list(state["cursors"].items()))
        self._run_many("INSERT INTO cx_arrivals (surge, at) VALUES (%s, %s)",
                       [(surge, at.timestamp()) for surge, times in state["arrivals"].items() for at in times])
        self._run_many("INSERT INTO cx_active_surges VALUES (%s)", [(surge,) for surge in state["active_surges"]])
        self._run_many("INSERT INTO cx_fallback (ticket_id) VALUES (%s)", [(ticket_id,) for ticket_id in state["fallback"]])
        self._run_many("UPDATE cx_counters SET value = %s WHERE name = %s", [(state["next_seq"], "next_seq"), (legacy.events, "events")])
        self._run_many("INSERT INTO cx_outbox (key, payload, state, attempts, error) VALUES (%s, %s, %s, %s, %s)", legacy.undelivered)
        if legacy.fingerprint:
            self._run_many("INSERT INTO cx_meta VALUES (%s, %s)", [("org", org_id), ("org_fingerprint", legacy.fingerprint)])

    def close(self) -> None:
        """Mark what was delivered, then let the file go."""
        try:
            self.flush_delivered()
        finally:
            self.db.close()
            self._release_lock()
