"""Engine state behind a small interface, so a durable store can replace the in-memory one.

Everything the engine must not lose lives here: tickets, timers (SLA clocks, escalation
levels, follow-up calls and deadlines), role queues, agents' loads, surge windows, and the
keys of timers already fired (so each fires once).
"""

from __future__ import annotations

import heapq
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

from .delivery import DeadLetter

__all__ = ["TicketState", "Timer", "Store", "MemoryStore"]


@dataclass
class TicketState:
    """What the engine knows of one open ticket."""

    id: str
    category: str
    channel: str
    segment: str
    priority: str
    member: bool
    created_at: datetime
    role: Optional[str] = None
    agent: Optional[str] = None
    rule: Optional[str] = None
    status: str = "open"  # open | queued | waiting | resolved | closed
    sla: Optional[str] = None
    first_response_due: Optional[datetime] = None
    resolution_due: Optional[datetime] = None
    responded: bool = False
    paused_since: Optional[datetime] = None
    generation: int = 0
    """Bumped whenever SLA timers are rescheduled: older timers are then ignored."""
    escalation: Optional[str] = None
    workflow: Optional[str] = None
    state: Optional[str] = None
    fallback: bool = False
    fired: set[str] = field(default_factory=set)
    """Keys of this ticket's timers that have fired (dropped with the ticket)."""
    followups_pending: set[str] = field(default_factory=set)
    first_seq: int = 0
    """The store's timer sequence when this ticket was created: timers numbered below it belong to an
    earlier ticket of the same id (closed and forgotten) and never fire for this one."""

    def class_fields(self) -> tuple[str, str, str, str, bool]:
        """Its class as the org's `match` conditions take it: category, channel, segment, priority, member."""
        return self.category, self.channel, self.segment, self.priority, self.member


@dataclass(frozen=True)
class Timer:
    due: datetime
    seq: int
    kind: str
    ticket_id: Optional[str]
    key: str
    """Unique per timer: a timer whose key has fired never fires again."""
    data: Any = None


class Store(ABC):
    """The interface the engine uses; :class:`MemoryStore` is the reference implementation.

    The engine reads and changes the state containers declared below (tickets, queues,
    loads, round-robin cursors, surge arrivals, active surges, the fallback list) in place,
    and moves timers through the methods. Durable stores also implement :meth:`journal`,
    :meth:`record`, :meth:`dispatched`, :meth:`recover` and the delivery marks
    (:meth:`delivery_attempts`, :meth:`delivery_failed`, :meth:`dead_letter`, :meth:`dead_letters`);
    the in-memory store keeps nothing across processes, so there those do little or nothing.
    """

    tickets: dict[str, TicketState]
    queues: dict[str, deque[str]]
    """Tickets waiting for an agent of a role, oldest first."""
    loads: dict[str, int]
    """Open tickets per agent id."""
    cursors: dict[str, int]
    """Per round-robin role: the number of the agent who got the last ticket."""
    arrivals: dict[str, deque[datetime]]
    """Per surge rule: arrival times inside its window."""
    active_surges: set[str]
    fallback: list[str]
    """Tickets no routing rule took, in arrival order."""
    next_seq: int
    """The sequence number the next timer scheduled gets."""
    faults: list[str]

    def journal(self, entry: tuple) -> int:
        """Make an event (or a run of due timers) durable before it is applied; raise StoreError if impossible."""
        return 0

    def record(self, seq: int, decisions: list) -> None:
        """Keep the decisions of an applied entry, before their handlers run."""

    def dispatched(self, decisions: list) -> None:
        """Note that the handlers of these decisions have returned."""

    def recover(self, engine) -> list:
        """Rebuild the engine's state after a restart; returns decisions whose handlers must run again."""
        return []

    def delivery_attempts(self, key: str) -> int:
        """Failed tries so far of the decision with this key (0: none, or delivered)."""
        return 0

    def delivery_failed(self, decision, attempts: int, error: str) -> None:
        """A handler of ``decision`` raised: it stays undelivered, tried again later."""

    def dead_letter(self, decision, attempts: int, error: str) -> None:
        """Give up on ``decision`` after ``attempts`` failed tries, keeping it for an operator."""

    def dead_letters(self) -> list[DeadLetter]:
        """The decisions given up on, oldest first."""
        return []

    @abstractmethod
    def get(self, ticket_id: str) -> Optional[TicketState]: ...
    @abstractmethod
    def put(self, ticket: TicketState) -> None: ...
    @abstractmethod
    def drop(self, ticket_id: str) -> None: ...
    @abstractmethod
    def schedule(self, due: datetime, kind: str, ticket_id: Optional[str], key: str, data: Any = None) -> None: ...
    @abstractmethod
    def pop_due(self, now: datetime) -> Optional[Timer]:
        """The earliest timer due at or before ``now``, removed from the schedule."""
    @abstractmethod
    def next_due(self) -> Optional[datetime]: ...
    @abstractmethod
    def fired(self, timer: Timer) -> bool: ...
    @abstractmethod
    def mark_fired(self, timer: Timer) -> None: ...


