"""A durable store in SQLite: the engine survives restarts and keeps every promise once.

How it works: every applied event (and every run of due timers) is appended to a journal
together with the decisions it produced, in one transaction, before any handler runs
(WAL mode; `synchronous=NORMAL` survives a killed process, `synchronous="FULL"` a power cut). Every ``snapshot_every`` entries the whole state is
written as a snapshot and the journal before it is dropped; a large state waits longer (one
entry per four tickets and timers held), so the cost of snapshots per event stays flat as
the state grows, and a restart replays at most that many entries. A new engine on the same file
loads the snapshot, replays the journal after it (the engine is deterministic, so the
replay rebuilds exactly the state that was lost), then :meth:`Engine.start` runs the
handlers of decisions not yet marked as dispatched and fires the timers that fell due
while the process was down, at their original due times.

The file's format is data, never code: the journal and decisions are JSON, the snapshot is
the JSON document of :mod:`.snapshot` (format 2), and the `meta` table records the format and
the fingerprint of the org the snapshot was taken under. A file written by cxrules 0.1
(pickled snapshot, format 1) is read once with an unpickler that builds only the engine's
state classes and rewritten as format 2. One engine owns a file at a time: it holds an
exclusive lock on `PATH.lock` (released when the process ends, even when killed), and a
second engine on the same file is refused. An existing file of 0 bytes is refused rather
than taken for an empty store. When the org has changed since the snapshot (another
fingerprint), a journal written under the old version is not replayed under the new rules:
the store refuses with a message saying how to go on; with nothing to replay, the engine
takes the new version as :meth:`Engine.reload` would and reports it in ``org_change``.
:meth:`close` takes a snapshot, so a clean shutdown leaves nothing to replay.

Guarantees: a decision is on disk before its handlers run; handlers run at least once
per decision and get its idempotency ``key`` (a decision is marked delivered only when all
its handlers returned; failed tries and dead letters are kept in the same table, see
:mod:`.delivery`); a timer (SLA warning, breach, escalation
level, follow-up call or deadline) fires exactly once, because whether it fired is part of
the state that is replayed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from typing import TYPE_CHECKING, Optional

from . import decisions as d
from . import events as e
from ..model import fingerprint
from .delivery import DeadLetter
from .data import DataError, from_data, to_data
from .snapshot import FORMAT, dump_state, load_legacy_pickle, load_state
from .store import MemoryStore

if TYPE_CHECKING:
    from .engine import ReloadReport

try:  # POSIX: an advisory lock the kernel drops with the process
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, one engine per file is the operator's job
    fcntl = None  # type: ignore[assignment]

__all__ = ["SqliteStore", "StoreError", "event_to_json", "event_from_json", "decision_to_json", "decision_from_json"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS decisions (key TEXT PRIMARY KEY, seq INTEGER NOT NULL, payload TEXT NOT NULL, dispatched INTEGER NOT NULL DEFAULT 0,
                                      attempts INTEGER NOT NULL DEFAULT 0, error TEXT);
CREATE TABLE IF NOT EXISTS snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, org TEXT NOT NULL, state BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StoreError(RuntimeError):
    """The store's file cannot be used (unreadable, locked, corrupt, or another org's)."""


def event_to_json(event: e.Event) -> str:
    return json.dumps({"type": type(event).__name__, **{k: to_data(v) for k, v in vars(event).items()}}, ensure_ascii=False)


def event_from_json(text: str) -> e.Event:
    """An event as :func:`event_to_json` journalled it (its time with its zone), checked as any event is."""
    return e.parse_event(json.loads(text))


_DECISIONS = {cls.__name__: cls for cls in vars(d).values() if isinstance(cls, type) and issubclass(cls, d.Decision)}


def decision_to_json(decision: d.Decision) -> str:
    return json.dumps({"type": decision.kind, **{k: to_data(v) for k, v in vars(decision).items()}}, ensure_ascii=False)


def decision_from_json(text: str) -> d.Decision:
    """A decision as :func:`decision_to_json` kept it; ValueError when the row is not one."""
    data = json.loads(text)
    cls = _DECISIONS.get(data.pop("type", None)) if isinstance(data, dict) else None
    if cls is None:
        raise ValueError(f"not a decision: {text[:80]}")
    try:
        return cls(**{k: from_data(v) for k, v in data.items()})
    except (TypeError, DataError) as error:
        raise ValueError(f"not a {cls.__name__}: {error}") from None


def _row_id(cursor: sqlite3.Cursor) -> int:
    """The rowid an INSERT gave its row (SQLite always gives one)."""
    if cursor.lastrowid is None:
        raise sqlite3.DatabaseError("an INSERT returned no rowid")
    return cursor.lastrowid


class SqliteStore(MemoryStore):
    """The engine's state in memory, made durable in one SQLite file (see the module docstring)."""

    def __init__(self, path: str | os.PathLike, snapshot_every: int = 500, synchronous: str = "NORMAL"):
        super().__init__()
        self.path = str(path)
        self.snapshot_every = snapshot_every
        self.synchronous = "FULL" if synchronous.upper() == "FULL" else "NORMAL"
        self._since_snapshot = 0
        self._write = threading.Lock()
        self.faults: list[str] = []
        """Problems the store met and worked round (a deleted file, a failed write of decisions)."""
        self.engine = None
        self.org_change: Optional[ReloadReport] = None
        """The :class:`~.engine.ReloadReport` of an org that changed while the engine was down, if it did."""
        if os.path.isfile(self.path) and os.path.getsize(self.path) == 0:
            raise StoreError(f"{self.path} is empty (0 bytes), so it holds no engine state; if the state is lost, "
                             "remove the file to start afresh")
        self._lock_file = self._take_lock()
        try:
            self._open()
            self._events = self.events_applied
        except BaseException:
            self._release_lock()
            raise

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
                             "(for several instances use one store file each, or a shared database)") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}")
        handle.flush()
        return handle

    def _give_up(self) -> None:
        """After a failed recovery the store is of no use: let the file go, for the operator or a retry."""
        self.db.close()
        self._release_lock()

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing the descriptor drops the lock
            self._lock_file = None

    def _open(self) -> None:
        try:
            self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=2)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(f"PRAGMA synchronous={self.synchronous}")
            self.db.executescript(SCHEMA)
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(decisions)")}
            if "attempts" not in columns:  # a store written before failed deliveries were kept
                self.db.execute("ALTER TABLE decisions ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")
                self.db.execute("ALTER TABLE decisions ADD COLUMN error TEXT")
            self._inode = os.stat(self.path).st_ino
        except (sqlite3.DatabaseError, OSError) as error:
            raise StoreError(f"cannot use {self.path} as a cxrules store: {error}") from error

    # -------------------------------------------------------------- writing

    def begin(self, entry: Optional[tuple]) -> int:
        """Write an event (or a timer run) ahead of applying it; on failure nothing has changed."""
        if entry is None:
            return super().begin(entry)
        seq = self._journal(entry)
        super().begin(entry)
        return seq

    def rollback(self, seq: int) -> None:
        """Undo the unit in memory and take its entry out of the journal, so a restart does not replay it."""
        super().rollback(seq)
        if not seq:
            return
        with self._write:
            try:
                self.db.execute("BEGIN IMMEDIATE")
                if self.db.execute("DELETE FROM journal WHERE seq = ? AND kind = 'event'", (seq,)).rowcount:
                    self.db.execute("UPDATE counters SET value = value - 1 WHERE name = 'events'")
                    self._events -= 1
                else:
                    self.db.execute("DELETE FROM journal WHERE seq = ?", (seq,))
                self.db.execute("COMMIT")
            except sqlite3.Error as error:  # the entry stays: a restart fails on it again and quarantines it
                self._rollback()
                self.faults.append(f"could not take rolled-back entry {seq} out of {self.path}: {error}")

    def _journal(self, entry: tuple) -> int:
        kind, payload = entry
        text = event_to_json(payload) if kind == "event" else json.dumps(to_data(payload))
        with self._write:
            self._reopen_if_replaced()
            try:
                self.db.execute("BEGIN IMMEDIATE")
                seq = _row_id(self.db.execute("INSERT INTO journal (kind, payload) VALUES (?, ?)", (kind, text)))
                if kind == "event":
                    self.db.execute("INSERT INTO counters VALUES ('events', 1) ON CONFLICT(name) DO UPDATE SET value = value + 1")
                self.db.execute("COMMIT")
            except sqlite3.Error as error:
                self._rollback()
                raise StoreError(f"cannot write to {self.path}: {error}") from error
            if kind == "event":
                self._events += 1
            return seq

    def commit(self, seq: int, decisions: list) -> None:
        """Keep the decisions of an applied entry (and now and then a snapshot) before handlers run.

        A failure here loses nothing: the entry is journalled, so a restart replays it and
        makes the same decisions again; the fault is noted in :attr:`faults`.
        """
        super().commit(seq, decisions)
        if not seq:
            return
        with self._write:
            try:
                self.db.execute("BEGIN IMMEDIATE")
                self.db.executemany("INSERT OR IGNORE INTO decisions (key, seq, payload) VALUES (?, ?, ?)",
                                    [(x.key, seq, decision_to_json(x)) for x in decisions])
                self._since_snapshot += 1
                if self._since_snapshot >= max(self.snapshot_every, (len(self.tickets) + len(self.timers)) // 4):
                    self._snapshot(seq)
                self.db.execute("COMMIT")
            except sqlite3.Error as error:
                self._rollback()
                self.faults.append(f"could not record decisions in {self.path}: {error}")

    def rewrite(self) -> str:
        """Start a fresh file at the same path from the engine's state in memory (e.g. after corruption).

        The old file is kept beside it as `PATH.corrupt-N` for inspection; returns its name.
        """
        with self._write:
            self.db.close()
            number = 1
            while os.path.exists(f"{self.path}.corrupt-{number}"):
                number += 1
            kept = f"{self.path}.corrupt-{number}"
            if os.path.exists(self.path):
                os.replace(self.path, kept)
            for suffix in ("-wal", "-shm"):
                if os.path.exists(self.path + suffix):
                    os.remove(self.path + suffix)
            self._fresh()
            self.faults.append(f"{self.path} rewritten from memory; the old file is {kept}")
            return kept

    def _reopen_if_replaced(self) -> None:
        """A store file deleted or replaced under a running engine is written anew from memory."""
        try:
            inode = os.stat(self.path).st_ino
        except OSError:
            inode = None
        if inode == self._inode:
            return
        self.faults.append(f"{self.path} was deleted or replaced while the engine ran; rewritten from the engine's state")
        self.db.close()
        self._fresh()

    def _fresh(self) -> None:
        """A new file at the path holding the engine's current state as its snapshot."""
        self._open()
        self.db.execute("BEGIN IMMEDIATE")
        seq = _row_id(self.db.execute("INSERT INTO journal (kind, payload) VALUES ('mark', '{}')"))
        self.db.execute("INSERT OR REPLACE INTO counters VALUES ('events', ?)", (self._events,))
        self._snapshot(seq)
        self.db.execute("COMMIT")

    def _rollback(self) -> None:
        try:
            self.db.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def _snapshot(self, seq: int) -> None:
        state = dump_state(self.state())
        org = self.engine.org.info.id if self.engine else ""
        self.db.execute("INSERT OR REPLACE INTO snapshot (id, seq, org, state) VALUES (1, ?, ?, ?)", (seq, org, state))
        self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                            [("format", str(FORMAT))] + ([("org_fingerprint", fingerprint(self.engine.org))] if self.engine else []))
        self.db.execute("DELETE FROM journal WHERE seq <= ?", (seq,))
        self.db.execute("DELETE FROM decisions WHERE dispatched = 1")
        self._since_snapshot = 0

    def snapshot(self) -> None:
        """Write a snapshot now (e.g. before swapping to a new version of the org)."""
        with self._write:
            self.db.execute("BEGIN IMMEDIATE")
            seq = self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()[0]
            seq = max(seq, self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM snapshot").fetchone()[0])
            self._snapshot(seq)
            self.db.execute("COMMIT")

    def dispatched(self, decisions: list) -> None:
        super().dispatched(decisions)
        self._mark("UPDATE decisions SET dispatched = 1 WHERE key = ?", [(x.key,) for x in decisions],
                   "mark decisions delivered")  # on failure their handlers just run again after a restart

    def delivery_failed(self, decision, attempts: int, error: str) -> None:
        super().delivery_failed(decision, attempts, error)
        self._mark("INSERT INTO decisions (key, seq, payload, attempts, error) VALUES (?, 0, ?, ?, ?) "
                   "ON CONFLICT(key) DO UPDATE SET attempts = excluded.attempts, error = excluded.error",
                   [(decision.key, decision_to_json(decision), attempts, error)], "count a failed delivery")

    def dead_letter(self, decision, attempts: int, error: str) -> None:
        super().dead_letter(decision, attempts, error)
        self._mark("INSERT INTO decisions (key, seq, payload, dispatched, attempts, error) VALUES (?, 0, ?, 2, ?, ?) "
                   "ON CONFLICT(key) DO UPDATE SET dispatched = 2, attempts = excluded.attempts, error = excluded.error",
                   [(decision.key, decision_to_json(decision), attempts, error)], "keep a dead letter")

    def dead_letters(self) -> list[DeadLetter]:
        with self._write:
            rows = self.db.execute("SELECT payload, attempts, error FROM decisions WHERE dispatched = 2 ORDER BY seq, rowid").fetchall()
        letters = []
        for payload, attempts, error in rows:
            try:
                letters.append(DeadLetter(decision_from_json(payload), attempts, error or ""))
            except ValueError as problem:  # a row damaged on disk: say so, keep listing the others
                self.faults.append(f"a dead letter in {self.path} cannot be read: {problem}")
        return letters

    def _mark(self, statement: str, rows: list, what: str) -> None:
        with self._write:
            try:
                self.db.executemany(statement, rows)
            except sqlite3.Error as error:
                self.faults.append(f"could not {what} in {self.path}: {error}")

    # -------------------------------------------------------------- recovery

    def recover(self, engine) -> list:
        self.engine = engine
        try:
            row = self.db.execute("SELECT seq, org, state FROM snapshot WHERE id = 1").fetchone()
            meta = dict(self.db.execute("SELECT name, value FROM meta").fetchall())
            after, migrated = 0, False
            if row is not None:
                seq, org, state = row
                if org and org != engine.org.info.id:
                    raise StoreError(f"{self.path} holds the state of org `{org}`, not `{engine.org.info.id}`")
                migrated = isinstance(state, bytes) and state[:1] == b"\x80"  # format 1: a pickle of cxrules 0.1
                self.restore(load_state(dump_state(load_legacy_pickle(state))) if migrated else load_state(state))
                after = seq
            entries = self.db.execute("SELECT seq, kind, payload FROM journal WHERE seq > ? AND kind != 'mark' ORDER BY seq",
                                      (after,)).fetchall()
            changed = meta.get("org_fingerprint") not in (None, fingerprint(engine.org))
            if changed and entries:
                raise StoreError(
                    f"{self.path} holds {len(entries)} journal entries applied under another version of org `{engine.org.info.id}`; "
                    "replaying them under the changed rules would change their decisions. Start the engine once with the "
                    "version of the org that wrote them (closing it folds the journal into a snapshot), then with the new one")
            for seq, kind, payload in entries:
                self._replay(engine, seq, kind, payload)
            self._since_snapshot = len(entries)
            pending = []
            for key, text, attempts in self.db.execute("SELECT key, payload, attempts FROM decisions WHERE dispatched = 0 ORDER BY seq, rowid"):
                pending.append(decision_from_json(text))
                if attempts:
                    self.failed_attempts[key] = attempts
        except StoreError:
            self._give_up()
            raise
        except Exception as error:  # whatever is wrong with the file, the operator gets one clear error and the file back
            self._give_up()
            raise StoreError(f"cannot recover from {self.path}: {type(error).__name__}: {error}") from error
        if migrated:
            self.snapshot()
            self.faults.append(f"{self.path} was written by cxrules 0.1 (a pickled snapshot); migrated to format {FORMAT}")
        if changed:
            self.org_change = report = engine.reload(engine.org)
            self.faults.append(f"org `{engine.org.info.id}` changed since {self.path} was written: {len(report.kept)} open "
                               f"tickets follow the new rules, {len(report.moved_to_fallback)} went to the fallback queue")
        elif row is None or "org_fingerprint" not in meta:
            self.snapshot()  # record the org this store now runs under
        return pending

    def _replay(self, engine, seq: int, kind: str, payload: str) -> None:
        """Apply one journal entry again; one that cannot be replayed is quarantined, never a start that fails for ever."""
        MemoryStore.begin(self, None)
        try:
            if kind == "event":
                decisions = engine.replay(event_from_json(payload))
            elif kind == "advance":
                decisions = engine._run_timers(from_data(json.loads(payload)))
            else:
                decisions = []
            MemoryStore.commit(self, seq, decisions)
        except Exception as error:  # journalled before validation was complete (older files), or a bug: undone, kept aside
            MemoryStore.rollback(self, seq)
            self.db.execute("CREATE TABLE IF NOT EXISTS quarantine (seq INTEGER PRIMARY KEY, kind TEXT, payload TEXT, error TEXT)")
            self.db.execute("INSERT OR REPLACE INTO quarantine VALUES (?, ?, ?, ?)", (seq, kind, payload, f"{type(error).__name__}: {error}"))
            self.faults.append(f"journal entry {seq} of {self.path} cannot be replayed ({type(error).__name__}: {error}); "
                               "kept in its `quarantine` table and skipped")
            return
        # a crash between journalling an entry and recording its decisions: record them now, undelivered
        self.db.executemany("INSERT OR IGNORE INTO decisions (key, seq, payload) VALUES (?, ?, ?)",
                            [(x.key, seq, decision_to_json(x)) for x in decisions])

    @property
    def events_applied(self) -> int:
        """How many events this store has taken in, ever: a feeder resumes after them."""
        row = self.db.execute("SELECT value FROM counters WHERE name = 'events'").fetchone()
        return row[0] if row else 0

    def close(self) -> None:
        """Fold the journal into a snapshot (a clean shutdown leaves nothing to replay), then let the file go."""
        try:
            if self.engine is not None:
                self.snapshot()
        except sqlite3.Error as error:  # the journal is still there: a restart replays it
            self.faults.append(f"could not take a snapshot of {self.path} on close: {error}")
        finally:
            self.db.close()
            self._release_lock()
