"""The engine's state in PostgreSQL: several engine processes on one database, for load and for fail-over.

Every piece of state is a row (see ``SCHEMA``), never held in memory between events: a
process keeps only what the event it is applying touched, and forgets it at commit. Each
unit of work (an event, a run of due timers, a reload) is one transaction:

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

The org's id and content fingerprint are recorded in ``cx_meta``: an engine of another org is
refused; an engine started with a changed version of the org reloads the tickets in flight
(reported in ``org_change``), after which a process still running the old version is refused
at its next event with a message to restart it. Point cxrules at a database with
``Engine(org, store="postgresql://user@host/db")`` or ``PostgresStore(dsn)``; one database (or
one ``search_path`` schema) per org.
"""

from __future__ import annotations

import heapq
import json
import os
from collections import deque
from datetime import datetime
from typing import TYPE_CHECKING, Any, Optional

from ..model import fingerprint
from .data import DataError, from_data, to_data
from .delivery import DeadLetter
from .snapshot import SnapshotError, strings_from_data, ticket_from_data, ticket_to_data, times_from_data
from .sqlite import StoreError, decision_from_json, decision_to_json
from .store import Store, TicketState, Timer

if TYPE_CHECKING:
    from .engine import ReloadReport

try:
    import psycopg
except ImportError:  # pragma: no cover - the package depends on psycopg; a trimmed install gets a clear error
    psycopg = None  # type: ignore[assignment]

__all__ = ["PostgresStore", "is_database_url"]

UNITS_LOCK = 7_362_001
"""The advisory lock every unit of work holds: one unit at a time across all processes."""
LIVENESS = 7_362
"""The advisory lock class of instance numbers: held by a process for as long as it lives."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS cx_meta (name text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS cx_counters (name text PRIMARY KEY, value bigint NOT NULL);
CREATE TABLE IF NOT EXISTS cx_tickets (id text PRIMARY KEY, state text NOT NULL);
CREATE TABLE IF NOT EXISTS cx_timers (seq bigint PRIMARY KEY, due timestamptz NOT NULL, due_data text NOT NULL, kind text NOT NULL,
                                      ticket_id text, key text NOT NULL, data text NOT NULL);
CREATE INDEX IF NOT EXISTS cx_timers_due ON cx_timers (due, seq);
CREATE TABLE IF NOT EXISTS cx_fired (key text PRIMARY KEY);
CREATE TABLE IF NOT EXISTS cx_queues (role text PRIMARY KEY, tickets text NOT NULL);
CREATE TABLE IF NOT EXISTS cx_loads (agent text PRIMARY KEY, load integer NOT NULL);
CREATE TABLE IF NOT EXISTS cx_cursors (role text PRIMARY KEY, number integer NOT NULL);
CREATE TABLE IF NOT EXISTS cx_arrivals (surge text PRIMARY KEY, times text NOT NULL);
CREATE TABLE IF NOT EXISTS cx_active_surges (surge text PRIMARY KEY);
CREATE TABLE IF NOT EXISTS cx_fallback (position bigserial PRIMARY KEY, ticket_id text NOT NULL);
CREATE TABLE IF NOT EXISTS cx_instances (id serial PRIMARY KEY, started timestamptz NOT NULL DEFAULT now(), process text NOT NULL);
CREATE TABLE IF NOT EXISTS cx_outbox (position bigserial PRIMARY KEY, key text UNIQUE NOT NULL, payload text NOT NULL,
                                      owner integer NOT NULL, state smallint NOT NULL DEFAULT 0,
                                      attempts integer NOT NULL DEFAULT 0, error text);
CREATE INDEX IF NOT EXISTS cx_outbox_owed ON cx_outbox (owner) WHERE state = 0;
"""
"""The tables; cx_outbox.state: 0 undelivered, 1 delivered, 2 dead letter."""

_BEGIN = f"""SELECT pg_advisory_xact_lock({UNITS_LOCK}),
    (SELECT value FROM cx_meta WHERE name = 'org_fingerprint'),
    (SELECT value FROM cx_counters WHERE name = 'next_seq'),
    (SELECT coalesce(json_object_agg(agent, load), '{{}}') FROM cx_loads),
    (SELECT coalesce(json_object_agg(role, number), '{{}}') FROM cx_cursors),
    (SELECT coalesce(json_agg(surge), '[]') FROM cx_active_surges),
    (SELECT min(due) FROM cx_timers)"""
