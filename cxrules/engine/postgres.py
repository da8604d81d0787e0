"""The engine's state in PostgreSQL: several engine processes on one database, for load and for fail-over.

The state is the rows of :mod:`.tables`; a process holds only what the unit it is applying
touched. Each unit of work (an event, a run of due timers, a reload) is one transaction:

- it starts by taking ``pg_advisory_xact_lock``: units are applied one at a time across all
  processes, because agents' loads and queues are shared by every ticket and one order is what
  makes the decisions the same as one engine's would be (per-ticket order follows);
- due timers are claimed with ``FOR UPDATE SKIP LOCKED`` and deleted in the transaction that
  fires them, so a timer fires exactly once, whichever process gets it;
- the decisions are written to the ``cx_outbox`` table in the same transaction (a
  transactional outbox): they exist if and only if the state change does;
- a failure anywhere rolls the whole transaction back: nothing of the unit is kept.

After the commit, the process that made the decisions runs their handlers and marks them
delivered; failed tries, backoff and dead letters are kept in the outbox (see :mod:`.delivery`).
A process that dies (even by SIGKILL) leaves its undelivered decisions behind; each process
holds a session advisory lock on its own instance number for as long as it lives, so another
process can tell that the owner is gone (:meth:`PostgresStore.take_over`, run at start and on
every :meth:`~.engine.Engine.advance`) and deliver them, claimed with ``FOR UPDATE SKIP LOCKED``
so exactly one process does.

The org's id and content fingerprint are recorded: an engine of another org is refused; an
engine started with a changed version of the org moves the tickets in flight to it (reported
in ``org_change``), after which a process still running the old version is refused at its
next event with a message to restart it. Point cxrules at a database with
``Engine(org, store="postgresql://user@host/db")`` or ``PostgresStore(url)``; one database per org.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any, Optional

from .store import StoreError
from .tables import OPENING_COLUMNS, TableStore, first_line, schema

try:
    import psycopg
except ImportError:  # pragma: no cover - the package depends on psycopg; a trimmed install gets a clear error
    psycopg = None  # type: ignore[assignment]

__all__ = ["PostgresStore", "is_database_url"]

UNITS_LOCK = 7_362_001
"""The advisory lock every unit of work holds: one unit at a time across all processes."""
LIVENESS = 7_362
"""The advisory lock class of instance numbers: held by a process for as long as it lives."""

_LOCK = f"SELECT pg_advisory_xact_lock({UNITS_LOCK})"
"""Taken in a statement of its own: a statement sees the data as of its start, so reads must come after the wait."""
_OPENING = "SELECT " + OPENING_COLUMNS.format(
    loads="(SELECT coalesce(json_object_agg(agent, load), '{}') FROM cx_loads)",
    cursors="(SELECT coalesce(json_object_agg(role, number), '{}') FROM cx_cursors)",
    surges="(SELECT coalesce(json_agg(surge), '[]') FROM cx_active_surges)",
    queues="(SELECT coalesce(json_object_agg(role, length), '{}') FROM cx_queues)")

_TAKE_DUE = """WITH taken AS (
    DELETE FROM cx_timers WHERE seq IN (SELECT seq FROM cx_timers WHERE due <= %s FOR UPDATE SKIP LOCKED)
    RETURNING seq, due, due_data, kind, ticket_id, key, data)
SELECT taken.*, (SELECT state FROM cx_tickets WHERE id = taken.ticket_id) FROM taken ORDER BY due, seq"""
"""Claim the due timers (never one another transaction holds) and take them off the schedule, each with its
ticket's row: one round trip."""