class MemoryStore(Store):
    """State in memory: for tests, simulation, and services that accept losing it on restart."""

    def __init__(self) -> None:
        self.tickets: dict[str, TicketState] = {}
        self.timers: list[tuple[float, int, Timer]] = []
        """A heap of (due as a POSIX timestamp, sequence, timer): floats compare far faster than aware datetimes."""
        self.fired_keys: set[str] = set()
        """Fired keys of timers that belong to no ticket (surge windows)."""
        self.queues: dict[str, deque[str]] = {}
        self.loads: dict[str, int] = {}
        self.cursors: dict[str, int] = {}
        self.arrivals: dict[str, deque[datetime]] = {}
        self.active_surges: set[str] = set()
        self.fallback: list[str] = []
        self.next_seq = 0
        self.faults: list[str] = []
        self.failed_attempts: dict[str, int] = {}
        """Failed delivery tries of decisions still undelivered, by key."""
        self.dead: dict[str, DeadLetter] = {}

    def delivery_attempts(self, key: str) -> int:
        return self.failed_attempts.get(key, 0)

    def delivery_failed(self, decision, attempts: int, error: str) -> None:
        self.failed_attempts[decision.key] = attempts

    def dead_letter(self, decision, attempts: int, error: str) -> None:
        self.failed_attempts.pop(decision.key, None)
        self.dead[decision.key] = DeadLetter(decision, attempts, error)

    def dead_letters(self) -> list[DeadLetter]:
        return list(self.dead.values())

    def dispatched(self, decisions: list) -> None:
        for decision in decisions:
            self.failed_attempts.pop(decision.key, None)

    def get(self, ticket_id: str) -> Optional[TicketState]:
        return self.tickets.get(ticket_id)

    def put(self, ticket: TicketState) -> None:
        self.tickets[ticket.id] = ticket

    def drop(self, ticket_id: str) -> None:
        self.tickets.pop(ticket_id, None)

    def schedule(self, due: datetime, kind: str, ticket_id: Optional[str], key: str, data: Any = None) -> None:
        timer = Timer(due, self.next_seq, kind, ticket_id, key, data)
        self.next_seq += 1
        if not self.fired(timer):
            heapq.heappush(self.timers, (due.timestamp(), timer.seq, timer))

    STATE = ("tickets", "timers", "fired_keys", "queues", "loads", "cursors", "arrivals", "active_surges", "fallback", "next_seq")

    def state(self) -> dict:
        """Everything a snapshot must hold."""
        return {name: getattr(self, name) for name in self.STATE}

    def restore(self, state: dict) -> None:
        for name in self.STATE:
            setattr(self, name, state[name])

    def pop_due(self, now: datetime) -> Optional[Timer]:
        if self.timers and self.timers[0][0] <= now.timestamp():
            return heapq.heappop(self.timers)[2]
        return None

    def next_due(self) -> Optional[datetime]:
        return self.timers[0][2].due if self.timers else None

    def fired(self, timer: Timer) -> bool:
        """Whether ``timer`` is spent: fired already, or a timer of a ticket that is gone or was an earlier one of that id."""
        if timer.ticket_id is None:
            return timer.key in self.fired_keys
        ticket = self.tickets.get(timer.ticket_id)
        return ticket is None or timer.seq < ticket.first_seq or timer.key in ticket.fired

    def mark_fired(self, timer: Timer) -> None:
        """Remember a fired timer: with its ticket (forgotten together), or in the store for timers of no ticket."""
        if timer.ticket_id is None:
            self.fired_keys.add(timer.key)
        elif (ticket := self.tickets.get(timer.ticket_id)) is not None:
            ticket.fired.add(timer.key)