"""One round trip opens a unit: the lock, the org's version, the small tables every event reads, the next timer."""

_TAKE_TIMER = """WITH taken AS (
    DELETE FROM cx_timers WHERE seq = (SELECT seq FROM cx_timers WHERE due <= %s ORDER BY due, seq LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING seq, due_data, kind, ticket_id, key, data)
SELECT taken.*, (SELECT min(due) FROM cx_timers WHERE cx_timers.seq <> taken.seq),
       (SELECT state FROM cx_tickets WHERE id = taken.ticket_id), EXISTS (SELECT 1 FROM cx_fired WHERE cx_fired.key = taken.key)
FROM taken"""
"""Claim the earliest due timer (never one another transaction holds) and take it off the schedule; with it come
when the next is due, its ticket's row and whether a timer of its key fired: one round trip per timer."""


def is_database_url(text: str) -> bool:
    return text.startswith(("postgresql://", "postgres://"))


class PostgresStore(Store):
    """Engine state in PostgreSQL (see the module docstring)."""

    def __init__(self, dsn: str, connect_timeout: int = 10):
        if psycopg is None:  # pragma: no cover
            raise StoreError("the PostgreSQL store needs the psycopg package: pip install 'psycopg[binary]'")
        self.dsn = dsn
        self.faults: list[str] = []
        self.engine = None
        self.org_change: Optional[ReloadReport] = None
        """The :class:`~.engine.ReloadReport` of an org that changed while no engine of this version ran, if it did."""
        self._fingerprint: Optional[str] = None
        self._unit: Optional[_Unit] = None
        self._delivered: list[str] = []
        """Keys of decisions delivered but not yet marked so in the outbox."""
        try:
            self.db = psycopg.connect(dsn, autocommit=True, connect_timeout=connect_timeout)
            self.db.execute(f"SELECT pg_advisory_lock({UNITS_LOCK})")  # two processes creating the tables at once collide
            try:
                self.db.execute(SCHEMA)
                self.db.execute("INSERT INTO cx_counters VALUES ('next_seq', 0), ('events', 0) ON CONFLICT DO NOTHING")
            finally:
                self.db.execute(f"SELECT pg_advisory_unlock({UNITS_LOCK})")
            self.instance = self._one("INSERT INTO cx_instances (process) VALUES (%s) RETURNING id", (f"process {os.getpid()}",))
            self.db.execute("SELECT pg_advisory_lock(%s, %s)", (LIVENESS, self.instance))
        except psycopg.Error as error:
            raise StoreError(f"cannot use the database {_redacted(dsn)} as a cxrules store: {_first_line(error)}") from None

    def _one(self, sql: str, parameters: tuple = ()) -> Any:
        row = self.db.execute(sql, parameters).fetchone()
        return row[0] if row else None

    # ------------------------------------------------------------ units of work

    def begin(self, entry: Optional[tuple]) -> int:
        if self._unit is not None:
            raise StoreError("a unit of work is already open on this store")
        try:
            with self.db.pipeline():  # BEGIN and the first read in one round trip; the read is a prepared statement
                self.db.execute("BEGIN")
                cursor = self.db.execute(_BEGIN)
            _, org_version, next_seq, loads, cursors, active, next_due = cursor.fetchone() or (None,) * 7
        except psycopg.Error as error:
            self._abort()
            raise StoreError(f"cannot start a transaction on {_redacted(self.dsn)}: {_first_line(error)}") from None
        if self._fingerprint is not None and org_version not in (None, self._fingerprint):
            self._abort()
            raise StoreError("another instance runs a changed version of the org on this database; restart this one with it "
                             "(every instance on one database must run the same version)")
        self._unit = _Unit(entry, int(next_seq), loads, cursors, set(active), next_due)
        return 1

    def commit(self, seq: int, decisions: list) -> None:
        unit = self._require_unit()
        try:
            with self.db.pipeline(), self.db.cursor() as cursor:  # every write of the unit in one round trip
                self._write_back(unit, cursor)
                if unit.entry is not None and unit.entry[0] == "event":
                    cursor.execute("UPDATE cx_counters SET value = value + 1 WHERE name = 'events'")
                if decisions:
                    cursor.executemany("INSERT INTO cx_outbox (key, payload, owner) VALUES (%s, %s, %s) ON CONFLICT (key) DO NOTHING",
                                       [(x.key, decision_to_json(x), self.instance) for x in decisions])
                if self._delivered:
                    cursor.executemany("UPDATE cx_outbox SET state = 1 WHERE key = %s AND state = 0", [(key,) for key in self._delivered])
                cursor.execute("COMMIT")
            self._delivered = []
        except psycopg.Error as error:
            self._abort()
            raise StoreError(f"cannot commit to {_redacted(self.dsn)}; nothing of the unit was kept: {_first_line(error)}") from None
        finally:
            self._unit = None

    def rollback(self, seq: int) -> None:
        self._abort()

    def _abort(self) -> None:
        self._unit = None
        try:
            self.db.execute("ROLLBACK")
        except psycopg.Error:
            pass  # a broken connection rolls back by itself

    def _require_unit(self) -> "_Unit":
        if self._unit is None:
            raise StoreError("the engine changed its state outside a unit of work")
        return self._unit

    def _write_back(self, unit: "_Unit", cursor) -> None:
        """Every row the unit changed, written in a few batched statements."""
        tickets = [(ticket_id, text) for ticket_id, ticket in unit.tickets.items() if ticket is not None
                   and (text := json.dumps(ticket_to_data(ticket), ensure_ascii=False)) != unit.ticket_rows.get(ticket_id)]
        if tickets:
            cursor.executemany("INSERT INTO cx_tickets VALUES (%s, %s) ON CONFLICT (id) DO UPDATE SET state = excluded.state", tickets)
        gone = [(ticket_id,) for ticket_id, ticket in unit.tickets.items() if ticket is None and unit.ticket_rows.get(ticket_id)]
        if gone:
            cursor.executemany("DELETE FROM cx_tickets WHERE id = %s", gone)
        queues = [(role, text) for role, queue in unit.queues.items() if (text := json.dumps(list(queue))) != unit.queue_rows[role]]
        if queues:
            cursor.executemany("INSERT INTO cx_queues VALUES (%s, %s) ON CONFLICT (role) DO UPDATE SET tickets = excluded.tickets", queues)
        arrivals = [(surge, text) for surge, times in unit.arrivals.items()
                    if (text := json.dumps([to_data(at) for at in times])) != unit.arrival_rows[surge]]
        if arrivals:
            cursor.executemany("INSERT INTO cx_arrivals VALUES (%s, %s) ON CONFLICT (surge) DO UPDATE SET times = excluded.times", arrivals)
        if unit.changed_loads:
            cursor.executemany("INSERT INTO cx_loads VALUES (%s, %s) ON CONFLICT (agent) DO UPDATE SET load = excluded.load",
                               [(agent, unit.loads[agent]) for agent in sorted(unit.changed_loads)])
        if unit.changed_cursors:
            cursor.executemany("INSERT INTO cx_cursors VALUES (%s, %s) ON CONFLICT (role) DO UPDATE SET number = excluded.number",
                               [(role, unit.cursors[role]) for role in sorted(unit.changed_cursors)])
        if unit.surges_changed:
            cursor.execute("DELETE FROM cx_active_surges")
            cursor.executemany("INSERT INTO cx_active_surges VALUES (%s)", [(surge,) for surge in sorted(unit.active_surges)])
        if unit.fallback:
            cursor.executemany("INSERT INTO cx_fallback (ticket_id) VALUES (%s)", [(ticket_id,) for ticket_id in unit.fallback])
        if unit.next_seq != unit.first_seq:
            cursor.execute("UPDATE cx_counters SET value = %s WHERE name = 'next_seq'", (unit.next_seq,))
        if unit.new_timers:
            cursor.executemany("INSERT INTO cx_timers VALUES (%s, %s, %s, %s, %s, %s, %s)",
                               [(t.seq, t.due, json.dumps(to_data(t.due)), t.kind, t.ticket_id, t.key,
                                 json.dumps(to_data(t.data), ensure_ascii=False)) for _, _, t in unit.new_timers])
        if unit.marked:
            cursor.executemany("INSERT INTO cx_fired VALUES (%s) ON CONFLICT DO NOTHING", [(key,) for key in unit.marked])

    # ------------------------------------------------------------ tickets

    def get(self, ticket_id: str) -> Optional[TicketState]:
        unit = self._unit
        if unit is not None and ticket_id in unit.tickets:
            return unit.tickets[ticket_id]
        text = self._one("SELECT state FROM cx_tickets WHERE id = %s", (ticket_id,))
        ticket = None if text is None else _ticket(text)
        if unit is not None:
            unit.ticket_rows[ticket_id] = text
            unit.tickets[ticket_id] = ticket
        return ticket

    def put(self, ticket: TicketState) -> None:
        unit = self._require_unit()
        if ticket.id not in unit.tickets:
            self.get(ticket.id)
        unit.tickets[ticket.id] = ticket

    def drop(self, ticket_id: str) -> None:
        unit = self._require_unit()
        if ticket_id not in unit.tickets:
            self.get(ticket_id)
        unit.tickets[ticket_id] = None

    def all_tickets(self) -> list[TicketState]:
        ids = [row[0] for row in self.db.execute("SELECT id FROM cx_tickets ORDER BY id")]
        return [ticket for ticket_id in ids if (ticket := self.get(ticket_id)) is not None]

    # ------------------------------------------------------------ queues, agents, surges, fallback

    def queue(self, role: str) -> deque[str]:
        unit = self._require_unit()
        if role not in unit.queues:
            text = self._one("SELECT tickets FROM cx_queues WHERE role = %s", (role,))
            unit.queue_rows[role] = text or "[]"
            unit.queues[role] = deque(_read(strings_from_data, text or "[]", f"the queue of {role}"))
        return unit.queues[role]

    def queued(self, role: str) -> list[str]:
        if self._unit is not None:
            return list(self.queue(role))
        return _read(strings_from_data, self._one("SELECT tickets FROM cx_queues WHERE role = %s", (role,)) or "[]", f"the queue of {role}")

    def load(self, agent: str) -> int:
        return self._require_unit().loads.get(agent, 0)

    def add_load(self, agent: str, change: int) -> None:
        unit = self._require_unit()
        unit.loads[agent] = unit.loads.get(agent, 0) + change
        unit.changed_loads.add(agent)

    def cursor(self, role: str) -> int:
        return self._require_unit().cursors.get(role, -1)

    def set_cursor(self, role: str, number: int) -> None:
        unit = self._require_unit()
        unit.cursors[role] = number
        unit.changed_cursors.add(role)

    def arrivals(self, surge: str) -> deque[datetime]:
        unit = self._require_unit()
        if surge not in unit.arrivals:
            text = self._one("SELECT times FROM cx_arrivals WHERE surge = %s", (surge,)) or "[]"
            unit.arrival_rows[surge] = text
            unit.arrivals[surge] = deque(_read(times_from_data, text, f"the arrivals of surge {surge}"))
        return unit.arrivals[surge]

    def surge_active(self, surge: str) -> bool:
        return surge in self._require_unit().active_surges

    def set_surge_active(self, surge: str, active: bool) -> None:
        unit = self._require_unit()
        (unit.active_surges.add if active else unit.active_surges.discard)(surge)
        unit.surges_changed = True

    def add_fallback(self, ticket_id: str) -> None:
        self._require_unit().fallback.append(ticket_id)

    def fallback_tickets(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT ticket_id FROM cx_fallback ORDER BY position")]

    # ------------------------------------------------------------ timers

    @property
    def next_seq(self) -> int:
        if self._unit is not None:
            return self._unit.next_seq
        return int(self._one("SELECT value FROM cx_counters WHERE name = 'next_seq'"))

    def schedule(self, due: datetime, kind: str, ticket_id: Optional[str], key: str, data: Any = None) -> None:
        unit = self._require_unit()
        timer = Timer(due, unit.next_seq, kind, ticket_id, key, data)
        unit.next_seq += 1
        if not self.fired(timer):  # written at commit; until then the unit keeps it (and may fire it)
            heapq.heappush(unit.new_timers, (due.timestamp(), timer.seq, timer))

    def pop_due(self, now: datetime) -> Optional[Timer]:
        """The earliest due timer, of those stored (claimed with ``SKIP LOCKED``) and those this unit scheduled."""
        unit = self._require_unit()
        moment = now.timestamp()
        stored = unit.next_stored.timestamp() if unit.next_stored is not None else None
        if unit.new_timers and unit.new_timers[0][0] <= moment and (stored is None or unit.new_timers[0][0] < stored):
            return heapq.heappop(unit.new_timers)[2]  # stored timers are older: at the same time they go first
        if stored is None or stored > moment:
            return None
        row = self.db.execute(_TAKE_TIMER, (now,)).fetchone()
        if row is None:
            unit.next_stored = None
            return self.pop_due(now)
        seq, due, kind, ticket_id, key, data, unit.next_stored, ticket_row, fired = row
        if ticket_id is not None and ticket_id not in unit.tickets:
            unit.ticket_rows[ticket_id] = ticket_row
            unit.tickets[ticket_id] = None if ticket_row is None else _ticket(ticket_row)
        unit.fired_keys.setdefault(key, fired)
        try:  # the due time as it was scheduled, in its zone (the column `due` is for ordering)
            return Timer(from_data(json.loads(due)), seq, kind, ticket_id, key, from_data(json.loads(data)))
        except (ValueError, DataError) as error:
            raise SnapshotError(f"timer {key[:60]} holds unreadable data: {error}") from None

    def next_due(self) -> Optional[datetime]:
        return self._one("SELECT due FROM cx_timers ORDER BY due, seq LIMIT 1")

    def fired(self, timer: Timer) -> bool:
        if timer.ticket_id is None:  # a stored timer brought its answer (_TAKE_TIMER); a new one is checked when taken
            return self._require_unit().fired_keys.get(timer.key, False)
        ticket = self.get(timer.ticket_id)
        return ticket is None or timer.seq < ticket.first_seq or timer.key in ticket.fired

    def mark_fired(self, timer: Timer) -> None:
        if timer.ticket_id is None:
            unit = self._require_unit()
            unit.fired_keys[timer.key] = True
            unit.marked.append(timer.key)
        elif (ticket := self.get(timer.ticket_id)) is not None:
            ticket.fired.add(timer.key)

    # ------------------------------------------------------------ delivery: the outbox

    def dispatched(self, decisions: list) -> None:
        """Marked with the next unit's writes or the next :meth:`take_over` (a round trip saved per event).

        A crash before then only delivers them again: at least once, as promised.
        """
        self._delivered.extend(x.key for x in decisions)
        if len(self._delivered) >= 1000:
            self._flush_delivered()

    def _flush_delivered(self) -> None:
        keys, self._delivered = self._delivered, []
        self._mark("UPDATE cx_outbox SET state = 1 WHERE key = %s AND state = 0", [(key,) for key in keys], "mark decisions delivered")

    def delivery_attempts(self, key: str) -> int:
        return self._one("SELECT attempts FROM cx_outbox WHERE key = %s AND state = 0", (key,)) or 0

    def delivery_failed(self, decision, attempts: int, error: str) -> None:
        self._mark("UPDATE cx_outbox SET attempts = %s, error = %s WHERE key = %s", [(attempts, error, decision.key)], "count a failed delivery")

    def dead_letter(self, decision, attempts: int, error: str) -> None:
        self._mark("UPDATE cx_outbox SET state = 2, attempts = %s, error = %s WHERE key = %s", [(attempts, error, decision.key)],
                   "keep a dead letter")

    def dead_letters(self) -> list[DeadLetter]:
        letters = []
        for payload, attempts, error in self.db.execute("SELECT payload, attempts, error FROM cx_outbox WHERE state = 2 ORDER BY position"):
            try:
                letters.append(DeadLetter(decision_from_json(payload), attempts, error or ""))
            except ValueError as problem:
                self.faults.append(f"a dead letter in the outbox cannot be read: {problem}")
        return letters

    def _mark(self, statement: str, rows: list, what: str) -> None:
        try:
            with self.db.cursor() as cursor:
                cursor.executemany(statement, rows)
        except psycopg.Error as error:  # the decisions stay owed: delivered again after a restart or by another process
            self.faults.append(f"could not {what} in {_redacted(self.dsn)}: {_first_line(error)}")

    def take_over(self) -> list:
        """Undelivered decisions of processes that died: claimed for this one (exactly one process gets each)."""
        self._flush_delivered()
        owners = [row[0] for row in self.db.execute("SELECT DISTINCT owner FROM cx_outbox WHERE state = 0 AND owner <> %s", (self.instance,))]
        taken = []
        for owner in owners:
            if not self._one("SELECT pg_try_advisory_lock(%s, %s)", (LIVENESS, owner)):
                continue  # alive: its own handlers are at work
            self.db.execute("SELECT pg_advisory_unlock(%s, %s)", (LIVENESS, owner))
            rows = self.db.execute(
                "UPDATE cx_outbox SET owner = %s WHERE position IN (SELECT position FROM cx_outbox WHERE owner = %s AND state = 0 "
                "ORDER BY position FOR UPDATE SKIP LOCKED) RETURNING position, payload", (self.instance, owner)).fetchall()
            for _, payload in sorted(rows):
                try:
                    taken.append(decision_from_json(payload))
                except ValueError as problem:
                    self.faults.append(f"an outbox row left by instance {owner} cannot be read: {problem}")
        return taken

    # ------------------------------------------------------------ start and end

    def recover(self, engine) -> list:
        """Check the database holds this org; reload it if the org changed; take over what dead processes left undelivered."""
        self.engine = engine
        meta: dict[str, str] = dict(self.db.execute("SELECT name, value FROM cx_meta").fetchall())
        org_id, version = engine.org.info.id, fingerprint(engine.org)
        if meta.get("org", org_id) != org_id:
            self.close()
            raise StoreError(f"the database {_redacted(self.dsn)} holds the state of org `{meta['org']}`, not `{org_id}`")
        if meta.get("org_fingerprint") != version:
            if "org_fingerprint" in meta:  # the tickets in flight move to the new rules first, then the version is recorded
                self.org_change = report = engine.reload(engine.org)
                self.faults.append(f"org `{org_id}` changed since the database was last written: {len(report.kept)} open "
                                   f"tickets follow the new rules, {len(report.moved_to_fallback)} went to the fallback queue")
            self.db.execute("INSERT INTO cx_meta VALUES ('org', %s), ('org_fingerprint', %s), ('format', '1') "
                            "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (org_id, version))
        self._fingerprint = version
        return self.take_over()

    @property
    def events_applied(self) -> int:
        """How many events the database has taken in, from every process: a feeder resumes after them."""
        return int(self._one("SELECT value FROM cx_counters WHERE name = 'events'"))

    def close(self) -> None:
        """Close the connection (which drops this instance's liveness lock)."""
        if self._unit is not None:
            self._abort()
        self._flush_delivered()
        self.db.close()


class _Unit:
    """What one unit of work has read and changed: rows it loaded (as read, to write back only changes) and its edits."""

    def __init__(self, entry: Optional[tuple], next_seq: int, loads: dict, cursors: dict, active_surges: set,
                 next_stored: Optional[datetime]):
        self.entry = entry
        self.next_stored = next_stored
        """When the earliest stored timer is due (None: none is)."""
        self.new_timers: list[tuple[float, int, Timer]] = []
        """Timers scheduled by this unit, a heap as in :class:`~.store.MemoryStore`; written at commit."""
        self.fired_keys: dict[str, bool] = {}
        self.marked: list[str] = []
        self.first_seq = self.next_seq = next_seq
        self.loads: dict[str, int] = loads
        self.cursors: dict[str, int] = cursors
        self.active_surges: set[str] = active_surges
        self.changed_loads: set[str] = set()
        self.changed_cursors: set[str] = set()
        self.surges_changed = False
        self.tickets: dict[str, Optional[TicketState]] = {}
        self.ticket_rows: dict[str, Optional[str]] = {}
        self.queues: dict[str, deque[str]] = {}
        self.queue_rows: dict[str, str] = {}
        self.arrivals: dict[str, deque[datetime]] = {}
        self.arrival_rows: dict[str, str] = {}
        self.fallback: list[str] = []


def _ticket(text: str) -> TicketState:
    return _read(ticket_from_data, text, "a ticket row")


def _read(parse, text: str, what: str):
    """A row's JSON read back and checked: a damaged row fails the unit (rolled back), never the process."""
    try:
        return parse(json.loads(text))
    except (ValueError, RecursionError) as error:
        raise SnapshotError(f"{what} in the database is damaged: {error}") from None


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _redacted(dsn: str) -> str:
    """The connection string without its password, for messages."""
    if "://" in dsn and "@" in dsn.split("://", 1)[1]:
        scheme, rest = dsn.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"
    return dsn.split(" password=")[0]