_SET_WRITES = {
    "tickets": ("INSERT INTO cx_tickets SELECT id, state FROM {rows} ON CONFLICT (id) DO UPDATE SET state = excluded.state",
                "id text, state text"),
    "gone": ("DELETE FROM cx_tickets WHERE id IN (SELECT id FROM {rows})", "id text"),
    "queues": ("INSERT INTO cx_queues SELECT role, length FROM {rows} ON CONFLICT (role) DO UPDATE SET length = excluded.length",
               "role text, length integer"),
    "window_starts": ("DELETE FROM cx_arrivals a USING {rows} WHERE a.surge = r.surge AND a.at <= r.at", "surge text, at double precision"),
    "arrivals": ("INSERT INTO cx_arrivals (surge, at) SELECT surge, at FROM {rows} ORDER BY n", "surge text, at double precision"),
    "fact_windows": ("DELETE FROM cx_facts f USING {rows} WHERE f.key = r.key AND f.at <= r.at", "key text, at double precision"),
    "facts_expired": ("DELETE FROM cx_facts f USING {rows} WHERE f.until <= r.until", "until double precision"),
    "facts": ("INSERT INTO cx_facts (key, at, ticket_id, until) SELECT key, at, ticket_id, until FROM {rows} ORDER BY n",
              "key text, at double precision, ticket_id text, until double precision"),
    "loads": ("INSERT INTO cx_loads SELECT agent, load FROM {rows} ON CONFLICT (agent) DO UPDATE SET load = excluded.load",
              "agent text, load integer"),
    "cursors": ("INSERT INTO cx_cursors SELECT role, number FROM {rows} ON CONFLICT (role) DO UPDATE SET number = excluded.number",
                "role text, number integer"),
    "surges_off": ("DELETE FROM cx_active_surges WHERE surge IN (SELECT surge FROM {rows})", "surge text"),
    "surges_on": ("INSERT INTO cx_active_surges SELECT surge FROM {rows}", "surge text"),
    "fallback": ("INSERT INTO cx_fallback (ticket_id) SELECT ticket_id FROM {rows} ORDER BY n", "ticket_id text"),
    "counters": ("UPDATE cx_counters c SET value = c.value * r.keep + r.value FROM {rows} WHERE c.name = r.name",
                 "keep bigint, value bigint, name text"),
    "timers": ("INSERT INTO cx_timers SELECT seq, due, due_data, kind, ticket_id, key, data FROM {rows}",
               "seq bigint, due double precision, due_data text, kind text, ticket_id text, key text, data text"),
    "outbox": ("INSERT INTO cx_outbox (key, payload, owner) SELECT key, payload, owner FROM {rows} ORDER BY n ON CONFLICT (key) DO NOTHING",
               "key text, payload text, owner integer"),
    "delivered": ("DELETE FROM cx_outbox WHERE state = 0 AND key IN (SELECT key FROM {rows})", "key text"),
}
"""Each set of rows a unit changed (:data:`.tables.WRITES`), written from one JSON array: a unit's writes are one statement."""


@lru_cache(maxsize=256)
def _write_statement(names: tuple[str, ...]) -> str:
    parts = []
    for number, name in enumerate(names):
        statement, columns = _SET_WRITES[name]
        rows = f"json_to_recordset(%s::json) AS r({columns}, n integer)"
        parts.append(f"w{number} AS ({statement.format(rows=rows)})")
    return "WITH " + ", ".join(parts) + " SELECT 1"


def is_database_url(text: str) -> bool:
    return text.startswith(("postgresql://", "postgres://"))


