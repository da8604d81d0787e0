"""The routing engine services embed: ticket events in, decisions out, time on an injected clock.

Routing is decided by the org's compiled durable-rules ruleset (:mod:`.durable`); SLA
clocks run in business time on the org's calendars; breaches walk the escalation path;
follow-ups are scheduled at the first moment the caller is on shift and the customer is
not resting; surges switch teams on and off; workflows refuse skipped steps. All state is
in the :class:`~.store.Store`; one lock serialises events, so decisions for a ticket are
applied in order from any number of threads.

The engine holds the lock and follows each event through a ticket's life; the work is done
by parts over the store, each given what it needs: :mod:`.assignment`, :mod:`.slas`,
:mod:`.followups`, :mod:`.surges`, :mod:`.workflows`, and :mod:`.timers`, where every part
registers the timer kinds it fires.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, replace
from datetime import datetime
from operator import attrgetter
from typing import Final, Iterable, Optional

from mypy_extensions import mypyc_attr

from ..calendars import HORIZON, UTC, BusinessCalendar, micros, shift
from ..fastcalls import guarded
from ..model import Automation, Org
from ..routing import class_values, unknown_value
from . import decisions as d
from . import events as e
from .assignment import Agent, Assignment, teams
from .automations import Automations
from .clock import Clock, RealClock, VirtualClock
from .delivery import Delivery, Handler
from .retries import DeadLetter, DeliveryPolicy, Undelivered
from .durable import DurableRouter
from .eventcheck import EventError, check_event, plainly_sound, time_problem
from .followups import FollowUps
from .postgres import PostgresStore, is_database_url
from .sqlite import SqliteStore
from .slas import Slas
from .store import NO_UNIT, MemoryStore, Store, StoreError, TicketState
from .surges import Surges
from .timers import TimerKinds
from .workflows import Workflows

__all__ = ["Engine", "Agent", "ReloadReport"]

_EVENT_NAMES: Final = {e.TicketCreated: "created", e.FirstResponse: "first_response", e.AgentReplied: "agent_replied", e.HandOff: "handed_over", e.Reassigned: "reassigned",
                e.Waiting: "waiting", e.CustomerReply: "customer_reply", e.Resolved: "resolved", e.Reopened: "reopened", e.Closed: "closed"}
"""The ticket events as automations name them (`updated` is an automation's own change)."""
_HANDLERS: Final = {event: attrgetter(name) for event, name in {
    e.FirstResponse: "_first_response", e.AgentReplied: "_first_response", e.HandOff: "_hand_off", e.Reassigned: "_reassigned",
    e.Waiting: "_waiting", e.CustomerReply: "_reply", e.Resolved: "_resolved", e.Reopened: "_reopened", e.Closed: "_closed",
    e.FollowUpDone: "followups.done", e.WorkflowStep: "workflows.step"}.items()}
"""What applies each event of an existing ticket, got from the engine per event (so a method replaced on it is the one called)."""

_LATEST_UNTIL: Final = e.LAST_MOMENT + HORIZON
"""The latest moment an advance may reach: timers fall due up to :data:`~.calendars.HORIZON` after the last event."""

log: Final = logging.getLogger("cxrules.engine")


_NEW: Final = object.__new__
"""Bound once: compiled, ``object.__new__`` is looked up by name on each call."""
_MEMORY_BEGIN: Final = MemoryStore.begin
"""The memory store's own start of a unit of work, which reads nothing of its entry."""
_TICKET_CREATED: Final = e.TicketCreated
"""An interpreted module's class, read once (compiled, ``e.TicketCreated`` is looked up by name on each event)."""


def _stamped(event: e.Event, at: datetime) -> e.Event:
    """The event with its time filled in (a cheap copy: `dataclasses.replace` is slow on a hot path); one whose own time is
    the instant ``at`` keeps it, in its own zone. (Told by instants: ``==`` of two zones asks each for its offset three times.)"""
    given = event.at
    if given is not None and micros(given) == micros(at):
        return event
    stamped = _NEW(type(event))
    fields = stamped.__dict__  # written as the event's own `__init__` writes it (`object.__setattr__` is a call by name)
    fields.update(event.__dict__)
    fields["at"] = at
    return stamped


@dataclass(frozen=True)
class ReloadReport:
    """What a reload did to tickets in flight."""

    org: str
    kept: tuple[str, ...]
    """Open tickets whose class and role exist in the new org: they follow its rules from now on."""
    moved_to_fallback: tuple[str, ...]
    """Open tickets whose category, channel, segment, priority or role is gone: sent to the fallback queue."""


@mypyc_attr(allow_interpreted_subclasses=True)  # a service may extend its engine, as before it was compiled
class Engine:
    """Assigns tickets, escalates on SLA breach, schedules follow-ups, switches surge teams."""

    def __init__(self, org: Org, clock: Optional[Clock] = None, store: "Store | str | os.PathLike | None" = None,
                 delivery: DeliveryPolicy = DeliveryPolicy()):
        """``store``: a :class:`Store`, a file path for the durable :class:`~.sqlite.SqliteStore`, or a `postgresql://` URL
        for :class:`~.postgres.PostgresStore` (several processes on one database); default in memory.

        ``delivery``: how failing handlers are retried before their decision becomes a dead letter.
        """
        self.clock = clock or RealClock()
        if isinstance(store, str) and is_database_url(store):
            store = PostgresStore(store)
        elif isinstance(store, (str, os.PathLike)):
            store = SqliteStore(store)
        self.store = store or MemoryStore()
        self._entries_read = type(self.store).begin is not _MEMORY_BEGIN
        """Whether the store's `begin` may read its entry (a store's own may, as :meth:`.Store.begin` allows): then it gets
        the event at the moment it is applied, a copy (:func:`_stamped`) if the event came without a time or with one the
        virtual clock had passed. The memory store's own reads nothing of it. Decided once, from the store's class."""
        self._faults: list[str] = []
        self._configure(org)
        self._delivery = Delivery(delivery, self.store, self.clock.now)
        self._lock = guarded(threading.RLock())
        self._pending_dispatch = self.store.recover(self)
        """Decisions persisted before a crash whose handlers may not have run; see :meth:`start`."""

    def _configure(self, org: Org) -> None:
        """Everything derived from the org, the parts included; swapped whole on reload."""
        self.org = org
        self.router = DurableRouter(org)
        self.calendars = {c.id: BusinessCalendar(c) for c in org.calendars}
        self.agents: dict[str, list[Agent]] = teams(org)
        self.handoffs = {(h.from_role, h.to_role): h for h in org.handoffs}
        self.known_values = class_values(org)
        self.timer_kinds = TimerKinds(self.store, self._faults)
        self._spent = self.timer_kinds.spent
        """Bound once: compiled, reading a method off an object builds a bound method each time (at each moment with timers)."""
        self.assignment = Assignment(org, self.store, self.calendars, self.agents, self.router, self.timer_kinds, self._faults)
        self.slas = Slas(org, self.calendars, self.timer_kinds)
        self.followups = FollowUps(org, self.store, self.calendars, self.agents, self.timer_kinds, self._faults,
                                   reopen=self._reopen, escalate=self.slas.escalate)
        self.surges = Surges(org, self.store, self.timer_kinds)
        self.workflows = Workflows(org)
        self.automations = Automations(org, self.store, self.calendars, self.timer_kinds, self._faults, self._act)

    # ------------------------------------------------------------------ public API

    def on(self, kind: Optional[type[d.Decision]], handler: Handler) -> None:
        """Call ``handler`` for every decision of ``kind`` (``None``: every decision).

        A handler that raises is retried later (see :attr:`undelivered` and :attr:`dead_letters`).
        """
        with self._lock:
            self._delivery.on(kind, handler)

    def submit(self, event: e.Event) -> list[d.Decision]:
        """Apply one ticket event; returns the decisions taken, timers that fell due first included.

        The decisions are made durable by the store before any handler runs. An event that
        :func:`~.events.check_event` refuses (a field of the wrong type, out of range, too
        long, not clean text) is refused here and never reaches the store, which only counts it (see ``events_applied``).
        """
        with self._lock:  # a batch of one, without the lists of a batch (a replay submits its events one by one)
            unit = self.store.batch()
            if unit is NO_UNIT:  # nothing to make durable: no `with`, which calls the unit's methods by name
                result = self._apply_checked(event)
            else:
                with unit:
                    result = self._apply_checked(event)
            self._deliver_batch((result,))
            return result[0]

    def submit_all(self, events: Iterable[e.Event]) -> list[list[d.Decision]]:
        """Apply events in order, made durable together (group commit), then run the handlers: one list of decisions each.

        A durable store writes the whole batch in one transaction, which is far cheaper than one
        per event; each event is still applied, refused or rolled back on its own. StoreError:
        none of the batch was kept (the engine's clock may have moved), submit it again.
        """
        with self._lock:
            with self.store.batch():
                results = [self._apply_checked(event) for event in events]
            if results:
                self._deliver_batch(results)
            return [decisions for decisions, _ in results]

    def _deliver_batch(self, results: Iterable[tuple[list[d.Decision], bool]]) -> None:
        """After a batch is made durable: run the handlers of the decisions of each event kept, then the retries due."""
        for decisions, kept in results:
            if kept:
                self._dispatch(decisions)
        self._delivery.retry()

    def _apply_checked(self, event: e.Event) -> tuple[list[d.Decision], bool]:
        """Check one event and apply it as a unit of the store: kept whole (True) or refused, and if applying failed, undone whole."""
        try:
            check_event(event)
            given = event.at
            if given is None:
                given = self.clock.now()  # a virtual or real clock's is a UTC moment, mostly in the years: told so without the whole check
                if not plainly_sound(given) and (problem := time_problem("at", given)):
                    raise EventError(f"the clock's now cannot be the event's time: {problem}", event.ticket_id, None, type(event).__name__)
        except EventError as invalid:
            self._count_refused()
            return [d.Refused(invalid.ticket_id, invalid.at or self.clock.now(), invalid.kind, str(invalid))], False
        at = self._moment(given)
        if self._entries_read:
            event = _stamped(event, at)
        seq = self.store.begin(("event", event))  # StoreError here: nothing was applied, submit again later
        try:
            decisions = self._replay_at(event, at)
        except Exception as error:  # a bug: a checked event must apply; all it changed is undone
            self.store.rollback(seq)
            at = self._told(at)
            log.exception("applying %s of ticket %s failed", type(event).__name__, event.ticket_id)
            reason = f"applying it failed: {type(error).__name__}: {error}"
            self._faults.append(f"{type(event).__name__} of ticket `{event.ticket_id}` at {at.isoformat()}: {reason} "
                                "(rolled back: the engine is as it was before the event)")
            self._count_refused()  # last: a store that cannot count it raises StoreError, the fault already noted and logged
            return [d.Refused(event.ticket_id, at, type(event).__name__, reason)], False
        self.store.commit(seq, decisions)  # StoreError here: nothing of the event was kept
        return decisions, True

    def _count_refused(self) -> None:
        """A refused event is counted by the store all the same (a unit that changes nothing else): a feeder resuming after
        the events a durable store counts would otherwise feed again, and apply twice, one event for each refused."""
        self.store.commit(self.store.begin(("refused", None)), [])

    def advance(self, until: Optional[datetime] = None) -> list[d.Decision]:
        """Fire every timer due up to ``until`` (default: the clock's now), in order, at their own due times.

        Also tries again the handlers whose retry is due.
        """
        with self._lock:
            moment = self._moment(None if until is None else self._checked_until(until))
            self._dispatch(self.store.take_over(), fresh=False)
            self._delivery.retry(moment)
            self.store.drop_spent(moment, self._spent)
            due = self.store.next_due()
            if due is None or due > moment:
                return []
            return self._fire_due(moment) or []

    def advance_to_decision(self, until: datetime) -> list[d.Decision]:
        """Fire the timers due up to ``until`` one moment at a time, and stop after the first moment that decided something.

        For a caller that must react to each decision at its own moment before later timers fire (the simulation): the
        clock stops at that moment. Timers that decide nothing (most SLA timers: the ticket was answered in time) then
        cost no call each, and those the store can tell are spent cost no unit of work either. Returns that moment's
        decisions; none: every timer up to ``until`` has fired or was spent, and the clock is at the last of them.
        """
        with self._lock:
            until = self._checked_until(until)
            self._dispatch(self.store.take_over(), fresh=False)
            while (due := self.store.next_due()) is not None and due <= until:
                # compared below with other due times, by instant; the engine's own are in UTC already (astimezone would parse
                # its arguments to hand the very moment back)
                moment = self._moment(due if due.tzinfo is UTC else due.astimezone(UTC))
                self._delivery.retry(moment)  # each moment as before: a handler's retry due by then runs first
                self.store.drop_spent(moment, self._spent)
                if (left := self.store.next_due()) is None or left > moment:
                    continue  # every timer of this moment was spent: no unit of work
                decisions = self._fire_due(moment)
                if decisions is None or decisions:  # a timer that failed is tried again by the next call
                    return decisions or []
            return []

    def _checked_until(self, until: Optional[datetime]) -> datetime:
        """``until`` of an advance in UTC, refused before anything is stored or the clock moves if it is no moment to advance
        to (None included). In UTC because it is compared with due times, and Python compares two datetimes of one zone by
        wall time, whatever their fold."""
        if until is not None and plainly_sound(until):
            return until
        if problem := time_problem("until", until, latest=_LATEST_UNTIL):
            raise EventError(problem)  # a caller's mistake
        assert until is not None  # time_problem refuses None
        return until.astimezone(UTC)

    def _fire_due(self, moment: datetime) -> Optional[list[d.Decision]]:
        """Fire the timers due up to ``moment`` (where the caller saw one due) as one unit of the store, then hand their
        decisions to the handlers (None: firing failed and was undone)."""
        seq = self.store.begin(("advance", moment))
        try:
            decisions = self._run_timers(moment, seen_due=True)
        except Exception as error:  # a bug in firing a timer: undone, noted, tried again on the next advance
            self.store.rollback(seq)
            log.exception("firing timers up to %s failed", moment.isoformat())
            self._faults.append(f"firing timers up to {moment.isoformat()} failed: {type(error).__name__}: {error} (rolled back)")
            return None
        self.store.commit(seq, decisions)
        self._dispatch(decisions)
        return decisions

    def start(self) -> list[d.Decision]:
        """After a restart: run the handlers of decisions that may have missed them, then the timers due meanwhile.

        Decisions keep their idempotency ``key``, so a handler that ran before the crash can tell.
        """
        with self._lock:
            pending, self._pending_dispatch = self._pending_dispatch, []
            self._dispatch(pending, fresh=False)
            return pending + self.advance()

    def redeliver(self) -> None:
        """Try every undelivered decision again now (say, once the broker is back), whatever its backoff."""
        with self._lock:
            self._delivery.retry(everything=True)

    @property
    def undelivered(self) -> list[Undelivered]:
        """Decisions some handler raised on, with their tries so far and when they are tried again."""
        with self._lock:
            return self._delivery.undelivered

    @property
    def dead_letters(self) -> list[DeadLetter]:
        """Decisions given up on after ``DeliveryPolicy.attempts`` failed tries (kept by a durable store across restarts)."""
        with self._lock:
            return self.store.dead_letters()

    def replay(self, event: e.Event) -> list[d.Decision]:
        """Apply an event at its own time without persisting or dispatching (used by recovery; :meth:`submit` applies its
        events through :meth:`_replay_at`, not this)."""
        at = event.at
        if at is None:
            raise ValueError("replay needs an event with its time filled in")
        return self._replay_at(event, at)

    def _replay_at(self, event: e.Event, at: datetime) -> list[d.Decision]:
        """:meth:`replay` of ``event`` at ``at``, the moment it happens, whatever time the event itself holds (none, or one
        the clock had passed)."""
        decisions = self._run_timers(at)
        decisions.extend(self._apply(event, at))
        return decisions

    @property
    def faults(self) -> list[str]:
        """Faults the engine met and survived: failing handlers, store problems worked round, routing errors."""
        return self._delivery.faults + list(getattr(self.store, "faults", [])) + self._faults

    def ticket(self, ticket_id: str) -> Optional[TicketState]:
        return self.store.get(ticket_id)

    @property
    def fallback_tickets(self) -> list[str]:
        """Tickets no routing rule took; they went to the fallback queue."""
        return self.store.fallback_tickets()

    def queue(self, role: str) -> list[str]:
        return self.store.queued(role)

    def close(self) -> None:
        self.router.close()
        self.automations.close()

    def reload_file(self, path) -> "ReloadReport | list":
        """Reload from an org file; an invalid file is refused (its diagnostics returned) and the old org keeps running."""
        from ..validation import validate_path

        result = validate_path(path)
        if result.org is None:
            return [x for x in result.diagnostics]
        return self.reload(result.org)

    def reload(self, org: Org) -> "ReloadReport":
        """Swap to a new version of the org while events flow; tickets in flight keep their state.

        Open tickets move to the new rules where their class and role still exist; the others
        go to the new org's fallback queue and are reported. The old compiled ruleset is
        released. A durable store keeps the change in the same transaction as any other.
        """
        with self._lock:
            old_router, old_automations = self.router, self.automations
            at = self.clock.now()
            self._configure(org)
            kept, moved = [], []
            seq = self.store.begin(None)
            for ticket in self.store.all_tickets():
                if ticket.status in ("resolved", "closed"):
                    continue
                if self._invalid_field(ticket) is None and ticket.role in self.agents:
                    kept.append(ticket.id)
                    continue
                self.assignment.release(ticket, at)
                moved.append(ticket.id)
                self.assignment.assign(ticket, org.info.fallback_queue, at)
                self.assignment.mark_fallback(ticket)
            self.store.commit(seq, [])
            old_router.close()
            old_automations.close()
            return ReloadReport(org.info.id, tuple(kept), tuple(moved))

    # ------------------------------------------------------------------ plumbing

    def _moment(self, at: Optional[datetime]) -> datetime:
        """When an event happens: its own time, else now; a virtual clock moves forward to it, never back. A moment the
        clock reached is given back as it came: the clock's own, in UTC, is made only when asked (see :meth:`_told`)."""
        if at is None:
            return self.clock.now()
        clock = self.clock
        if isinstance(clock, VirtualClock):
            return at if clock.move_to(at) else clock.now()
        return at

    def _told(self, at: datetime) -> datetime:
        """``at``, a moment :meth:`_moment` gave, as a refusal tells it: a virtual clock's now, which is its instant in UTC."""
        return self.clock.now() if isinstance(self.clock, VirtualClock) else at

    def _dispatch(self, decisions: list[d.Decision], fresh: bool = True) -> None:
        self._delivery.deliver(decisions, fresh)

    def _run_timers(self, until: datetime, seen_due: bool = False) -> list[d.Decision]:
        """Fire timers one at a time, earliest first (firing one may schedule an earlier one).

        ``seen_due``: the caller saw a timer due by ``until``, and will ask again until none is. A store that then hands out
        none, though it holds one due by that instant, would be asked for ever: StoreError."""
        decisions: list[d.Decision] = []
        popped = False
        while (timer := self.store.pop_due(until)) is not None:
            popped = True
            if not self.store.fired(timer):
                decisions.extend(self.timer_kinds.fire(timer))
                self.store.mark_fired(timer)
        # by instants: two moments of one zone compare by wall time, fold unseen, where a store hands out by instant
        if seen_due and not popped and (due := self.store.next_due()) is not None and micros(due) <= micros(until):
            raise StoreError(f"the store holds a timer due at {due.isoformat()} but hands out none due by {until.isoformat()}")
        return decisions

    # ------------------------------------------------------------------ events

    def _apply(self, event: e.Event, at: datetime) -> list[d.Decision]:
        """The event's own decisions, then those of the automations it sets off (unless it was refused)."""
        if isinstance(event, _TICKET_CREATED):
            decisions = self._created(event, at)
            ticket = self.store.get(event.ticket_id)
        else:
            ticket = self.store.get(event.ticket_id)
            if ticket is None:
                return [d.Refused(event.ticket_id, at, type(event).__name__,
                                  f"unknown ticket `{event.ticket_id}` (never created, or closed with nothing left to do)")]
            decisions = _HANDLERS[type(event)](self)(ticket, event, at)
        name = _EVENT_NAMES.get(type(event))
        refused = d.Refused  # looked up in the module once, not for each decision
        if name in self.automations.by_event and ticket is not None and not any(type(decision) is refused for decision in decisions):  # no kind subclasses Refused
            decisions.extend(self.automations.on(ticket, name, at))
        return decisions

    def _act(self, ticket: TicketState, automation: Automation, at: datetime,
             earlier: Optional[TicketState]) -> tuple[list[d.Decision], list[str], list[tuple[TicketState, str]]]:
        """Do an automation's actions, in order: its decisions, the actions in words, and the (ticket, event) pairs they caused."""
        actions, reason = automation.actions, f"automation `{automation.id}`"
        decisions: list[d.Decision] = []
        words: list[str] = []
        caused: list[tuple[TicketState, str]] = []
        if self.store.get(ticket.id) is None:  # closed with nothing left to do and forgotten: it can only be told of
            told = replace(actions, priority=None, segment=None, tags=(), assign=None, escalate=None, follow_up=None, workflow=None,
                           step=None, reopen="earlier" if actions.reopen == "earlier" else None)
            if told != actions:
                words.append(f"changes to `{ticket.id}` skipped: the ticket is closed and gone")
            actions = told
        for name in ("priority", "segment"):
            value = getattr(actions, name)
            if value is not None and getattr(ticket, name) != value:
                words.append(f"{name} `{getattr(ticket, name)}` → `{value}`")
                setattr(ticket, name, value)
        if new_tags := set(actions.tags) - ticket.tags:
            ticket.tags |= new_tags
            words.append("tag " + ", ".join(f"`{tag}`" for tag in sorted(new_tags)))
        if words:
            caused.append((ticket, "updated"))
        if actions.assign and actions.assign != ticket.role and ticket.status not in ("resolved", "closed"):
            decisions.extend(self.assignment.release(ticket, at))
            decisions.extend(self.assignment.assign(ticket, actions.assign, at))
            words.append(f"assign to `{actions.assign}`")
            caused.append((ticket, "reassigned"))
        if actions.escalate:
            decisions.extend(self.slas.escalate(ticket, actions.escalate, 0, at))
            words.append(f"escalate along `{actions.escalate}`")
        if actions.notify:
            decisions.append(d.Notified(ticket.id, at, actions.notify, reason))
            words.append("notify " + ", ".join(f"`{role}`" for role in actions.notify))
        target = earlier if actions.reopen == "earlier" else ticket if actions.reopen else None
        if target is not None and target.status in ("resolved", "closed"):
            decisions.extend(self._reopen(target, at, reason))
            words.append(f"reopen `{target.id}`")
            caused.append((target, "reopened"))
        if actions.surge and not self.store.surge_active(actions.surge):
            surge = next(s for s in self.org.surges if s.id == actions.surge)
            self.store.set_surge_active(surge.id, True)
            decisions.append(d.SurgeActivated(None, at, surge.id, surge.activate, self.store.arrivals_since(surge.id, shift(at, -surge.window, self.surges.zone))))
            words.append(f"switch surge `{surge.id}` on (team `{surge.activate}`)")
        if actions.follow_up:
            policy = next(p for p in self.org.followups if p.id == actions.follow_up)
            scheduled = self.followups.schedule(ticket, policy, at)
            decisions.extend(scheduled)
            words.append(f"follow-up `{policy.id}` by `{policy.by}`" + ("" if scheduled else ": already scheduled"))
        if actions.workflow and ticket.workflow is None:
            workflow = next(w for w in self.org.workflows if w.id == actions.workflow)
            ticket.workflow, ticket.state = workflow.id, workflow.initial
            decisions.append(d.StateChanged(ticket.id, at, workflow.id, workflow.initial))
            words.append(f"workflow `{workflow.id}` from `{workflow.initial}`")
        if actions.step:
            stepped = self.workflows.step(ticket, e.WorkflowStep(ticket.id, actions.step, at=at), at)
            decisions.extend(x for x in stepped if not isinstance(x, d.Refused))
            words.extend(f"step to `{actions.step}`" + (f": refused, {x.reason}" if isinstance(x, d.Refused) else "") for x in stepped)
        return decisions, words, caused

    def _invalid_field(self, event_or_ticket) -> Optional[str]:
        """Why one of a ticket's class fields (read off its event, or off its state on a reload) is no value of this org, if
        one is not (the known ones are told here, in compiled code: the wording of a problem is interpreted Python, four
        calls a ticket when asked for every field)."""
        for name, values in self.known_values.items():
            value = getattr(event_or_ticket, name)
            if values and value not in values:
                return unknown_value(name, value, values)
        return None

    def _created(self, event: e.TicketCreated, at: datetime) -> list[d.Decision]:
        ticket_id = event.ticket_id  # read once: an event's fields are read by name
        if self.store.get(ticket_id) is not None:
            return [d.Refused(ticket_id, at, "TicketCreated", f"ticket `{ticket_id}` already exists")]
        problem = self._invalid_field(event)
        if problem:
            return [d.Refused(ticket_id, at, "TicketCreated", problem)]
        ticket = TicketState(ticket_id, event.category, event.channel, event.segment, event.priority, event.member, at,
                             first_seq=self.store.next_seq, customer_id=event.customer_id)
        self.store.put(ticket)
        decisions, surges_on = self.surges.arrived(ticket, at)
        route = self.assignment.route(ticket, at, surges_on)
        rule, role = route.rule, route.role  # read once: a route's fields are read by name
        ticket.rule = rule.id if rule else None
        if route.fallback:
            self.assignment.mark_fallback(ticket)
            decisions.append(d.Fallback(ticket.id, at, role))
        self.slas.start(ticket, at)  # before the assignment, which reports the targets
        self.workflows.start(ticket)
        decisions.extend(self.assignment.assign(ticket, role, at, self.assignment.required(ticket.rule)))
        return decisions

    def _first_response(self, ticket: TicketState, event: e.Event, at: datetime) -> list[d.Decision]:
        """An agent answered: the first response (its figure kept), or the answer to the customer's last reply."""
        return self.slas.answered(ticket, at)

    def _hand_off(self, ticket: TicketState, event: e.HandOff, at: datetime) -> list[d.Decision]:
        handoff = self.handoffs.get((ticket.role, event.to_role)) if ticket.role else None
        if handoff is None or (handoff.categories is not None and ticket.category not in handoff.categories):
            allowed = sorted(h.to_role for h in self.org.handoffs if h.from_role == ticket.role)
            return [d.Refused(ticket.id, at, "HandOff", f"no hand-off from `{ticket.role}` to `{event.to_role}` for "
                              f"`{ticket.category}`; declared: {', '.join(allowed) or 'none'}")]
        if handoff.returns:
            return [d.Notified(ticket.id, at, (event.to_role,), f"hand-off `{handoff.id}`: answer back to `{ticket.role}`, who keeps the ticket")]
        decisions = self.assignment.release(ticket, at)
        decisions.extend(self.assignment.assign(ticket, event.to_role, at))
        decisions.extend(self.followups.start(ticket, "handed_over", at))
        return decisions

    def _reassigned(self, ticket: TicketState, event: e.Reassigned, at: datetime) -> list[d.Decision]:
        if ticket.status in ("resolved", "closed"):
            return [d.Refused(ticket.id, at, "Reassigned", f"ticket is {ticket.status}; reopen it first")]
        if event.to_role not in self.agents:
            return [d.Refused(ticket.id, at, "Reassigned", f"org `{self.org.info.id}` has no role `{event.to_role}`")]
        decisions = self.assignment.release(ticket, at)
        decisions.extend(self.assignment.assign(ticket, event.to_role, at))
        return decisions

    def _waiting(self, ticket: TicketState, event: e.Waiting, at: datetime) -> list[d.Decision]:
        if ticket.status in ("resolved", "closed"):
            return [d.Refused(ticket.id, at, "Waiting", f"ticket is {ticket.status}")]
        if ticket.status == "open":
            ticket.status = "waiting"  # a queued ticket stays in its queue
        self.slas.pause(ticket, event.reason, at)
        return []

    def _reply(self, ticket: TicketState, event, at: datetime) -> list[d.Decision]:
        if ticket.status in ("resolved", "closed"):
            return [d.Refused(ticket.id, at, "CustomerReply", f"ticket is {ticket.status}; reopen it first")]
        if ticket.status == "waiting":
            ticket.status = "open"
        self.slas.resume(ticket, at)
        self.slas.customer_replied(ticket, at)
        return []

    def _resolved(self, ticket: TicketState, event, at: datetime) -> list[d.Decision]:
        if ticket.status in ("resolved", "closed"):
            return [d.Refused(ticket.id, at, "Resolved", f"ticket is already {ticket.status}")]
        decisions = self.slas.finish(ticket, at, resolved=True)
        decisions.extend(self.assignment.release(ticket, at))  # while it is still queued, so it leaves its queue
        ticket.status = "resolved"
        decisions.extend(self.followups.start(ticket, "resolved", at))
        return decisions

    def _closed(self, ticket: TicketState, event, at: datetime) -> list[d.Decision]:
        if ticket.status == "closed":
            return [d.Refused(ticket.id, at, "Closed", "ticket is already closed")]
        decisions = self.slas.finish(ticket, at, resolved=ticket.status != "resolved")
        decisions.extend(self.assignment.release(ticket, at))
        ticket.status = "closed"
        decisions.extend(self.followups.start(ticket, "closed", at))
        self.followups.forget_if_done(ticket)
        return decisions

    def _reopened(self, ticket: TicketState, event: e.Reopened, at: datetime) -> list[d.Decision]:
        return self._reopen(ticket, at, "reopened")

    def _reopen(self, ticket: TicketState, at: datetime, reason: str) -> list[d.Decision]:
        """Back to work: a fresh resolution target, and an agent of its role (the fallback queue if the role is gone)."""
        if ticket.status not in ("resolved", "closed"):
            return [d.Refused(ticket.id, at, "Reopened", f"ticket is {ticket.status}, not resolved or closed")]
        ticket.status = "open"
        ticket.generation += 1
        decisions: list[d.Decision] = [d.TicketReopened(ticket.id, at, reason)]
        self.slas.reopen(ticket, at)
        role = ticket.role if ticket.role in self.agents else self.org.info.fallback_queue
        if role != ticket.role:  # its role went away in a reload
            self.assignment.mark_fallback(ticket)
            decisions.append(d.Fallback(ticket.id, at, role))
        decisions.extend(self.assignment.assign(ticket, role, at))
        return decisions
