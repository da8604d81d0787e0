"""Engine state as rows in a database, never held between events: what the SQLite and PostgreSQL stores share.

Each unit of work (an event, a run of due timers, a reload) is one transaction. A unit reads
the rows it needs as the engine asks for them (a ticket, a role's queue, a surge's arrivals;
agents' loads, round-robin cursors and active surges come with the opening read), keeps
them for the length of the unit so the engine can change them in place, and at commit
writes back only the rows that changed, the timers it scheduled and did not fire, and its
decisions into the outbox, in the same transaction. Rollback throws the unit away. Between
units the process holds no state, so memory does not grow with tickets, timers or history.

The tables (format 3):

- ``cx_tickets(id, state)``: one JSON object per ticket held (:func:`.snapshot.ticket_to_data`);
- ``cx_timers(seq, due, due_data, kind, ticket_id, key, data)``: ``due`` is POSIX seconds for
  ordering, ``due_data`` the time as scheduled, in its zone;
- ``cx_queued(position, role, ticket_id)``: tickets waiting for an agent, oldest first; ``cx_queues(role,
  length)``: how many wait per role; ``cx_arrivals(position, surge, at)``: arrivals a surge
  rule counts, in POSIX seconds, until they leave its window; ``cx_facts(position, key, at,
  ticket_id, until)``: events a pattern across tickets counts (an automation's key and whose
  tickets), until they leave its window (created on opening where a format-3 store lacks it);
- ``cx_loads(agent, load)``, ``cx_cursors(role, number)``, ``cx_active_surges(surge)``,
  ``cx_fallback(position, ticket_id)``;
- ``cx_counters``: ``next_seq`` (the next timer's number) and ``events`` (events taken in);
- ``cx_meta``: ``format``, the ``org`` id and its ``org_fingerprint``;
- ``cx_outbox(position, key, payload, owner, state, attempts, error)``: each decision (JSON) from its commit until
  its handlers have all returned (then the row goes); ``state`` 0 is owed, 2 a dead letter; ``owner`` the process
  that made it (PostgreSQL).
"""

from __future__ import annotations

import heapq
import itertools
import json
from abc import abstractmethod
from collections import OrderedDict, deque
from datetime import datetime, timezone
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence

from ..calendars import seconds
from ..model import fingerprint
from .data import from_data, time_to_json, to_data
from .retries import DeadLetter
from .snapshot import SnapshotError, ticket_from_data, ticket_to_data
from .store import Store, StoreError, TicketState, Timer, Unreadable, copy_ticket
from .wire import decision_from_json, decision_to_json

if TYPE_CHECKING:
    from .engine import ReloadReport

__all__ = ["TableStore", "FORMAT", "schema"]

FORMAT = 3
"""The layout of the tables above; 2 was a JSON snapshot plus a journal, 1 a pickle (both read only to migrate)."""


def schema(serial: str) -> str:
    """The tables, with ``serial`` the dialect's auto-numbered primary key."""
    return f"""
CREATE TABLE IF NOT EXISTS cx_meta (name text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS cx_counters (name text PRIMARY KEY, value bigint NOT NULL);
CREATE TABLE IF NOT EXISTS cx_tickets (id text PRIMARY KEY, state text NOT NULL);
CREATE TABLE IF NOT EXISTS cx_timers (seq bigint PRIMARY KEY, due double precision NOT NULL, due_data text NOT NULL,
                                      kind text NOT NULL, ticket_id text, key text NOT NULL, data text NOT NULL);
CREATE INDEX IF NOT EXISTS cx_timers_due ON cx_timers (due, seq);
CREATE TABLE IF NOT EXISTS cx_queues (role text PRIMARY KEY, length integer NOT NULL);
CREATE TABLE IF NOT EXISTS cx_queued (position {serial}, role text NOT NULL, ticket_id text NOT NULL);
CREATE INDEX IF NOT EXISTS cx_queued_role ON cx_queued (role, position);
CREATE INDEX IF NOT EXISTS cx_queued_ticket ON cx_queued (role, ticket_id);
CREATE TABLE IF NOT EXISTS cx_loads (agent text PRIMARY KEY, load integer NOT NULL);
CREATE TABLE IF NOT EXISTS cx_cursors (role text PRIMARY KEY, number integer NOT NULL);
CREATE TABLE IF NOT EXISTS cx_arrivals (position {serial}, surge text NOT NULL, at double precision NOT NULL);
CREATE INDEX IF NOT EXISTS cx_arrivals_window ON cx_arrivals (surge, at);
CREATE TABLE IF NOT EXISTS cx_active_surges (surge text PRIMARY KEY);
CREATE TABLE IF NOT EXISTS cx_facts (position {serial}, key text NOT NULL, at double precision NOT NULL, ticket_id text NOT NULL,
                                     until double precision NOT NULL);
CREATE INDEX IF NOT EXISTS cx_facts_window ON cx_facts (key, at);
CREATE INDEX IF NOT EXISTS cx_facts_until ON cx_facts (until);
CREATE TABLE IF NOT EXISTS cx_fallback (position {serial}, ticket_id text NOT NULL);
CREATE TABLE IF NOT EXISTS cx_outbox (position {serial}, key text UNIQUE NOT NULL, payload text NOT NULL,
                                      owner integer NOT NULL DEFAULT 0, state smallint NOT NULL DEFAULT 0,
                                      attempts integer NOT NULL DEFAULT 0, error text);
CREATE INDEX IF NOT EXISTS cx_outbox_owed ON cx_outbox (owner) WHERE state = 0;
"""