class PostgresStore(TableStore):
    """Engine state in PostgreSQL (see the module docstring)."""

    errors = (psycopg.Error,) if psycopg else ()

    def __init__(self, url: str, connect_timeout: int = 10):
        super().__init__()
        if psycopg is None:  # pragma: no cover
            raise StoreError("the PostgreSQL store needs the psycopg package: pip install 'psycopg[binary]'")
        self.url = url
        try:
            self.db = psycopg.connect(url, autocommit=True, connect_timeout=connect_timeout)
            self.db.execute(f"SELECT pg_advisory_lock({UNITS_LOCK})")  # two processes creating the tables at once collide
            try:
                self.db.execute(schema("bigserial PRIMARY KEY"))
                self.db.execute("CREATE TABLE IF NOT EXISTS cx_instances (id serial PRIMARY KEY, started timestamptz NOT NULL "
                                "DEFAULT now(), process text NOT NULL)")
                self.db.execute("INSERT INTO cx_counters VALUES ('next_seq', 0), ('events', 0) ON CONFLICT DO NOTHING")
            finally:
                self.db.execute(f"SELECT pg_advisory_unlock({UNITS_LOCK})")
            self.instance = self._one("INSERT INTO cx_instances (process) VALUES (%s) RETURNING id", (f"process {os.getpid()}",))
            self.db.execute("SELECT pg_advisory_lock(%s, %s)", (LIVENESS, self.instance))
        except psycopg.Error as error:
            raise StoreError(f"cannot use the database {self.where()} as a cxrules store: {first_line(error)}") from None

    def where(self) -> str:
        """The URL without its password."""
        scheme, _, rest = self.url.partition("://")
        credentials, at, host = rest.rpartition("@")
        return f"{scheme}://{credentials.split(':', 1)[0]}{at}{host}" if at else self.url

    def _run(self, sql: str, parameters: tuple = ()) -> Any:
        return self.db.execute(sql, parameters)

    def _run_many(self, sql: str, rows: list) -> None:
        with self.db.cursor() as cursor:
            cursor.executemany(sql, rows)

    def _open(self, begun: bool) -> tuple:
        with self.db.pipeline():  # BEGIN, the lock and the opening read in one round trip, in this order
            if not begun:
                self.db.execute("BEGIN")
                self.db.execute(_LOCK)
            cursor = self.db.execute(_OPENING)
        return cursor.fetchone() or (None,) * 7

    def _write(self, changes: dict[str, list[tuple]]) -> None:
        """All of a unit's rows in one statement of data-modifying parts, each reading its rows from a JSON array."""
        if not changes:
            return
        names = tuple(changes)
        fields = {name: [column.split()[0] for column in _SET_WRITES[name][1].split(", ")] for name in names}
        arrays = [json.dumps([{**dict(zip(fields[name], row)), "n": number} for number, row in enumerate(changes[name])],
                             ensure_ascii=False) for name in names]
        self.db.execute(_write_statement(names), arrays)

    def _commit(self, write, end: str) -> None:
        with self.db.pipeline():  # every write of the unit in one round trip
            write()
            self.db.execute(end)

    def _take_due(self, now: float) -> tuple[list[tuple], Optional[float]]:
        with self.db.pipeline():
            rows = self.db.execute(_TAKE_DUE, (now,))
            following = self.db.execute("SELECT min(due) FROM cx_timers WHERE due > %s", (now,))
        return rows.fetchall(), (following.fetchone() or (None,))[0]

    def take_over(self) -> list:
        """Undelivered decisions of processes that died: claimed for this one (exactly one process gets each)."""
        self.flush_delivered()
        owners = [row[0] for row in self._run("SELECT DISTINCT owner FROM cx_outbox WHERE state = 0 AND owner <> %s", (self.instance,))]
        taken = []
        for owner in owners:
            if not self._one("SELECT pg_try_advisory_lock(%s, %s)", (LIVENESS, owner)):
                continue  # alive: its own handlers are at work
            self._run("SELECT pg_advisory_unlock(%s, %s)", (LIVENESS, owner))
            claimed = self._run("UPDATE cx_outbox SET owner = %s WHERE position IN (SELECT position FROM cx_outbox WHERE owner = %s "
                                "AND state = 0 FOR UPDATE SKIP LOCKED) RETURNING position", (self.instance, owner)).fetchall()
            if claimed:
                taken.extend(self._undelivered("AND position = ANY(%s)", ([row[0] for row in claimed],)))
        return taken

    def recover(self, engine) -> list:
        """Check the database holds this org (reloading if it changed); take over what dead processes left undelivered."""
        try:
            self.check_org(engine)
            return self.take_over()
        except StoreError:
            self.close()
            raise

    def close(self) -> None:
        """Mark what was delivered and close the connection (which drops this instance's liveness lock)."""
        if self._unit is not None:
            self._abort()
        try:
            self.flush_delivered()
        finally:
            self.db.close()
