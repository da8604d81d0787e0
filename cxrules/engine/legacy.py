"""Reading store files of earlier formats, once, to migrate them to the tables of format 3.

Format 2 kept the state as a JSON snapshot (:mod:`.snapshot`) plus a journal of the events
and timer runs applied since, with their decisions; format 1 (cxrules 0.1) pickled the
snapshot. :class:`LegacyFile` is an in-memory store that loads such a file as the engine
of its time did: the snapshot, then the journal replayed (an entry that cannot be replayed
is kept in a `quarantine` table and reported, never a start that fails for ever).
"""

from __future__ import annotations

import json
import sqlite3

from ..model import fingerprint
from .data import from_data
from .snapshot import dump_state, load_legacy_pickle, load_state
from .store import MemoryStore, StoreError
from .wire import decision_from_json, decision_to_json, event_from_json

__all__ = ["LegacyFile", "LEGACY_TABLES"]

LEGACY_TABLES = ("journal", "decisions", "snapshot", "counters", "meta")


class LegacyFile(MemoryStore):
    """The state of a format 1 or 2 file, rebuilt in memory by :meth:`recover` (which an Engine calls)."""

    def __init__(self, db: sqlite3.Connection, path: str):
        super().__init__()
        self.db, self.path = db, path
        self.events = 0
        self.fingerprint: str | None = None
        """The org version the file was written under (None: not recorded)."""
        self.undelivered: list[tuple[str, str, int, int, str]] = []
        """Decision rows to carry over: key, payload, state (0 owed, 2 dead letter), attempts, error."""

    def recover(self, engine) -> list:
        tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        meta = dict(self.db.execute("SELECT name, value FROM meta").fetchall()) if "meta" in tables else {}
        self.fingerprint = meta.get("org_fingerprint")
        row = self.db.execute("SELECT seq, org, state FROM snapshot WHERE id = 1").fetchone() if "snapshot" in tables else None
        after = 0
        if row is not None:
            after, org, state = row
            if org and org != engine.org.info.id:
                raise StoreError(f"{self.path} holds the state of org `{org}`, not `{engine.org.info.id}`")
            pickled = isinstance(state, bytes) and state[:1] == b"\x80"  # format 1: a pickle of cxrules 0.1
            self.restore(load_state(dump_state(load_legacy_pickle(state))) if pickled else load_state(state))
            self.faults.append(f"{self.path} was written in format {1 if pickled else 2}; migrated to the tables of format 3")
        entries = self.db.execute("SELECT seq, kind, payload FROM journal WHERE seq > ? AND kind != 'mark' ORDER BY seq",
                                  (after,)).fetchall() if "journal" in tables else []
        if self.fingerprint not in (None, fingerprint(engine.org)) and entries:
            raise StoreError(
                f"{self.path} holds {len(entries)} journal entries applied under another version of org `{engine.org.info.id}`; "
                "replaying them under the changed rules would change their decisions. Start the engine once with the "
                "version of the org that wrote them, then with the new one")
        made = []
        for seq, kind, payload in entries:
            made.extend(self._replay(engine, seq, kind, payload))
        if "decisions" in tables:
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(decisions)")}
            tries = "attempts, error" if "attempts" in columns else "0, NULL"  # format 1 kept no failed tries
            for key, payload, state, attempts, error in self.db.execute(
                    f"SELECT key, payload, dispatched, {tries} FROM decisions WHERE dispatched != 1 ORDER BY seq, rowid"):
                decision_from_json(payload)  # a damaged row fails the migration, and the file is left as it was
                self.undelivered.append((key, payload, state, attempts, error or ""))
        known = {row[0] for row in self.db.execute("SELECT key FROM decisions")} if "decisions" in tables else set()
        self.undelivered.extend((x.key, decision_to_json(x), 0, 0, "") for x in made if x.key not in known)
        self.events = int(self.db.execute("SELECT value FROM counters WHERE name = 'events'").fetchone()[0]) \
            if "counters" in tables and self.db.execute("SELECT 1 FROM counters WHERE name = 'events'").fetchone() else 0
        return []

    def _replay(self, engine, seq: int, kind: str, payload: str) -> list:
        """Apply one journal entry again; one that cannot be replayed is undone and quarantined."""
        self.begin(None)
        try:
            if kind == "event":
                decisions = engine.replay(event_from_json(payload))
            elif kind == "advance":
                decisions = engine._run_timers(from_data(json.loads(payload)))
            else:
                decisions = []
            self.commit(seq, decisions)
            return decisions
        except Exception as error:  # journalled before validation was complete, or a bug: undone, kept aside
            self.rollback(seq)
            self.db.execute("CREATE TABLE IF NOT EXISTS quarantine (seq INTEGER PRIMARY KEY, kind TEXT, payload TEXT, error TEXT)")
            self.db.execute("INSERT OR REPLACE INTO quarantine VALUES (?, ?, ?, ?)", (seq, kind, payload, f"{type(error).__name__}: {error}"))
            self.faults.append(f"journal entry {seq} of {self.path} cannot be replayed ({type(error).__name__}: {error}); "
                               "kept in its `quarantine` table and skipped")
            return []