OPENING_COLUMNS = """(SELECT value FROM cx_meta WHERE name = 'org_fingerprint'),
    (SELECT value FROM cx_counters WHERE name = 'next_seq'),
    {loads}, {cursors}, {surges}, {queues},
    (SELECT min(due) FROM cx_timers)"""
"""What a unit reads first, in one round trip: the org's version, the small tables every event reads, the next timer."""


_DELIVERED = "DELETE FROM cx_outbox WHERE key = %s AND state = 0"
"""A decision whose handlers all returned leaves the outbox (a dead letter stays)."""

_FACTS_IN_WINDOW = "FROM cx_facts WHERE key = %s AND at > %s AND until > %s"
"""The stored facts of a key in its window (after its start, not spent), the parameters in that order."""


WRITES = {
    "tickets": "INSERT INTO cx_tickets VALUES (%s, %s) ON CONFLICT (id) DO UPDATE SET state = excluded.state",
    "gone": "DELETE FROM cx_tickets WHERE id = %s",
    "queues": "INSERT INTO cx_queues VALUES (%s, %s) ON CONFLICT (role) DO UPDATE SET length = excluded.length",
    "window_starts": "DELETE FROM cx_arrivals WHERE surge = %s AND at <= %s",
    "arrivals": "INSERT INTO cx_arrivals (surge, at) VALUES (%s, %s)",
    "fact_windows": "DELETE FROM cx_facts WHERE key = %s AND at <= %s",
    "facts_expired": "DELETE FROM cx_facts WHERE until <= %s",
    "facts": "INSERT INTO cx_facts (key, at, ticket_id, until) VALUES (%s, %s, %s, %s)",
    "loads": "INSERT INTO cx_loads VALUES (%s, %s) ON CONFLICT (agent) DO UPDATE SET load = excluded.load",
    "cursors": "INSERT INTO cx_cursors VALUES (%s, %s) ON CONFLICT (role) DO UPDATE SET number = excluded.number",
    "surges_off": "DELETE FROM cx_active_surges WHERE surge = %s",
    "surges_on": "INSERT INTO cx_active_surges VALUES (%s)",
    "fallback": "INSERT INTO cx_fallback (ticket_id) VALUES (%s)",
    "counters": "UPDATE cx_counters SET value = value * %s + %s WHERE name = %s",
    "timers": "INSERT INTO cx_timers VALUES (%s, %s, %s, %s, %s, %s, %s)",
    "outbox": "INSERT INTO cx_outbox (key, payload, owner) VALUES (%s, %s, %s) ON CONFLICT (key) DO NOTHING",
    "delivered": _DELIVERED,
}
"""How each set of rows a unit changed is written, one row at a time (the rows' fields in this order).
`counters` rows are (keep, value, name): keep 1 adds the value to the count, 0 sets it."""


