"""Engine state behind a small interface, so a durable store can replace the in-memory one.

Everything the engine must not lose lives here: tickets, timers (SLA clocks, escalation
levels, follow-up calls and deadlines), role queues, agents' loads, surge windows, and the
keys of timers already fired (so each fires once).
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any, Callable, ClassVar, ContextManager, Final, Iterable, Iterator, NamedTuple, Optional, Sequence, TypeAlias

from mypy_extensions import mypyc_attr

from ..calendars import seconds
from ..fastcalls import bisect_right, heappop, heappush, partial
from .retries import DeadLetter
from .loads import LoadIndex, Pool

__all__ = ["TicketState", "Timer", "Unreadable", "Store", "MemoryStore", "StoreError"]


@mypyc_attr(native_class=False)  # compiled classes cannot extend RuntimeError
class StoreError(RuntimeError):
    """The store cannot be used (unreadable, locked, corrupt, unreachable, or another org's)."""


_NO_KEYS: Final[frozenset[str]] = frozenset()
"""No keys: one empty set that every ticket without any shares (a ticket's sets that seldom change are frozen, so that
copying one for a unit's undo copies neither; its fired keys change as its timers fire, and are copied)."""


@dataclass
class TicketState:
    """What the engine knows of one open ticket. A compiled class (its fields are read on every step of the engine), so it
    has no ``__dict__``: :func:`copy_ticket` copies it and :func:`~.snapshot.ticket_to_data` writes it out."""

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
    pause_reason: Optional[str] = None
    """What the ticket waits for while paused: which clocks stand still depends on it (an SLA's `pause_when`)."""
    generation: int = 0
    """Bumped whenever SLA timers are rescheduled: older timers are then ignored."""
    escalation: Optional[str] = None
    workflow: Optional[str] = None
    state: Optional[str] = None
    fallback: bool = False
    fired: set[str] = field(default_factory=set)
    """Keys of this ticket's timers that have fired (dropped with the ticket)."""
    followups_pending: frozenset[str] = _NO_KEYS
    first_seq: int = 0
    """The store's timer sequence when this ticket was created: timers numbered below it belong to an
    earlier ticket of the same id (closed and forgotten) and never fire for this one."""
    customer_id: Optional[str] = None
    """Whose ticket it is: patterns across tickets correlate on it."""
    tags: frozenset[str] = _NO_KEYS
    """Set by automations, read by their conditions."""
    next_reply_due: Optional[datetime] = None
    """When the agent must answer the customer's last reply (an SLA's `next_reply`)."""
    next_reply_since: Optional[datetime] = None
    """When the customer's last reply, still unanswered, came."""
    resolution_since: Optional[datetime] = None
    """When the resolution clock last started again (a reopening); None: at arrival."""
    paused_min: float = 0.0
    """Business minutes the SLA clocks stood still, in all (a pause still running not counted yet)."""
    first_response_in_min: Optional[float] = None
    """Business minutes from arrival to the first response, pauses left out."""
    resolution_in_min: Optional[float] = None
    """Business minutes from arrival (or the last reopening) to the resolution, pauses left out."""
    next_reply_in_min: Optional[float] = None
    """Business minutes the agent took to answer the customer's last reply."""

    def __init__(self, id: str, category: str, channel: str, segment: str, priority: str, member: bool, created_at: datetime,
                 role: Optional[str] = None, agent: Optional[str] = None, rule: Optional[str] = None, status: str = "open",
                 sla: Optional[str] = None, first_response_due: Optional[datetime] = None,
                 resolution_due: Optional[datetime] = None, responded: bool = False, paused_since: Optional[datetime] = None,
                 pause_reason: Optional[str] = None, generation: int = 0, escalation: Optional[str] = None,
                 workflow: Optional[str] = None, state: Optional[str] = None, fallback: bool = False,
                 fired: Optional[set[str]] = None, followups_pending: frozenset[str] = _NO_KEYS, first_seq: int = 0,
                 customer_id: Optional[str] = None, tags: frozenset[str] = _NO_KEYS, next_reply_due: Optional[datetime] = None,
                 next_reply_since: Optional[datetime] = None, resolution_since: Optional[datetime] = None,
                 paused_min: float = 0.0, first_response_in_min: Optional[float] = None,
                 resolution_in_min: Optional[float] = None, next_reply_in_min: Optional[float] = None) -> None:
        """Written out, not made by `@dataclass`, which gives a compiled class an interpreted `__init__` (1.9 µs against 0.3,
        and the engine copies a ticket on every event); a test checks that it takes and holds every field."""
        self.id = id
        self.category = category
        self.channel = channel
        self.segment = segment
        self.priority = priority
        self.member = member
        self.created_at = created_at
        self.role = role
        self.agent = agent
        self.rule = rule
        self.status = status
        self.sla = sla
        self.first_response_due = first_response_due
        self.resolution_due = resolution_due
        self.responded = responded
        self.paused_since = paused_since
        self.pause_reason = pause_reason
        self.generation = generation
        self.escalation = escalation
        self.workflow = workflow
        self.state = state
        self.fallback = fallback
        self.fired = set() if fired is None else fired
        self.followups_pending = followups_pending
        self.first_seq = first_seq
        self.customer_id = customer_id
        self.tags = tags
        self.next_reply_due = next_reply_due
        self.next_reply_since = next_reply_since
        self.resolution_since = resolution_since
        self.paused_min = paused_min
        self.first_response_in_min = first_response_in_min
        self.resolution_in_min = resolution_in_min
        self.next_reply_in_min = next_reply_in_min
        # Not fields (neither stored, compared nor copied): the µs of moments the ticket's SLA figures read long after they
        # were made, each beside the very moment it is of (see :func:`.slas._kept_micros`)
        self.created_micros: int = 0
        self.created_kept: Optional[datetime] = None
        self.first_response_due_micros: int = 0
        self.first_response_due_kept: Optional[datetime] = None
        self.resolution_due_micros: int = 0
        self.resolution_due_kept: Optional[datetime] = None

    def class_fields(self) -> tuple[str, str, str, str, bool]:
        """Its class as the org's `match` conditions take it: category, channel, segment, priority, member."""
        return self.category, self.channel, self.segment, self.priority, self.member


class Timer(NamedTuple):
    """A row of the schedule: what is due when, for which ticket. A named tuple, not a frozen dataclass: as immutable, and
    built in a third of the time (a ticket sets several, most of which never fire)."""

    due: datetime
    seq: int
    kind: str
    ticket_id: Optional[str]
    key: str
    """Unique per timer: a timer whose key has fired never fires again."""
    data: Any = None


TimerEntry: TypeAlias = tuple[Any, ...]
"""A timer as the :class:`Schedule` holds it (:func:`timer_entry`): its due time as a POSIX timestamp (float), its sequence,
the entry's own number, the due time, kind, ticket id, key and payload. A plain tuple, not one holding the :class:`Timer`:
the collector stops tracking a tuple of atoms but never a named tuple, and a centre's schedule holds tens of thousands of
timers, most of which never fire, which each of its passes walked. Typed as a tuple of any length: compiled, a tuple of
fixed types is taken apart into its fields each time it is read from a list and built anew (a new tuple, its float and
ints allocated) each time it is returned or stored, 460 instructions each look at the schedule's head."""

_next_entry_number: Final = itertools.count().__next__
"""Numbers each entry apart: two timers may share a due time and sequence (a store edited by hand may name any number as a
breach's), and comparing on past them would compare a ticket's id with none, or payloads that cannot be compared. The
counter's own ``__next__``: compiled, ``next(counter)`` looks ``next`` up among the builtins by name at every call."""


def timer_entry(due: datetime, seq: int, kind: str, ticket_id: Optional[str], key: str, data: Any) -> TimerEntry:
    """The schedule's entry of the timer of these fields (a :class:`Timer` ``t``: ``timer_entry(*t)``), none built."""
    return (seconds(due), seq, _next_entry_number(), due, kind, ticket_id, key, data)


_as_timer: Final = partial(tuple.__new__, Timer)
"""A :class:`Timer` of its fields in a tuple, built without the named tuple's ``__new__`` (a function of Python's own,
interpreted even here, and a timer is built from its entry each time it is looked at)."""


def _seconds_against(head: TimerEntry, moment: datetime) -> float:
    """``seconds(moment)``, to compare with the schedule's first entry ``head``: read off the entry when ``moment`` is its very
    due time, as when a replay runs the engine up to its next timer. That datetime was made when the timer was scheduled and
    has long left :func:`~.calendars.micros`' slots: its zone would be asked for its offset again."""
    return head[0] if head[3] is moment else seconds(moment)


def entry_timer(entry: TimerEntry) -> Timer:
    """The timer of a schedule's entry (:data:`TimerEntry`)."""
    return _as_timer((entry[3], entry[1], entry[4], entry[5], entry[6], entry[7]))


_NO_MINUTE: Final = -(2**62)
""":attr:`Schedule._front_minute` when no bucket is known to be the front one."""


class Schedule:
    """The memory store's timers (:data:`TimerEntry`), taken in due order: a calendar queue, one bucket per minute.

    A binary heap of every timer sifted each one through a dozen levels of tuples spread over memory: a tenth of a month's
    replay at ten times the staff's load, where the schedule holds 25,000 timers. Here a timer goes into its minute's
    bucket, a heap of a handful of timers as a rule; the minutes are a heap of ints. A minute that holds many timers (the
    tickets of one moment) costs what a heap of them costs, however often earlier minutes come and go before it. Timers
    leave in the order a heap of all of them gives, due time then sequence number.
    """

    def __init__(self, entries: Iterable[TimerEntry] = ()) -> None:
        self._buckets: dict[Any, list[TimerEntry]] = {}
        """A heap of timers per minute; one left empty goes when its minute comes to the front. The minutes, ints, are
        typed `Any` here and in :attr:`_minutes`: compiled, an `int` read from one is unboxed, and boxed anew (a
        Python int allocated) each time it goes into the other, three times a timer."""
        self._minutes: list[Any] = []
        """A heap of the minutes that have a bucket."""
        self._front: list[TimerEntry] = []
        """The bucket of the earliest minute, as last found (empty: find it again)."""
        self._front_minute = _NO_MINUTE
        self._size = 0
        for entry in entries:
            self.push(entry)

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[TimerEntry]:
        """Every timer held, in no particular order."""
        for bucket in self._buckets.values():
            yield from bucket

    def push(self, entry: TimerEntry) -> None:
        due: float = entry[0]  # typed: compiled, divided and cut to an int in machine numbers
        minute = int(due // 60.0)
        key: Any = minute  # boxed once
        self._size += 1
        bucket = self._buckets.get(key)
        if bucket is not None:
            heappush(bucket, entry)
            return
        self._buckets[key] = [entry]
        heappush(self._minutes, key)
        if minute < self._front_minute:  # an earlier minute comes to the front
            self._front, self._front_minute = [], _NO_MINUTE

    def head(self) -> Optional[TimerEntry]:
        """The timer due first (None: the schedule is empty)."""
        if self._front:
            return self._front[0]
        minutes = self._minutes
        while minutes:
            first = minutes[0]
            bucket = self._buckets[first]
            if bucket:
                self._front, self._front_minute = bucket, first
                return bucket[0]
            del self._buckets[heappop(minutes)]
        self._front_minute = _NO_MINUTE
        return None

    def pop(self) -> TimerEntry:
        """Take the timer due first off the schedule (IndexError: it is empty)."""
        if self.head() is None:
            raise IndexError("pop from an empty schedule")
        self._size -= 1
        return heappop(self._front)


class Unreadable(NamedTuple):
    """A timer's payload that a durable store could not read back (a row edited by hand). It fits no kind's payload, so
    the timer is skipped and noted, never fired, and holds back no timer after it."""

    error: str

    def __repr__(self) -> str:
        return f"unreadable ({self.error})"


class _NoUnit:
    """The group commit of a store with nothing to make durable: a ``with`` that does nothing, compiled (contextlib's
    ``nullcontext`` is three calls of interpreted Python an event)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        return None  # an error goes on


NO_UNIT: Final = _NoUnit()
"""What :meth:`Store.batch` gives where nothing is made durable (the engine then applies an event without it)."""


@mypyc_attr(allow_interpreted_subclasses=True)  # the SQLite and PostgreSQL stores
class Store(ABC):
    """The contract between the engine and its state; :class:`MemoryStore` is the reference implementation.

    Every change the engine makes happens between :meth:`begin` and :meth:`commit` (or
    :meth:`rollback`, which undoes all of it: an event that fails while applied leaves no
    trace). Tickets returned by :meth:`get` inside a unit may be changed in place; the
    change is kept at commit. Queues are handed out the same way, as
    deques to change in place. Durable stores make the unit durable at :meth:`commit`
    together with its decisions, before any handler runs, and keep the delivery marks.
    """

    # ------------------------------------------------------------ units of work

    @abstractmethod
    def begin(self, entry: Optional[tuple]) -> int:
        """Start a unit of work for ``entry``: ``("event", event)``, ``("refused", None)`` (an event refused whole, which the
        unit only counts), ``("advance", until)``, or None for a reload.

        The event of an entry holds the moment it is applied (its own time, or the clock's now if it had none or one the
        virtual clock had passed). A durable store may write the entry ahead; returns its sequence number. StoreError:
        nothing began.
        """

    @abstractmethod
    def commit(self, seq: int, decisions: list) -> None:
        """Keep every change of the unit, and its decisions (undelivered), before their handlers run."""

    @abstractmethod
    def rollback(self, seq: int) -> None:
        """Undo every change of the unit, as if it never began (StoreError: this store cannot, see ``MemoryStore(undo=False)``)."""

    # ------------------------------------------------------------ tickets

    @abstractmethod
    def get(self, ticket_id: str) -> Optional[TicketState]: ...
    @abstractmethod
    def put(self, ticket: TicketState) -> None: ...
    @abstractmethod
    def drop(self, ticket_id: str) -> None: ...
    @abstractmethod
    def all_tickets(self) -> list[TicketState]:
        """Every ticket held (a reload goes through them all)."""

    # ------------------------------------------------------------ queues, agents, surges, fallback

    @abstractmethod
    def enqueue(self, role: str, ticket_id: str) -> int:
        """Put a ticket at the end of the queue of ``role`` (tickets waiting for one of its agents); its place, from 1."""
    @abstractmethod
    def queue_head(self, role: str) -> Optional[str]:
        """The ticket longest in the queue of ``role``, if any."""
    @abstractmethod
    def pop_queue_head(self, role: str) -> None: ...
    @abstractmethod
    def unqueue(self, role: str, ticket_id: str) -> None:
        """Take a ticket out of the queue of ``role`` wherever it is (if it is there)."""
    @abstractmethod
    def queued(self, role: str) -> list[str]:
        """The queue of ``role``, oldest first."""
    @abstractmethod
    def load(self, agent: str) -> int:
        """Open tickets of an agent."""
    def loads_of(self, agents: Sequence[str]) -> Iterator[int]:
        """Open tickets of each of ``agents``, in their order, as they are asked for (one call for a whole team)."""
        return map(self.load, agents)
    @abstractmethod
    def add_load(self, agent: str, change: int) -> None: ...
    def load_index(self, pools: tuple[Pool, ...]) -> Optional[LoadIndex]:
        """These agents arranged by load, kept up to date as their loads change; None where other processes change loads
        (they are read afresh in each unit of work): the engine then reads the loads of the whole team."""
        return None
    @abstractmethod
    def cursor(self, role: str) -> int:
        """Per round-robin role: the number of the agent who got the last ticket (-1: none yet)."""
    @abstractmethod
    def set_cursor(self, role: str, number: int) -> None: ...
    @abstractmethod
    def add_arrival(self, surge: str, at: datetime) -> None:
        """A ticket that a surge rule counts arrived."""
    @abstractmethod
    def arrivals_since(self, surge: str, after: datetime) -> int:
        """Forget the surge's arrivals at or before ``after`` (they left its window); how many remain."""
    @abstractmethod
    def surge_active(self, surge: str) -> bool: ...
    @abstractmethod
    def set_surge_active(self, surge: str, active: bool) -> None: ...
    @abstractmethod
    def add_fact(self, key: str, at: datetime, ticket_id: str, until: datetime) -> None:
        """A ticket's event that a pattern across tickets counts (``key``: the automation and whose tickets), kept until ``until``."""
    @abstractmethod
    def facts_since(self, key: str, after: datetime) -> list[tuple[float, str]]:
        """Forget the facts of ``key`` at or before ``after`` (they left its window); (POSIX seconds, ticket id) of the rest, oldest first."""
    @abstractmethod
    def facts_tail(self, key: str, after: datetime, last: int) -> tuple[int, list[tuple[float, str]]]:
        """:meth:`facts_since`, told as how many facts are left and the last ``last`` of them, all a count needs, without
        listing the rest: a count `per: all` keeps every ticket of its class in its window."""
    @abstractmethod
    def count_facts(self, key: str, after: datetime, until: datetime) -> int:
        """How many facts of ``key`` fall after ``after`` and at or before ``until`` (forgetting none)."""
    @abstractmethod
    def expire_facts(self, now: datetime) -> None:
        """Forget every fact kept until ``now`` or earlier, whatever its key (a customer never seen again leaves nothing)."""
    @abstractmethod
    def add_fallback(self, ticket_id: str) -> None:
        """A ticket no routing rule took, listed in arrival order."""
    @abstractmethod
    def fallback_tickets(self) -> list[str]: ...

    # ------------------------------------------------------------ timers

    @property
    @abstractmethod
    def next_seq(self) -> int:
        """The sequence number the next timer scheduled gets."""
    @abstractmethod
    def reserve_seq(self) -> int:
        """Take the next sequence number now for a timer scheduled later (see :meth:`schedule`)."""
    @abstractmethod
    def schedule(self, due: datetime, kind: str, ticket_id: Optional[str], key: str, data: Any = None, seq: Optional[int] = None) -> None:
        """A timer at ``due``; ``seq``: a number from :meth:`reserve_seq`, which places it among the timers due at the same
        moment as if it had been scheduled when the number was taken (else it gets the next number)."""
    @abstractmethod
    def pop_due(self, now: datetime) -> Optional[Timer]:
        """The earliest timer due at or before ``now``, removed from the schedule."""
    @abstractmethod
    def next_due(self) -> Optional[datetime]: ...
    @abstractmethod
    def fired(self, timer: Timer) -> bool:
        """Whether ``timer`` is spent: fired already, or a timer of a ticket that is gone or was an earlier one of that id."""
    @abstractmethod
    def mark_fired(self, timer: Timer) -> None: ...

    def drop_spent(self, until: datetime, spent: Callable[[Optional[TicketState], Timer], bool]) -> None:
        """Drop the timers due up to ``until`` off the front of the schedule while each is spent: fired already, or
        ``spent(ticket, timer)`` (its ticket, None if gone), which says firing it now would do nothing; such a timer is
        marked fired, as firing it would have been. They then cost no unit of work. Optional: a store that keeps them
        fires them, deciding nothing (the durable ones do)."""

    # ------------------------------------------------------------ durability and delivery

    faults: list[str]
    """Problems the store met and worked round."""

    def recover(self, engine) -> list:
        """Attach to ``engine``, rebuild what a restart lost; returns decisions whose handlers must run again."""
        return []

    def batch(self) -> ContextManager[None]:
        """Group commit: the units begun inside are made durable together at its end (nothing to do in memory)."""
        return NO_UNIT

    def take_over(self) -> list:
        """Undelivered decisions that another process left when it died, now this one's to deliver (a shared store)."""
        return []

    def dispatched(self, decisions: list) -> None:
        """Note that the handlers of these decisions have returned."""

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

    def close(self) -> None:
        """Let go of files and connections."""


_ABSENT: Final = object()


def copy_ticket(ticket: TicketState) -> TicketState:
    """A copy to change without touching the original (its fired keys copied; its other sets are frozen). Every event
    takes one, so each field is named here: `copy.copy` of a compiled class takes twice as long (a test sees that no field
    is left out)."""
    t = ticket
    return TicketState(t.id, t.category, t.channel, t.segment, t.priority, t.member, t.created_at, t.role, t.agent, t.rule, t.status,
                       t.sla, t.first_response_due, t.resolution_due, t.responded, t.paused_since, t.pause_reason, t.generation,
                       t.escalation, t.workflow, t.state, t.fallback, set(t.fired), t.followups_pending, t.first_seq,
                       t.customer_id, t.tags, t.next_reply_due, t.next_reply_since, t.resolution_since, t.paused_min,
                       t.first_response_in_min, t.resolution_in_min, t.next_reply_in_min)


Steps: TypeAlias = Optional[list[Callable[[], Any]]]
"""Where a change to a queue adds the step that reverses it: the unit of work's undo log, or None when none is kept (no
step is even built: a simulation changes its queues hundreds of thousands of times)."""

_tokens: Final = itertools.count()
"""Tell apart two stays of one ticket in one queue (taken out, queued again)."""


class RoleQueue:
    """A role's queue in memory, oldest first; a ticket leaves from anywhere in it at once, however long it is.

    A ticket taken out from the middle leaves its entry behind, marked spent (its token no longer
    the ticket's), until the entry reaches the head: an overloaded centre holds tens of thousands
    of tickets in a queue, where finding one to remove it would cost the queue's length.
    Each change takes ``steps`` (:data:`Steps`), to which it adds the step that reverses it.
    """

    __slots__ = ("_entries", "_live")

    SLACK: ClassVar[int] = 64
    """Spent entries always let stay: below this, copying the queue would cost more than it saves."""

    def __init__(self, ticket_ids: Iterable[str] = ()) -> None:
        self._entries: deque[tuple[str, int]] = deque()
        """(ticket id, token) oldest first, spent entries among them."""
        self._live: dict[str, int] = {}
        """The token of each ticket in the queue."""
        for ticket_id in ticket_ids:
            self.append(ticket_id, None)

    def __len__(self) -> int:
        return len(self._live)

    def __iter__(self) -> Iterator[str]:
        live = self._live
        return (ticket_id for ticket_id, token in list(self._entries) if live.get(ticket_id) == token)

    def append(self, ticket_id: str, steps: Steps) -> int:
        """Queue ``ticket_id`` at the end; its place, from 1 (the engine takes a ticket out before queueing it again)."""
        token, earlier = next(_tokens), self._live.get(ticket_id)
        self._entries.append((ticket_id, token))
        self._live[ticket_id] = token
        if steps is not None:
            steps.append(partial(self._unappend, ticket_id, earlier))
        return len(self._live)

    def _unappend(self, ticket_id: str, earlier: Optional[int]) -> None:
        self._entries.pop()
        if earlier is None:
            self._live.pop(ticket_id, None)
        else:
            self._live[ticket_id] = earlier

    def head(self, steps: Steps) -> Optional[str]:
        """The ticket longest in the queue (spent entries before it are dropped)."""
        entries, live = self._entries, self._live
        while entries:
            ticket_id, token = entries[0]
            if live.get(ticket_id) == token:
                return ticket_id
            spent = entries.popleft()
            if steps is not None:
                steps.append(partial(entries.appendleft, spent))
        return None

    def pop_head(self, steps: Steps) -> None:
        ticket_id = self.head(steps)
        if ticket_id is not None:
            entry = self._entries.popleft()
            del self._live[ticket_id]
            if steps is not None:
                steps.append(partial(self._unpop, entry))

    def _unpop(self, entry: tuple[str, int]) -> None:
        self._entries.appendleft(entry)
        self._live[entry[0]] = entry[1]

    def remove(self, ticket_id: str, steps: Steps) -> None:
        """Take ``ticket_id`` out wherever it is (if it is there): its entry is spent.

        Once spent entries outnumber the tickets, the live ones are copied to a fresh deque: a head that never moves (a
        role nobody staffs for months) cannot make the queue grow with every ticket that passed through it.
        """
        live = self._live
        token = live.pop(ticket_id, None)
        if token is None:
            return
        if steps is not None:
            steps.append(partial(live.__setitem__, ticket_id, token))
        if len(self._entries) > 2 * len(live) + self.SLACK:
            kept = self._entries
            self._entries = deque(entry for entry in kept if live.get(entry[0]) == entry[1])
            if steps is not None:
                steps.append(partial(setattr, self, "_entries", kept))


@mypyc_attr(allow_interpreted_subclasses=True)  # the legacy file store
class MemoryStore(Store):
    """State in memory: for tests, simulation, and services that accept losing it on restart.

    A unit of work keeps an undo log: the first time it touches a ticket, a load, a cursor,
    the surge switches, the fallback list or the timers, the old value is saved; each change
    to a queue or a surge window is noted with the step that reverses it; :meth:`rollback`
    puts everything back.

    ``undo=False``: no undo log, for a run that a fault ends anyway (a simulation): copying each
    ticket a unit touches, to put back what only a bug would leave half done, costs a tenth of
    a replay. :meth:`rollback` then raises StoreError, and every unit after it too: the store
    may hold part of the unit that failed.
    """

    def __init__(self, undo: bool = True) -> None:
        self.tickets: dict[str, TicketState] = {}
        self.timers = Schedule()
        self.queues: dict[str, RoleQueue] = {}
        self.loads: dict[str, int] = {}
        """Open tickets per agent, changed through :meth:`add_load` alone (it keeps the index of agents by load)."""
        self._load_index: Optional[LoadIndex] = None
        """The agents of the pools last asked for, by load (:meth:`load_index`); None after anything but
        :meth:`add_load` changed the loads (a rollback, a restore): built again when next asked for."""
        self.cursors: dict[str, int] = {}
        self.arrivals_by_surge: dict[str, deque[tuple[float, datetime]]] = {}
        """Per surge, the arrivals its window may still count, oldest first: each one's POSIX seconds and its moment. The
        oldest is compared with each new arrival's window, long after it came: its seconds, worked out afresh, would cost
        a reading of its zone each time. A snapshot keeps the moments (:meth:`state`)."""
        self.active_surges: set[str] = set()
        self.facts: dict[str, list[tuple[float, str, float]]] = {}
        """Per pattern key: (POSIX seconds, ticket id, kept until) of the events it counts, oldest first (lists, not
        deques: most keys hold a fact or two, and an empty deque alone takes 600 bytes)."""
        self.fact_expiry: list[tuple[float, str]] = []
        """A heap of (when a fact is spent, its key): one entry per fact."""
        self.fallback: list[str] = []
        self._next_seq = 0
        self.faults: list[str] = []
        self.failed_attempts: dict[str, int] = {}
        """Failed delivery tries of decisions still undelivered, by key."""
        self.dead: dict[str, DeadLetter] = {}
        self._undo: Optional[dict[tuple[str, Any], Any]] = None
        """In a unit of work: the old value of everything it touched, by (container, key), tickets and timers apart."""
        self._old_tickets: dict[str, Optional[TicketState]] = {}
        """In a unit of work: each ticket it touched, as it was (None: there was none), by id. Every event touches a ticket
        or two: kept apart, and emptied rather than made anew, its record costs one lookup by id."""
        self._timers_pushed: list[TimerEntry] = []
        """In a unit of work: the entries it put on the schedule."""
        self._timers_taken: list[TimerEntry] = []
        """In a unit of work: the entries it took off the schedule."""
        self._seq_before: Optional[int] = None
        """The timer sequence before the unit first touched the timers (None: it has not)."""
        self._looked_at: Optional[TimerEntry] = None
        """The entry at the schedule's head whose timer :meth:`drop_spent` built and found due to fire (:attr:`_looked_at_timer`):
        :meth:`pop_due` takes that timer when it pops this very entry, rather than building it again."""
        self._looked_at_timer: Optional[Timer] = None
        self._limit_moment: Optional[datetime] = None
        """The moment :meth:`pop_due` was last asked about, and :attr:`_limit`, its POSIX seconds: the engine fires a
        moment's timers one at a time, asking about the same moment each time, then once more to find none is left."""
        self._limit = 0.0
        self._keeps_undo = undo
        self._half_done: Optional[str] = None
        """Without an undo log: why the store may hold part of a unit (a rollback was asked for)."""

    # ------------------------------------------------------------ units of work

    def begin(self, entry: Optional[tuple]) -> int:
        if self._half_done:
            raise StoreError(self._half_done)
        self._forget_unit()  # of a unit neither committed nor rolled back
        self._undo = {} if self._keeps_undo else None
        return 0

    def commit(self, seq: int, decisions: list) -> None:
        self._undo = None
        self._forget_unit()

    def _forget_unit(self) -> None:
        """Empty the unit's record of tickets and timers (done with it)."""
        if self._old_tickets:
            self._old_tickets.clear()
        if self._seq_before is not None:
            self._timers_pushed.clear()
            self._timers_taken.clear()
            self._seq_before = None

    def rollback(self, seq: int) -> None:
        if not self._keeps_undo:
            self._half_done = "a unit of work failed in a store kept without an undo log: it may hold part of that unit"
            raise StoreError(self._half_done)
        undo, self._undo, self._load_index = self._undo, None, None
        for ticket_id, ticket in self._old_tickets.items():
            if ticket is None:
                self.tickets.pop(ticket_id, None)
            else:
                self.tickets[ticket_id] = ticket
        if self._seq_before is not None:
            self._undo_timers(self._seq_before)
        self._forget_unit()
        for (name, key), old in (undo or {}).items():
            if name == "steps":
                for step in reversed(old):
                    step()
            elif name == "fallback":
                del self.fallback[old:]
            elif name == "active_surges":
                self.active_surges = old
            else:
                container = getattr(self, name)
                if old is _ABSENT:
                    container.pop(key, None)
                else:
                    container[key] = old

    def _undo_timers(self, seq_before: int) -> None:
        # each entry the unit put on goes, wherever it is now (known by its own number), in one pass over the schedule
        pushed = {entry[2] for entry in self._timers_pushed}
        self.timers = Schedule(entry for entry in itertools.chain(self.timers, self._timers_taken) if entry[2] not in pushed)
        self._next_seq = seq_before

    def _save(self, name: str, key: Any) -> None:
        """Before the unit first changes ``name[key]`` (a load, a cursor): keep its old value."""
        undo = self._undo
        if undo is None or (name, key) in undo:
            return
        undo[(name, key)] = getattr(self, name).get(key, _ABSENT)

    def _save_whole(self, name: str, value: Any) -> None:
        if self._undo is not None and (name, None) not in self._undo:
            self._undo[(name, None)] = value

    # ------------------------------------------------------------ tickets

    def _save_ticket(self, ticket_id: str, ticket: Optional[TicketState]) -> None:
        """Before the unit first changes ticket ``ticket_id`` (now ``ticket``): keep a copy of it."""
        if self._undo is not None and ticket_id not in self._old_tickets:
            self._old_tickets[ticket_id] = None if ticket is None else copy_ticket(ticket)

    def get(self, ticket_id: str) -> Optional[TicketState]:
        ticket = self.tickets.get(ticket_id)
        if ticket is not None:
            self._save_ticket(ticket_id, ticket)
        return ticket

    def put(self, ticket: TicketState) -> None:
        self._save_ticket(ticket.id, self.tickets.get(ticket.id))
        self.tickets[ticket.id] = ticket

    def drop(self, ticket_id: str) -> None:
        self._save_ticket(ticket_id, self.tickets.get(ticket_id))
        self.tickets.pop(ticket_id, None)

    def all_tickets(self) -> list[TicketState]:
        return [ticket for ticket_id in list(self.tickets) if (ticket := self.get(ticket_id)) is not None]

    # ------------------------------------------------------------ queues, agents, surges, fallback

    def enqueue(self, role: str, ticket_id: str) -> int:
        queue = self.queues.get(role)
        if queue is None:
            queue = self.queues[role] = RoleQueue()
        return queue.append(ticket_id, self._steps())

    def queue_head(self, role: str) -> Optional[str]:
        queue = self.queues.get(role)
        return queue.head(self._steps()) if queue else None

    def pop_queue_head(self, role: str) -> None:
        self.queues[role].pop_head(self._steps())

    def unqueue(self, role: str, ticket_id: str) -> None:
        queue = self.queues.get(role)
        if queue:
            queue.remove(ticket_id, self._steps())

    def _steps(self) -> Steps:
        """The unit's steps that put back changes made in place (to a queue, a surge window, the facts: a copy would cost
        their length); None outside a unit or without an undo log, when no step need even be built."""
        undo = self._undo
        return None if undo is None else undo.setdefault(("steps", None), [])

    def queued(self, role: str) -> list[str]:
        return list(self.queues.get(role, ()))

    def load(self, agent: str) -> int:
        return self.loads.get(agent, 0)

    def loads_of(self, agents: Sequence[str]) -> Iterator[int]:
        return map(self.loads.get, agents, itertools.repeat(0))

    def add_load(self, agent: str, change: int) -> None:
        self._save("loads", agent)
        load = self.loads[agent] = self.loads.get(agent, 0) + change
        if self._load_index is not None:
            self._load_index.changed(agent, load)

    def load_index(self, pools: tuple[Pool, ...]) -> Optional[LoadIndex]:
        index = self._load_index
        if index is None or index.pools is not pools:  # another engine's pools, or the loads were put back
            index = self._load_index = LoadIndex(pools, self.loads)
        return index

    def cursor(self, role: str) -> int:
        return self.cursors.get(role, -1)

    def set_cursor(self, role: str, number: int) -> None:
        self._save("cursors", role)
        self.cursors[role] = number

    def add_arrival(self, surge: str, at: datetime) -> None:
        arrivals = self.arrivals_by_surge.setdefault(surge, deque())
        arrivals.append((seconds(at), at))
        if (steps := self._steps()) is not None:
            steps.append(arrivals.pop)

    def arrivals_since(self, surge: str, after: datetime) -> int:
        arrivals, after_seconds, steps = self.arrivals_by_surge.setdefault(surge, deque()), seconds(after), self._steps()
        while arrivals and arrivals[0][0] <= after_seconds:  # as instants: one zone's datetimes compare by wall time
            left = arrivals.popleft()
            if steps is not None:
                steps.append(partial(arrivals.appendleft, left))
        return len(arrivals)

    def add_fact(self, key: str, at: datetime, ticket_id: str, until: datetime) -> None:
        facts, steps = self.facts.get(key), self._steps()
        if facts is None:
            facts = self.facts[key] = []
            if steps is not None:
                steps.append(partial(self.facts.pop, key, None))
        facts.append((seconds(at), ticket_id, seconds(until)))
        if steps is not None:
            steps.append(facts.pop)
        heappush(self.fact_expiry, (facts[-1][2], key))  # left behind by a rollback, it finds nothing to remove

    def facts_since(self, key: str, after: datetime) -> list[tuple[float, str]]:
        return [(at, ticket_id) for at, ticket_id, _ in self._facts_after(key, after)]

    def facts_tail(self, key: str, after: datetime, last: int) -> tuple[int, list[tuple[float, str]]]:
        facts = self._facts_after(key, after)
        return len(facts), [(at, ticket_id) for at, ticket_id, _ in facts[max(0, len(facts) - last):]]

    def _facts_after(self, key: str, after: datetime) -> list[tuple[float, str, float]]:
        """The facts of ``key`` held, those at or before ``after`` forgotten first (see :meth:`facts_since`)."""
        facts = self.facts.get(key)
        if facts is None:
            return []
        gone = bisect_right(facts, seconds(after), key=itemgetter(0))
        if gone:
            if (steps := self._steps()) is not None:
                steps.append(partial(facts.__setitem__, slice(0, 0), facts[:gone]))
            del facts[:gone]
        return facts

    def count_facts(self, key: str, after: datetime, until: datetime) -> int:
        facts = self.facts.get(key)
        if not facts:
            return 0
        when = itemgetter(0)
        return bisect_right(facts, seconds(until), key=when) - bisect_right(facts, seconds(after), key=when)

    def expire_facts(self, now: datetime) -> None:
        """Spent facts leave, and a key with none left goes whole: the keys come off a heap by when their facts are
        spent, so the sweep costs what it removes, not the number of keys."""
        moment, expiry = seconds(now), self.fact_expiry
        if not expiry or expiry[0][0] > moment:
            return  # nearly always: no step to take
        spent_until = itemgetter(2)  # a key's facts are kept for one length of time, so they are spent in order too
        steps = self._steps()
        while expiry and expiry[0][0] <= moment:
            entry = heappop(expiry)
            if steps is not None:
                steps.append(partial(heappush, expiry, entry))
            key = entry[1]
            facts = self.facts.get(key)
            if facts is None:
                continue
            spent = bisect_right(facts, moment, key=spent_until)  # a key whose facts left its window goes too
            if spent == len(facts):
                gone = self.facts.pop(key)
                if steps is not None:
                    steps.append(partial(self.facts.__setitem__, key, gone))
            elif spent:
                if steps is not None:
                    steps.append(partial(facts.__setitem__, slice(0, 0), facts[:spent]))
                del facts[:spent]

    def surge_active(self, surge: str) -> bool:
        return surge in self.active_surges

    def set_surge_active(self, surge: str, active: bool) -> None:
        self._save_whole("active_surges", set(self.active_surges))
        (self.active_surges.add if active else self.active_surges.discard)(surge)

    def add_fallback(self, ticket_id: str) -> None:
        self._save_whole("fallback", len(self.fallback))
        self.fallback.append(ticket_id)

    def fallback_tickets(self) -> list[str]:
        return list(self.fallback)

    # ------------------------------------------------------------ timers

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def _touch_timers(self) -> bool:
        """Whether the unit keeps a record of its changes to the timers (:attr:`_timers_pushed`, :attr:`_timers_taken`):
        the sequence they started from noted the first time."""
        if self._undo is None:
            return False
        if self._seq_before is None:
            self._seq_before = self._next_seq
        return True

    # ------------------------------------------------------------ delivery

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
        if self.failed_attempts:  # nearly always empty: then no decision's key needs making
            for decision in decisions:
                self.failed_attempts.pop(decision.key, None)

    def reserve_seq(self) -> int:
        self._touch_timers()  # a rollback gives the number back
        self._next_seq += 1
        return self._next_seq - 1

    def schedule(self, due: datetime, kind: str, ticket_id: Optional[str], key: str, data: Any = None, seq: Optional[int] = None) -> None:
        if seq is None:
            seq = self.reserve_seq()
        kept = self._touch_timers()
        if not self._spent(ticket_id, seq, key):
            entry = timer_entry(due, seq, kind, ticket_id, key, data)
            self.timers.push(entry)
            if kept:
                self._timers_pushed.append(entry)

    def state(self) -> dict:
        """Everything a snapshot must hold."""
        return {"tickets": self.tickets, "timers": list(self.timers), "fired_keys": set(),
                "queues": {role: list(queue) for role, queue in self.queues.items()},
                "loads": self.loads, "cursors": self.cursors,
                "arrivals": {surge: deque(at for _, at in arrivals) for surge, arrivals in self.arrivals_by_surge.items()},
                "active_surges": self.active_surges, "fallback": self.fallback, "next_seq": self._next_seq}

    def restore(self, state: dict) -> None:
        """Take back a state of :meth:`state`, or one read by :func:`~.snapshot.load_state`, which checks every field and
        builds each timer's entry afresh (its seconds those of its due time), or an empty one (:meth:`close`'s): a state
        built otherwise is not checked here."""
        self.tickets, self.timers, self._load_index = state["tickets"], Schedule(state["timers"]), None  # fired_keys: see fired()
        self.queues = {role: RoleQueue(queue) for role, queue in state["queues"].items()}
        self.loads, self.cursors = state["loads"], state["cursors"]
        self.arrivals_by_surge = {surge: deque((seconds(at), at) for at in times) for surge, times in state["arrivals"].items()}
        self.active_surges = state["active_surges"]
        self.fallback, self._next_seq = state["fallback"], state["next_seq"]
        self._looked_at = self._looked_at_timer = self._limit_moment = None  # nothing of the schedule before is held

    def pop_due(self, now: datetime) -> Optional[Timer]:
        head = self.timers.head()
        if head is None:
            return None
        if now is not self._limit_moment:
            self._limit_moment, self._limit = now, _seconds_against(head, now)
        if head[0] > self._limit:
            return None
        entry = self.timers.pop()
        if self._touch_timers():
            self._timers_taken.append(entry)
        timer = self._looked_at_timer if entry is self._looked_at and self._looked_at_timer is not None else entry_timer(entry)
        self._looked_at = self._looked_at_timer = None
        return timer

    def next_due(self) -> Optional[datetime]:
        head = self.timers.head()
        return None if head is None else head[3]

    def drop_spent(self, until: datetime, spent: Callable[[Optional[TicketState], Timer], bool]) -> None:
        timers, tickets = self.timers, self.tickets
        if (first := timers.head()) is None:
            return
        limit = _seconds_against(first, until)
        while (head := timers.head()) is not None and head[0] <= limit:
            fired = self._spent(head[5], head[1], head[6])  # fired(), no timer built
            timer = None if fired else entry_timer(head)
            if timer is not None and not spent(tickets.get(timer.ticket_id) if timer.ticket_id else None, timer):
                self._looked_at, self._looked_at_timer = head, timer  # to fire: popped next (a timer is its entry's fields)
                return
            entry = timers.pop()
            if self._touch_timers():
                self._timers_taken.append(entry)
            if timer is not None:
                self.mark_fired(timer)  # its key scheduled again (an event delivered twice) stays spent

    def fired(self, timer: Timer) -> bool:
        """Whether a ticket's ``timer`` is spent: fired already, or its ticket is gone or was an earlier one of that id.

        A timer of no ticket (a surge window, a queue drain) fires once by leaving the schedule: no key is kept for it.
        """
        return self._spent(timer.ticket_id, timer.seq, timer.key)

    def _spent(self, ticket_id: Optional[str], seq: int, key: str) -> bool:
        """:meth:`fired` of the timer of these fields, none built: most timers scheduled are asked before they are kept."""
        if ticket_id is None:
            return False
        ticket = self.tickets.get(ticket_id)
        return ticket is None or seq < ticket.first_seq or key in ticket.fired

    def close(self) -> None:
        """Let go of every ticket, timer, queue and fact at once. An engine's parts refer to each other, so without this what
        the store holds waits for the collector's next pass, which walks all of it (a simulation pauses the collector)."""
        self.restore({"tickets": {}, "timers": [], "queues": {}, "loads": {}, "cursors": {}, "arrivals": {}, "active_surges": set(),
                      "fallback": [], "next_seq": self._next_seq})
        self.facts, self.fact_expiry = {}, []

    def mark_fired(self, timer: Timer) -> None:
        """Remember a fired timer of a ticket with the ticket (so a replayed trigger schedules it no more; forgotten together)."""
        if timer.ticket_id is not None and (ticket := self.get(timer.ticket_id)) is not None:
            ticket.fired.add(timer.key)