class TableStore(Store):
    """The engine's state as rows; subclasses bring the connection, the transaction and the dialect."""

    def __init__(self, keep_tickets: int = 0, only_writer: bool = False) -> None:
        """``only_writer``: no other process writes the store, so what a unit leaves may be kept for the next
        (the opening read, and up to ``keep_tickets`` tickets decoded)."""
        self._only_writer = only_writer
        self.faults: list[str] = []
        self._keep_tickets = keep_tickets
        self._tickets_kept: OrderedDict[str, Optional[TicketState]] = OrderedDict()
        """Tickets as stored, most recently used last (only when this process is the only writer)."""
        self._opening_kept: Optional[tuple] = None
        """The opening read as the last unit left it (only when this process is the only writer)."""
        self._batch = ""
        """In :meth:`batch`: "open", then "begun" once its transaction has begun; else ""."""
        self.engine = None
        self.org_change: Optional[ReloadReport] = None
        """The :class:`~.engine.ReloadReport` of an org that changed while no engine of this version ran, if it did."""
        self._fingerprint: Optional[str] = None
        self._unit: Optional[_Unit] = None
        self._delivered: list[str] = []
        """Keys of decisions delivered but not yet marked so in the outbox."""
        self.instance = 0
        """The number of this process among those sharing the database (0: the only one)."""

    # ------------------------------------------------------------ what a dialect brings

    errors: tuple[type[Exception], ...] = ()
    """The driver's exceptions: each becomes a StoreError or a fault."""

    @abstractmethod
    def _run(self, sql: str, parameters: tuple = ()) -> Any:
        """Execute one statement (written with ``%s`` placeholders); returns the cursor."""

    @abstractmethod
    def _run_many(self, sql: str, rows: list) -> None: ...

    @abstractmethod
    def _open(self, begun: bool) -> tuple:
        """Begin a transaction that excludes every other unit (unless ``begun``); return the row of :data:`OPENING_COLUMNS`."""

    @abstractmethod
    def _commit(self, write, end: str) -> None:
        """Run ``write()`` (the unit's statements) and then ``end`` (COMMIT, or releasing the unit's savepoint in a batch),
        in as few round trips as the dialect allows."""

    @abstractmethod
    def _take_due(self, now: float) -> tuple[list[tuple], Optional[float]]:
        """Claim every timer due by ``now`` and take it off the schedule: rows of (seq, due, due_data, kind, ticket_id,
        key, data, its ticket's row) in the order they fire, and when the next stored timer is due."""

    @abstractmethod
    def where(self) -> str:
        """The store's file or database, for messages (never a password)."""

    def _one(self, sql: str, parameters: tuple = ()) -> Any:
        row = self._run(sql, parameters).fetchone()
        return row[0] if row else None

    # ------------------------------------------------------------ units of work

    def begin(self, entry: Optional[tuple]) -> int:
        if self._unit is not None:
            raise StoreError("a unit of work is already open on this store")
        try:
            org_version, next_seq, loads, cursors, active, lengths, next_due = self._open(self._batch == "begun")
            if self._batch:
                self._batch = "begun"
                self._run("SAVEPOINT cx_unit")
        except self.errors as error:
            self._abort()
            raise StoreError(f"cannot start a transaction on {self.where()}: {first_line(error)}") from None
        if self._fingerprint is not None and org_version not in (None, self._fingerprint):
            self._abort()
            raise StoreError("another instance runs a changed version of the org on this store; restart this one with it "
                             "(every instance on one store must run the same version)")
        try:
            self._unit = _Unit(entry, int(next_seq), dict(_json(loads)), dict(_json(cursors)), set(_json(active)),
                               dict(_json(lengths)), next_due)
        except (ValueError, TypeError) as error:
            self._abort()
            raise StoreError(f"the counters or agents' loads in {self.where()} are damaged: {error}") from None
        return 1

    def commit(self, seq: int, decisions: list) -> None:
        unit = self._require_unit()
        changes = self._changes(unit, decisions)

        def write() -> None:
            self._write({name: rows for name, rows in changes.items() if rows})

        try:
            self._commit(write, "RELEASE SAVEPOINT cx_unit" if self._batch else "COMMIT")
            self._delivered = []
            if self._only_writer:
                self._remember(unit)
        except self.errors as error:
            self._abort()
            raise StoreError(f"cannot commit to {self.where()}; nothing of the unit was kept: {first_line(error)}") from None
        finally:
            self._unit = None

    def rollback(self, seq: int) -> None:
        self._abort()

    def _remember(self, unit: "_Unit") -> None:
        """After a commit, when no other process writes: keep what the next unit would read again."""
        kept = self._tickets_kept
        for ticket_id, ticket in unit.tickets.items():
            kept[ticket_id] = ticket
            kept.move_to_end(ticket_id)
        while len(kept) > self._keep_tickets:
            kept.popitem(last=False)
        dues = [moment for moment, _, _ in unit.new_timers] + ([unit.next_stored] if unit.next_stored is not None else [])
        self._opening_kept = (None, unit.next_seq, unit.loads, unit.cursors, unit.active_surges, unit.queue_lengths, min(dues, default=None))

    def _abort(self) -> None:
        self._unit = None
        try:
            if self._batch == "begun":  # the units before this one stay in the batch
                self._run("ROLLBACK TO SAVEPOINT cx_unit")
                self._run("RELEASE SAVEPOINT cx_unit")
            else:
                self._run("ROLLBACK")
        except self.errors:
            pass  # no transaction, or a broken connection, which rolls back by itself

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group commit: the units inside share one transaction, each a savepoint (so one failing is undone alone),
        made durable together at the end. StoreError at the end: none of them was kept."""
        if self._batch:
            yield
            return
        self._batch = "open"
        try:
            yield
            if self._batch == "begun":
                self._run("COMMIT")
        except BaseException as error:
            if self._batch == "begun":
                self._batch = "open"
                self._abort()
                self._tickets_kept.clear()  # they held what the batch changed
                self._opening_kept = None
            if isinstance(error, self.errors):
                raise StoreError(f"cannot commit to {self.where()}; nothing of the batch was kept: {first_line(error)}") from None
            raise
        finally:
            self._batch = ""


    def _require_unit(self) -> "_Unit":
        if self._unit is None:
            raise StoreError("the engine changed its state outside a unit of work")
        return self._unit

    def _changes(self, unit: "_Unit", decisions: list) -> dict[str, list[tuple]]:
        """Every row the unit changed, as sets of rows named as in :data:`WRITES`."""
        timers = [row[:7] for row in unit.due_rows]  # taken but not fired (the engine stopped early): back on the schedule
        timers += [(t.seq, moment, time_to_json(t.due), t.kind, t.ticket_id, t.key, json.dumps(to_data(t.data), ensure_ascii=False))
                   for moment, _, t in unit.new_timers]
        counters = [(1, 1, "events")] if unit.entry is not None and unit.entry[0] in ("event", "refused") else []
        if unit.next_seq != unit.first_seq:
            counters.append((0, unit.next_seq, "next_seq"))
        return {
            "tickets": [(ticket.id, json.dumps(ticket_to_data(ticket), ensure_ascii=False)) for ticket_id, ticket in unit.tickets.items()
                        if ticket is not None and ticket != unit.ticket_rows.get(ticket_id)],
            "gone": [(ticket_id,) for ticket_id, ticket in unit.tickets.items() if ticket is None and unit.ticket_rows.get(ticket_id)],
            "queues": [(role, unit.queue_lengths[role]) for role in sorted(unit.changed_queues)],
            "window_starts": sorted(unit.window_starts.items()),
            "arrivals": unit.arrived,
            "fact_windows": sorted(unit.fact_window_starts.items()),
            "facts_expired": [] if unit.facts_expired_at is None else [(unit.facts_expired_at,)],
            "facts": unit.facts,
            "loads": [(agent, unit.loads[agent]) for agent in sorted(unit.changed_loads)],
            "cursors": [(role, unit.cursors[role]) for role in sorted(unit.changed_cursors)],
            "surges_off": [(surge,) for surge in sorted(unit.active_at_start - unit.active_surges)],
            "surges_on": [(surge,) for surge in sorted(unit.active_surges - unit.active_at_start)],
            "fallback": [(ticket_id,) for ticket_id in unit.fallback],
            "counters": counters,
            "timers": timers,
            "outbox": [(x.key, decision_to_json(x), self.instance) for x in decisions],
            "delivered": [(key,) for key in self._delivered],
        }

    def _write(self, changes: dict[str, list[tuple]]) -> None:
        """Write the unit's changes: one batched statement per set of rows (a dialect may do better)."""
        for name, rows in changes.items():
            self._run_many(WRITES[name], rows)

    # ------------------------------------------------------------ tickets

    def get(self, ticket_id: str) -> Optional[TicketState]:
        unit = self._unit
        if unit is not None and ticket_id in unit.tickets:
            return unit.tickets[ticket_id]
        if ticket_id in self._tickets_kept:
            stored = self._tickets_kept[ticket_id]
            self._tickets_kept.move_to_end(ticket_id)
        else:
            text = self._one("SELECT state FROM cx_tickets WHERE id = %s", (ticket_id,))
            stored = None if text is None else read_row(ticket_from_data, text, "a ticket row")
        return self._hold(ticket_id, stored)

    def _hold(self, ticket_id: str, stored: Optional[TicketState]) -> Optional[TicketState]:
        """A ticket as stored, given to the unit as a copy it may change (the stored one is compared at commit)."""
        ticket = None if stored is None else copy_ticket(stored)
        if self._unit is not None:
            self._unit.ticket_rows[ticket_id] = stored
            self._unit.tickets[ticket_id] = ticket
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
        ids = [row[0] for row in self._run("SELECT id FROM cx_tickets ORDER BY id")]
        return [ticket for ticket_id in ids if (ticket := self.get(ticket_id)) is not None]

    @property
    def ticket_count(self) -> int:
        """Tickets held (open, or closed with a follow-up pending)."""
        return int(self._one("SELECT count(*) FROM cx_tickets"))

    # ------------------------------------------------------------ queues, agents, surges, fallback

    def enqueue(self, role: str, ticket_id: str) -> int:
        unit = self._require_unit()
        self._run("INSERT INTO cx_queued (role, ticket_id) VALUES (%s, %s)", (role, ticket_id))
        if role in unit.heads and unit.heads[role] is None:  # it was empty: this one is the head now
            del unit.heads[role]
        return self._count_queue(unit, role, +1)

    def queue_head(self, role: str) -> Optional[str]:
        unit = self._require_unit()
        if role not in unit.heads:
            row = self._run("SELECT position, ticket_id FROM cx_queued WHERE role = %s ORDER BY position LIMIT 1", (role,)).fetchone()
            unit.heads[role] = (row[0], row[1]) if row else None
        head = unit.heads[role]
        return head[1] if head else None

    def pop_queue_head(self, role: str) -> None:
        unit = self._require_unit()
        self.queue_head(role)
        head = unit.heads.pop(role)
        if head is not None:
            self._run("DELETE FROM cx_queued WHERE position = %s", (head[0],))
            self._count_queue(unit, role, -1)

    def unqueue(self, role: str, ticket_id: str) -> None:
        unit = self._require_unit()
        removed = self._run("DELETE FROM cx_queued WHERE role = %s AND ticket_id = %s", (role, ticket_id)).rowcount
        if removed:
            unit.heads.pop(role, None)
            self._count_queue(unit, role, -removed)

    def _count_queue(self, unit: "_Unit", role: str, change: int) -> int:
        unit.queue_lengths[role] = unit.queue_lengths.get(role, 0) + change
        unit.changed_queues.add(role)
        return unit.queue_lengths[role]

    def queued(self, role: str) -> list[str]:
        return [row[0] for row in self._run("SELECT ticket_id FROM cx_queued WHERE role = %s ORDER BY position", (role,)).fetchall()]

    def load(self, agent: str) -> int:
        return self._require_unit().loads.get(agent, 0)

    def loads_of(self, agents: Sequence[str]) -> Iterator[int]:
        return map(self._require_unit().loads.get, agents, itertools.repeat(0))

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

    def add_arrival(self, surge: str, at: datetime) -> None:
        self._require_unit().arrived.append((surge, seconds(at)))

    def arrivals_since(self, surge: str, after: datetime) -> int:
        unit = self._require_unit()
        start = max(seconds(after), unit.window_starts.get(surge, float("-inf")))
        unit.window_starts[surge] = start
        stored = self._one("SELECT count(*) FROM cx_arrivals WHERE surge = %s AND at > %s", (surge, start))
        return int(stored) + sum(1 for name, at in unit.arrived if name == surge and at > start)

    def add_fact(self, key: str, at: datetime, ticket_id: str, until: datetime) -> None:
        self._require_unit().facts.append((key, seconds(at), ticket_id, seconds(until)))

    def facts_since(self, key: str, after: datetime) -> list[tuple[float, str]]:
        start, spent, added = self._fact_window(key, after)
        stored = self._run(f"SELECT at, ticket_id {_FACTS_IN_WINDOW} ORDER BY at, position", (key, start, spent)).fetchall()
        return [(float(at), ticket_id) for at, ticket_id in stored] + added

    def facts_tail(self, key: str, after: datetime, last: int) -> tuple[int, list[tuple[float, str]]]:
        start, spent, added = self._fact_window(key, after)
        # one statement: each row carries the count of the whole window, so one row at least is asked for
        wanted = max(0, last - len(added))
        stored = self._run(f"SELECT at, ticket_id, count(*) OVER () {_FACTS_IN_WINDOW} ORDER BY at DESC, position DESC LIMIT %s",
                           (key, start, spent, max(1, wanted))).fetchall()
        tail = [(float(at), ticket_id) for at, ticket_id, _ in reversed(stored[:wanted])] + added
        return (int(stored[0][2]) if stored else 0) + len(added), tail[max(0, len(tail) - last):]

    def _fact_window(self, key: str, after: datetime) -> tuple[float, float, list[tuple[float, str]]]:
        """The window of ``key``'s facts from ``after`` on (its start never moves back within the unit): its start, the time
        at or before which facts are spent, and the facts of ``key`` this unit added inside it, oldest first."""
        unit = self._require_unit()
        start = max(seconds(after), unit.fact_window_starts.get(key, float("-inf")))
        unit.fact_window_starts[key] = start
        return start, unit.facts_expired_at or float("-inf"), [(at, ticket_id) for name, at, ticket_id, _ in unit.facts
                                                               if name == key and at > start]

    def count_facts(self, key: str, after: datetime, until: datetime) -> int:
        unit = self._require_unit()
        start, end = seconds(after), seconds(until)
        stored = self._one("SELECT count(*) FROM cx_facts WHERE key = %s AND at > %s AND at <= %s", (key, start, end))
        return int(stored) + sum(1 for name, at, _, _ in unit.facts if name == key and start < at <= end)

    def expire_facts(self, now: datetime) -> None:
        unit = self._require_unit()
        unit.facts_expired_at = max(seconds(now), unit.facts_expired_at or float("-inf"))

    def surge_active(self, surge: str) -> bool:
        return surge in self._require_unit().active_surges

    def set_surge_active(self, surge: str, active: bool) -> None:
        unit = self._require_unit()
        (unit.active_surges.add if active else unit.active_surges.discard)(surge)

    def add_fallback(self, ticket_id: str) -> None:
        self._require_unit().fallback.append(ticket_id)

    def fallback_tickets(self) -> list[str]:
        return [row[0] for row in self._run("SELECT ticket_id FROM cx_fallback ORDER BY position")]

    # ------------------------------------------------------------ timers

    @property
    def next_seq(self) -> int:
        if self._unit is not None:
            return self._unit.next_seq
        return int(self._one("SELECT value FROM cx_counters WHERE name = 'next_seq'"))

    def reserve_seq(self) -> int:
        unit = self._require_unit()
        unit.next_seq += 1
        return unit.next_seq - 1

    def schedule(self, due: datetime, kind: str, ticket_id: Optional[str], key: str, data: Any = None, seq: Optional[int] = None) -> None:
        if seq is not None and self._held(seq):
            seq = None  # a number another timer holds (a warning edited by hand may name any as its breach's): the next one
        timer = Timer(due, self.reserve_seq() if seq is None else seq, kind, ticket_id, key, data)
        if not self.fired(timer):  # written at commit; until then the unit keeps it (and may fire it)
            heapq.heappush(self._require_unit().new_timers, (seconds(due), timer.seq, timer))

    def _held(self, seq: int) -> bool:
        """Whether a timer holds ``seq``: one stored, one this unit took and has not fired, or one it scheduled. A timer's
        number is its row's key, and the unit's timers are ordered by it: two of one number could be neither written nor
        told apart."""
        unit = self._require_unit()
        return (any(timer.seq == seq for _, _, timer in unit.new_timers) or any(row[0] == seq for row in unit.due_rows)
                or bool(self._one("SELECT count(*) FROM cx_timers WHERE seq = %s", (seq,))))

    def pop_due(self, now: datetime) -> Optional[Timer]:
        """The earliest due timer, of those stored and those this unit scheduled (stored ones first at the same time)."""
        unit = self._require_unit()
        moment = seconds(now)
        if unit.next_stored is not None and unit.next_stored <= moment:  # every stored timer due by now, in one read
            rows, unit.next_stored = self._take_due(moment)
            unit.due_rows.extend(rows)
        fresh = unit.new_timers[0] if unit.new_timers and unit.new_timers[0][0] <= moment else None
        if unit.due_rows and (fresh is None or (unit.due_rows[0][1], unit.due_rows[0][0]) <= fresh[:2]):
            return self._timer(unit, unit.due_rows.popleft())
        return heapq.heappop(unit.new_timers)[2] if fresh else None

    def _timer(self, unit: "_Unit", row: tuple) -> Timer:
        """A stored timer taken off the schedule, its ticket held by the unit from the same read."""
        seq, ordered_by, due, kind, ticket_id, key, data, ticket_row = row
        if ticket_id is not None and ticket_id not in unit.tickets:
            if ticket_id in self._tickets_kept:
                self.get(ticket_id)
            else:
                self._hold(ticket_id, self._ticket_of_timer(ticket_id, ticket_row))
        return Timer(_due_time(due, ordered_by, key), seq, kind, ticket_id, key, _payload(data))

    def _ticket_of_timer(self, ticket_id: str, row: Optional[str]) -> Optional[TicketState]:
        """The ticket a due timer is for, as stored. A row that cannot be read (edited by hand) is passed over as a ticket
        that is gone, and noted: its timers fire nothing and hold back no other ticket's; the row stays as it is, and each
        event of the ticket is refused."""
        if row is None:
            return None
        try:
            return read_row(ticket_from_data, row, "a ticket row")
        except SnapshotError as error:
            self.faults.append(f"a timer of ticket `{str(ticket_id)[:60]}` skipped: {error}")
            return None

    def next_due(self) -> Optional[datetime]:
        row = self._run("SELECT due_data, due, key FROM cx_timers ORDER BY due, seq LIMIT 1").fetchone()
        return None if row is None else _due_time(*row)

    @property
    def timer_count(self) -> int:
        return int(self._one("SELECT count(*) FROM cx_timers"))

    def fired(self, timer: Timer) -> bool:
        if timer.ticket_id is None:  # fires once by leaving the schedule, as in memory
            return False
        ticket = self.get(timer.ticket_id)
        return ticket is None or timer.seq < ticket.first_seq or timer.key in ticket.fired

    def mark_fired(self, timer: Timer) -> None:
        if timer.ticket_id is not None and (ticket := self.get(timer.ticket_id)) is not None:
            ticket.fired.add(timer.key)

    # ------------------------------------------------------------ delivery: the outbox

    def dispatched(self, decisions: list) -> None:
        """Marked with the next unit's writes or the next :meth:`take_over` (a round trip saved per event).

        A crash before then only delivers them again: at least once, as promised.
        """
        self._delivered.extend(x.key for x in decisions)
        if len(self._delivered) >= 1000:
            self.flush_delivered()

    def flush_delivered(self) -> None:
        keys, self._delivered = self._delivered, []
        self._mark(_DELIVERED, [(key,) for key in keys], "mark decisions delivered")

    def delivery_attempts(self, key: str) -> int:
        return self._one("SELECT attempts FROM cx_outbox WHERE key = %s AND state = 0", (key,)) or 0

    def delivery_failed(self, decision, attempts: int, error: str) -> None:
        self._mark("UPDATE cx_outbox SET attempts = %s, error = %s WHERE key = %s", [(attempts, error, decision.key)], "count a failed delivery")

    def dead_letter(self, decision, attempts: int, error: str) -> None:
        self._mark("UPDATE cx_outbox SET state = 2, attempts = %s, error = %s WHERE key = %s", [(attempts, error, decision.key)],
                   "keep a dead letter")

    def dead_letters(self) -> list[DeadLetter]:
        letters = []
        for payload, attempts, error in self._run("SELECT payload, attempts, error FROM cx_outbox WHERE state = 2 ORDER BY position").fetchall():
            try:
                letters.append(DeadLetter(decision_from_json(payload), attempts, error or ""))
            except ValueError as problem:  # a row damaged on disk: say so, keep listing the others
                self.faults.append(f"a dead letter in {self.where()} cannot be read: {problem}")
        return letters

    def _mark(self, statement: str, rows: list, what: str) -> None:
        if not rows:
            return
        try:
            self._run_many(statement, rows)
        except self.errors as error:  # the decisions stay owed: delivered again after a restart or by another process
            self.faults.append(f"could not {what} in {self.where()}: {first_line(error)}")

    def _undelivered(self, owner_clause: str = "", parameters: tuple = ()) -> list:
        """Decisions not yet delivered (of the owners the clause picks), oldest first; damaged rows are reported."""
        pending = []
        for payload, in self._run(f"SELECT payload FROM cx_outbox WHERE state = 0 {owner_clause} ORDER BY position", parameters).fetchall():
            try:
                pending.append(decision_from_json(payload))
            except ValueError as problem:
                raise StoreError(f"an undelivered decision in {self.where()} cannot be read: {problem}") from None
        return pending

    # ------------------------------------------------------------ start

    def check_org(self, engine) -> None:
        """Refuse another org's store; reload the tickets in flight if the org changed, then record this version."""
        self.engine = engine
        meta: dict[str, str] = dict(self._run("SELECT name, value FROM cx_meta").fetchall())
        org_id, version = engine.org.info.id, fingerprint(engine.org)
        if meta.get("org", org_id) != org_id:
            raise StoreError(f"{self.where()} holds the state of org `{meta['org']}`, not `{org_id}`")
        if meta.get("org_fingerprint") != version:
            if "org_fingerprint" in meta:  # the tickets in flight move to the new rules first, then the version is recorded
                self.org_change = report = engine.reload(engine.org)
                self.faults.append(f"org `{org_id}` changed since {self.where()} was last written: {len(report.kept)} open "
                                   f"tickets follow the new rules, {len(report.moved_to_fallback)} went to the fallback queue")
            self._run_many("INSERT INTO cx_meta VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                           [("org", org_id), ("org_fingerprint", version), ("format", str(FORMAT))])
        self._fingerprint = version

    @property
    def events_applied(self) -> int:
        """How many events the store has taken in, ever (from every process), applied or refused: a feeder resumes after them."""
        return int(self._one("SELECT value FROM cx_counters WHERE name = 'events'"))


class _Unit:
    """What one unit of work has read and changed: rows as read (to write back only changes) and its edits."""

    def __init__(self, entry: Optional[tuple], next_seq: int, loads: dict, cursors: dict, active_surges: set,
                 queue_lengths: dict, next_stored: Optional[float]):
        self.entry = entry
        self.first_seq = self.next_seq = next_seq
        self.next_stored = next_stored
        """When the earliest stored timer is due, in POSIX seconds (None: none is)."""
        self.due_rows: deque[tuple] = deque()
        """Stored timers taken off the schedule by this unit and not fired yet, in the order they fire."""
        self.new_timers: list[tuple[float, int, Timer]] = []
        """Timers scheduled by this unit, a heap (due time, sequence, timer); written at commit."""
        self.loads: dict[str, int] = loads
        self.cursors: dict[str, int] = cursors
        self.active_surges: set[str] = active_surges
        self.changed_loads: set[str] = set()
        self.changed_cursors: set[str] = set()
        self.active_at_start = set(active_surges)
        self.tickets: dict[str, Optional[TicketState]] = {}
        self.ticket_rows: dict[str, Optional[TicketState]] = {}
        """Each ticket as stored when the unit first read it (None: absent), to write back only changes."""
        self.queue_lengths: dict[str, int] = queue_lengths
        self.changed_queues: set[str] = set()
        self.heads: dict[str, Optional[tuple[int, str]]] = {}
        """Per role read this unit: the position and ticket at the head of its queue (None: empty)."""
        self.arrived: list[tuple[str, float]] = []
        """Arrivals of this unit: (surge, POSIX seconds)."""
        self.window_starts: dict[str, float] = {}
        """Per surge: arrivals at or before this left its window."""
        self.facts: list[tuple[str, float, str, float]] = []
        """Facts of patterns counted by this unit: (key, POSIX seconds, ticket id, kept until)."""
        self.fact_window_starts: dict[str, float] = {}
        """Per pattern key: facts at or before this left its window."""
        self.facts_expired_at: Optional[float] = None
        """Facts kept until this or earlier are spent, whatever their key."""
        self.fallback: list[str] = []


def _json(value: Any) -> Any:
    """A JSON aggregate as the driver returns it: already decoded (PostgreSQL) or text (SQLite)."""
    return json.loads(value) if isinstance(value, str) else value


def _due_time(text: str, ordered_by: float, key: str) -> datetime:
    """A stored timer's due time as it was scheduled, in its zone; if that cannot be read (a row edited by hand), the moment
    it is ordered by, in UTC: the timer still fires, or is skipped, in its place."""
    try:
        return read_row(from_data, text, "a timer's due time")
    except SnapshotError:
        try:
            return datetime.fromtimestamp(ordered_by, timezone.utc)
        except (ValueError, OverflowError, OSError, TypeError) as error:
            raise SnapshotError(f"timer {str(key)[:60]} has no readable due time: {error}") from None


def _payload(text: str) -> Any:
    """A stored timer's payload; one that cannot be read back is :class:`.Unreadable`, which its kind skips and notes."""
    try:
        return read_row(from_data, text, "a timer's payload")
    except SnapshotError as error:
        return Unreadable(str(error))


def read_row(parse, text: str, what: str):
    """A row's JSON read back and checked: a damaged row fails its unit (rolled back), never the process."""
    try:
        return parse(json.loads(text))
    except (ValueError, RecursionError, TypeError) as error:
        raise SnapshotError(f"{what} in the store is damaged: {error}") from None


def first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
