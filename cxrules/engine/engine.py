"""The routing engine services embed: ticket events in, decisions out, time on an injected clock.

Routing is decided by the org's compiled durable-rules ruleset (:mod:`.durable`); SLA
clocks run in business time on the org's calendars; breaches walk the escalation path;
follow-ups are scheduled at the first moment the caller is on shift and the customer is
not resting; surges switch teams on and off; workflows refuse skipped steps. All state is
in the :class:`~.store.Store`; one lock serialises events, so decisions for a ticket are
applied in order from any number of threads.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Optional

from ..calendars import BusinessCalendar, intersect_spans, open_spans, subtract_spans, union_spans
from ..model import FollowUp, Org, Sla
from ..routing import Router, TicketClass, class_values, unknown_value
from . import decisions as d
from . import events as e
from .clock import Clock, RealClock, VirtualClock
from .delivery import DeadLetter, Delivery, DeliveryPolicy, Handler, Undelivered
from .durable import DurableRouter
from .store import MemoryStore, Store, TicketState, Timer

__all__ = ["Engine", "Agent", "ReloadReport"]

log = logging.getLogger("cxrules.engine")


def _stamped(event: e.Event, at: datetime) -> e.Event:
    """The event with its time filled in (a cheap copy: `dataclasses.replace` is slow on a hot path)."""
    if event.at == at:
        return event
    stamped = object.__new__(type(event))
    stamped.__dict__.update(event.__dict__)
    object.__setattr__(stamped, "at", at)
    return stamped


@dataclass(frozen=True)
class ReloadReport:
    """What a reload did to tickets in flight."""

    org: str
    kept: tuple[str, ...]
    """Open tickets whose class and role exist in the new org: they follow its rules from now on."""
    moved_to_fallback: tuple[str, ...]
    """Open tickets whose category, channel, segment, priority or role is gone: sent to the fallback queue."""


@dataclass(frozen=True)
class Agent:
    """One person of a role: named `role#n`, with the shift and skills of their staff group."""

    id: str
    role: str
    shift: str
    skills: frozenset[str]
    capacity: int
    number: int
    """Place in the role's team, from 0: ties go to the lower number."""


class Engine:
    """Assigns tickets, escalates on SLA breach, schedules follow-ups, switches surge teams."""

    def __init__(self, org: Org, clock: Optional[Clock] = None, store: "Store | str | os.PathLike | None" = None,
                 delivery: DeliveryPolicy = DeliveryPolicy()):
        """``store``: a :class:`Store`, or a file path for the durable :class:`~.sqlite.SqliteStore`; default in memory.

        ``delivery``: how failing handlers are retried before their decision becomes a dead letter.
        """
        self.clock = clock or RealClock()
        if isinstance(store, (str, os.PathLike)):
            from .sqlite import SqliteStore

            store = SqliteStore(store)
        self.store = store or MemoryStore()
        self._configure(org)
        self._delivery = Delivery(delivery, self.store)
        self._lock = threading.RLock()
        self._faults: list[str] = []
        self._pending_dispatch = self.store.recover(self)
        """Decisions persisted before a crash whose handlers may not have run; see :meth:`start`."""

    def _configure(self, org: Org) -> None:
        """Everything derived from the org; swapped whole on reload."""
        self.org = org
        self.router = DurableRouter(org)
        self.calendars = {c.id: BusinessCalendar(c) for c in org.calendars}
        self.agents: dict[str, list[Agent]] = {}
        for role in org.roles:
            team, number = [], 0
            for group in role.staff:
                for _ in range(group.agents):
                    team.append(Agent(f"{role.id}#{number + 1}", role.id, group.shift, frozenset(role.skills) | set(group.skills),
                                      role.capacity, number))
                    number += 1
            self.agents[role.id] = team
        self.handoffs = {(h.from_role, h.to_role): h for h in org.handoffs}
        self.rules = {rule.id: rule for rule in org.routing}
        self.followups = {policy.id: policy for policy in org.followups}
        self.surges = {surge.id: surge for surge in org.surges}
        self.workflows = {workflow.id: workflow for workflow in org.workflows}
        self.slas = {sla.id: sla for sla in org.slas}
        self.paths = {path.id: path for path in org.escalations}
        self._policy_cache: dict[tuple, tuple] = {}
        self.known_values = class_values(org)

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
        long, not clean text) is refused here and never reaches the store.
        """
        with self._lock:
            try:
                e.check_event(event)
                if event.at is None and (problem := e.time_problem("at", self.clock.now())):
                    raise e.EventError(f"the clock's now cannot be the event's time: {problem}", event.ticket_id, None, type(event).__name__)
            except e.EventError as invalid:
                return [d.Refused(invalid.ticket_id, invalid.at or self.clock.now(), invalid.kind, str(invalid))]
            at = self._moment(event.at)
            event = _stamped(event, at)
            seq = self.store.journal(("event", event))  # StoreError here: nothing was applied, submit again later
            try:
                decisions = self.replay(event)
            except Exception as error:  # a bug: a checked event must apply; the engine's state may be partly changed
                log.exception("applying %s of ticket %s failed", type(event).__name__, event.ticket_id)
                reason = f"applying it failed: {type(error).__name__}: {error}"
                self._faults.append(f"{type(event).__name__} of ticket `{event.ticket_id}` at {at.isoformat()}: {reason} "
                                    f"(journalled, so a restart replays it; the state in memory may be partly changed)")
                return [d.Refused(event.ticket_id, at, type(event).__name__, reason)]
            self.store.record(seq, decisions)
            self._dispatch(decisions)
            self._delivery.retry(at)
            return decisions

    def advance(self, until: Optional[datetime] = None) -> list[d.Decision]:
        """Fire every timer due up to ``until`` (default: the clock's now), in order, at their own due times.

        Also tries again the handlers whose retry is due.
        """
        with self._lock:
            moment = self._moment(until)
            self._delivery.retry(moment)
            due = self.store.next_due()
            if due is None or due > moment:
                return []
            seq = self.store.journal(("advance", moment))
            decisions = self._run_timers(moment)
            self.store.record(seq, decisions)
            self._dispatch(decisions)
            return decisions

    def start(self) -> list[d.Decision]:
        """After a restart: run the handlers of decisions that may have missed them, then the timers due meanwhile.

        Decisions keep their idempotency ``key``, so a handler that ran before the crash can tell.
        """
        with self._lock:
            pending, self._pending_dispatch = self._pending_dispatch, []
            self._dispatch(pending)
            return pending + self.advance()

    def redeliver(self) -> None:
        """Try every undelivered decision again now (say, once the broker is back), whatever its backoff."""
        with self._lock:
            self._delivery.retry(self.clock.now(), everything=True)

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
        """Apply an event at its own time without persisting or dispatching (used by recovery)."""
        if event.at is None:
            raise ValueError("replay needs an event with its time filled in")
        decisions = self._run_timers(event.at)
        decisions.extend(self._apply(event, event.at))
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
        return list(self.store.fallback)

    def queue(self, role: str) -> list[str]:
        return list(self.store.queues.get(role, ()))

    def close(self) -> None:
        self.router.close()

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
        released. A durable store takes a snapshot, so a restart continues with the new org.
        """
        with self._lock:
            old_router = self.router
            at = self.clock.now()
            self._configure(org)
            kept, moved = [], []
            for ticket in list(self.store.tickets.values()):
                if ticket.status in ("resolved", "closed"):
                    continue
                if self._invalid_field(ticket) is None and ticket.role in self.agents:
                    kept.append(ticket.id)
                    continue
                self._release(ticket, at)
                moved.append(ticket.id)
                self._assign(ticket, org.info.fallback_queue, at, ())
                ticket.fallback = True
                self.store.fallback.append(ticket.id)
            old_router.close()
            snapshot = getattr(self.store, "snapshot", None)
            if snapshot:
                snapshot()
            return ReloadReport(org.info.id, tuple(kept), tuple(moved))

    # ------------------------------------------------------------------ plumbing

    def _moment(self, at: Optional[datetime]) -> datetime:
        """When an event happens: its own time, else now; a virtual clock moves forward to it, never back."""
        if at is None:
            return self.clock.now()
        if at.tzinfo is None:
            raise ValueError("event times must be timezone-aware")
        if isinstance(self.clock, VirtualClock):
            return self.clock.set(at)
        return at

    def _dispatch(self, decisions: list[d.Decision]) -> None:
        self._delivery.deliver(decisions, self.clock.now())

    def _run_timers(self, until: datetime) -> list[d.Decision]:
        """Fire timers one at a time, earliest first (firing one may schedule an earlier one)."""
        decisions: list[d.Decision] = []
        while (timer := self.store.pop_due(until)) is not None:
            if not self.store.fired(timer):
                decisions.extend(self._fire(timer))
                self.store.mark_fired(timer)
        return decisions

    def _schedule(self, due: Optional[datetime], kind: str, ticket: Optional[TicketState], key: str, data=None) -> None:
        if due is not None:
            self.store.schedule(due, kind, ticket.id if ticket else None, key, data)

    # ------------------------------------------------------------------ events

    def _apply(self, event: e.Event, at: datetime) -> list[d.Decision]:
        if isinstance(event, e.TicketCreated):
            return self._created(event, at)
        ticket = self.store.get(event.ticket_id)
        if ticket is None:
            return [d.Refused(event.ticket_id, at, type(event).__name__,
                              f"unknown ticket `{event.ticket_id}` (never created, or closed with nothing left to do)")]
        handler = {
            e.FirstResponse: self._first_response, e.HandOff: self._hand_off, e.Waiting: self._waiting,
            e.CustomerReply: self._reply, e.Resolved: self._resolved, e.Reopened: self._reopened, e.Closed: self._closed,
            e.FollowUpDone: self._followup_done, e.WorkflowStep: self._step,
        }[type(event)]
        return handler(ticket, event, at)

    def _invalid_field(self, event) -> Optional[str]:
        return next((problem for name, values in self.known_values.items()
                     if (problem := unknown_value(name, getattr(event, name), values))), None)

    def _created(self, event: e.TicketCreated, at: datetime) -> list[d.Decision]:
        if self.store.get(event.ticket_id) is not None:
            return [d.Refused(event.ticket_id, at, "TicketCreated", f"ticket `{event.ticket_id}` already exists")]
        problem = self._invalid_field(event)
        if problem:
            return [d.Refused(event.ticket_id, at, "TicketCreated", problem)]
        ticket = TicketState(event.ticket_id, event.category, event.channel, event.segment, event.priority, event.member, at)
        self.store.put(ticket)
        decisions = self._count_surges(ticket, at)
        try:
            route = self.router.route(self._class(ticket), at, self._active_surges())
        except RuntimeError as error:  # durable-rules failed: the reference router decides the same way
            self._faults.append(f"durable-rules failed routing `{ticket.id}`: {error}; decided by the reference router")
            route = Router(self.org).route(self._class(ticket), at, self._active_surges())
        ticket.rule = route.rule.id if route.rule else None
        if route.fallback:
            ticket.fallback = True
            self.store.fallback.append(ticket.id)
            decisions.append(d.Fallback(ticket.id, at, route.role))
        sla, workflow = self._policies(self._fields(ticket))
        if sla is not None:
            self._start_sla(ticket, sla, at)
        if workflow is not None:
            ticket.workflow, ticket.state = workflow.id, workflow.initial
        decisions.extend(self._assign(ticket, route.role, at, route.rule.requires if route.rule else ()))
        return decisions

    def _first_response(self, ticket, event, at):
        ticket.responded = True
        return []

    def _hand_off(self, ticket: TicketState, event: e.HandOff, at: datetime) -> list[d.Decision]:
        handoff = self.handoffs.get((ticket.role, event.to_role)) if ticket.role else None
        if handoff is None or (handoff.categories is not None and ticket.category not in handoff.categories):
            allowed = sorted(h.to_role for h in self.org.handoffs if h.from_role == ticket.role)
            return [d.Refused(ticket.id, at, "HandOff", f"no hand-off from `{ticket.role}` to `{event.to_role}` for "
                              f"`{ticket.category}`; declared: {', '.join(allowed) or 'none'}")]
        if handoff.returns:
            return [d.Notified(ticket.id, at, (event.to_role,), f"hand-off `{handoff.id}`: answer back to `{ticket.role}`, who keeps the ticket")]
        decisions = self._release(ticket, at)
        decisions.extend(self._assign(ticket, event.to_role, at, ()))
        decisions.extend(self._start_followups(ticket, "handed_over", at))
        return decisions

    def _waiting(self, ticket: TicketState, event: e.Waiting, at: datetime) -> list[d.Decision]:
        if ticket.status in ("resolved", "closed"):
            return [d.Refused(ticket.id, at, "Waiting", f"ticket is {ticket.status}")]
        sla = self._sla(ticket)
        if ticket.status == "open":
            ticket.status = "waiting"  # a queued ticket stays in its queue
        if sla and event.reason in sla.pause_when and ticket.paused_since is None:
            ticket.paused_since = at
            ticket.generation += 1  # pending SLA timers no longer count
        return []

    def _reply(self, ticket: TicketState, event, at: datetime) -> list[d.Decision]:
        if ticket.status in ("resolved", "closed"):
            return [d.Refused(ticket.id, at, "CustomerReply", f"ticket is {ticket.status}; reopen it first")]
        if ticket.status == "waiting":
            ticket.status = "open"
        sla = self._sla(ticket)
        if ticket.paused_since is not None and sla:
            calendar = self.calendars[sla.calendar]
            for target in ("first_response_due", "resolution_due"):
                due = getattr(ticket, target)
                if due is not None and due > ticket.paused_since:
                    setattr(ticket, target, calendar.add(at, calendar.between(ticket.paused_since, due)))
            ticket.paused_since = None
            self._schedule_sla(ticket, sla, at)
        return []

    def _resolved(self, ticket: TicketState, event, at: datetime) -> list[d.Decision]:
        if ticket.status in ("resolved", "closed"):
            return [d.Refused(ticket.id, at, "Resolved", f"ticket is already {ticket.status}")]
        ticket.status = "resolved"
        ticket.generation += 1
        decisions = self._release(ticket, at)
        decisions.extend(self._start_followups(ticket, "resolved", at))
        return decisions

    def _closed(self, ticket: TicketState, event, at: datetime) -> list[d.Decision]:
        if ticket.status == "closed":
            return [d.Refused(ticket.id, at, "Closed", "ticket is already closed")]
        ticket.generation += 1
        decisions = self._release(ticket, at)
        ticket.status = "closed"
        decisions.extend(self._start_followups(ticket, "closed", at))
        self._forget_if_done(ticket)
        return decisions

    def _reopened(self, ticket: TicketState, event, at: datetime, reason: str = "reopened") -> list[d.Decision]:
        if ticket.status not in ("resolved", "closed"):
            return [d.Refused(ticket.id, at, "Reopened", f"ticket is {ticket.status}, not resolved or closed")]
        ticket.status = "open"
        ticket.generation += 1
        decisions: list[d.Decision] = [d.TicketReopened(ticket.id, at, reason)]
        sla = self._sla(ticket)
        if sla is not None:  # a reopened ticket gets a fresh resolution target, watched again
            ticket.responded, ticket.escalation, ticket.paused_since = True, None, None
            ticket.resolution_due = self.calendars[sla.calendar].add(at, sla.resolution)
            self._schedule_sla(ticket, sla, at)
        role = ticket.role if ticket.role in self.agents else self.org.info.fallback_queue
        if role != ticket.role:  # its role went away in a reload
            ticket.fallback = True
            self.store.fallback.append(ticket.id)
            decisions.append(d.Fallback(ticket.id, at, role))
        decisions.extend(self._assign(ticket, role, at, ()))
        return decisions

    def _followup_done(self, ticket: TicketState, event: e.FollowUpDone, at: datetime) -> list[d.Decision]:
        if event.policy not in ticket.followups_pending:
            return [d.Refused(ticket.id, at, "FollowUpDone", f"no follow-up `{event.policy}` is pending for this ticket")]
        ticket.followups_pending.discard(event.policy)
        policy = self.followups.get(event.policy)
        if policy is None:  # the policy was removed by a reload: the answer is kept, nothing follows from it
            return [d.Refused(ticket.id, at, "FollowUpDone", f"follow-up `{event.policy}` no longer exists in org `{self.org.info.id}`")]
        decisions: list[d.Decision] = []
        if not event.satisfied:
            if policy.notify_when_unsatisfied:
                decisions.append(d.Notified(ticket.id, at, policy.notify_when_unsatisfied, f"customer unsatisfied at follow-up `{policy.id}`"))
            if policy.reopen_when_unsatisfied:
                decisions.extend(self._reopened(ticket, event, at, f"customer unsatisfied at follow-up `{policy.id}`"))
            if policy.escalate_when_unsatisfied:
                decisions.extend(self._escalate(ticket, policy.escalate_when_unsatisfied, 0, at))
        self._forget_if_done(ticket)
        return decisions

    def _step(self, ticket: TicketState, event: e.WorkflowStep, at: datetime) -> list[d.Decision]:
        if ticket.workflow is None:
            return [d.Refused(ticket.id, at, "WorkflowStep", "the ticket follows no workflow")]
        workflow = self.workflows.get(ticket.workflow)
        if workflow is None or ticket.state not in {state.id for state in workflow.states}:
            return [d.Refused(ticket.id, at, "WorkflowStep", f"workflow `{ticket.workflow}` no longer exists in this version of the org")]
        current = next(s for s in workflow.states if s.id == ticket.state)
        if event.state not in current.next:
            allowed = ", ".join(f"`{s}`" for s in current.next) or "nothing (final state)"
            return [d.Refused(ticket.id, at, "WorkflowStep", f"`{workflow.id}` cannot go from `{current.id}` to `{event.state}`; "
                              f"next allowed: {allowed}")]
        ticket.state = event.state
        return [d.StateChanged(ticket.id, at, workflow.id, event.state)]

    # ------------------------------------------------------------------ assignment

    @staticmethod
    def _fields(ticket: TicketState) -> tuple:
        return ticket.category, ticket.channel, ticket.segment, ticket.priority, ticket.member

    def _class(self, ticket: TicketState) -> TicketClass:
        return TicketClass(*self._fields(ticket))

    def _assign(self, ticket: TicketState, role: str, at: datetime, requires: Iterable[str]) -> list[d.Decision]:
        ticket.role, ticket.agent = role, None
        agent = self._pick(role, at, frozenset(requires))
        if agent is None:
            queue = self.store.queues.setdefault(role, deque())
            queue.append(ticket.id)
            ticket.status = "queued"
            on_shift = [a for a in self.agents.get(role, ()) if self.calendars[a.shift].is_open(at)]
            reason = "every agent on shift is at capacity" if on_shift else "nobody of the role is on shift"
            if not on_shift:
                self._schedule(self._next_shift(role, at), "drain", None, f"drain:{role}:{at.isoformat()}", role)
            return [d.Queued(ticket.id, at, role, len(queue), reason)]
        ticket.agent = agent.id
        ticket.status = "open"
        self.store.loads[agent.id] = self.store.loads.get(agent.id, 0) + 1
        return [d.Assigned(ticket.id, at, role, agent.id, ticket.rule, ticket.first_response_due, ticket.resolution_due)]

    def _pick(self, role: str, at: datetime, requires: frozenset[str]) -> Optional[Agent]:
        team = self.agents.get(role, [])
        loads = self.store.loads
        open_shifts = {shift for shift in {a.shift for a in team} if self.calendars[shift].is_open(at)}
        able = [a for a in team if a.shift in open_shifts and loads.get(a.id, 0) < a.capacity and requires <= a.skills]
        if not able:
            return None
        if self.org.role(role).assignment == "round_robin":
            cursor = self.store.cursors.get(role, -1)
            chosen = min(able, key=lambda a: (a.number <= cursor, a.number))
            self.store.cursors[role] = chosen.number
            return chosen
        return min(able, key=lambda a: (loads.get(a.id, 0), a.number))

    def _next_shift(self, role: str, at: datetime) -> Optional[datetime]:
        starts = [start for a in self.agents.get(role, ()) if (start := self.calendars[a.shift].next_open(at)) is not None and start > at]
        return min(starts) if starts else None

    def _release(self, ticket: TicketState, at: datetime) -> list[d.Decision]:
        if ticket.role is None:
            return []
        queue = self.store.queues.get(ticket.role)
        if ticket.status == "queued" and queue and ticket.id in queue:
            queue.remove(ticket.id)
        if ticket.agent:
            self.store.loads[ticket.agent] -= 1
            ticket.agent = None
            return self._drain(ticket.role, at)
        return []

    def _drain(self, role: str, at: datetime) -> list[d.Decision]:
        """Hand queued tickets out, oldest first, while someone can take them."""
        decisions: list[d.Decision] = []
        queue = self.store.queues.get(role)
        while queue:
            ticket = self.store.get(queue[0])
            if ticket is None or ticket.status != "queued" or ticket.role != role:
                queue.popleft()
                continue
            rule = self.rules.get(ticket.rule) if ticket.rule else None
            agent = self._pick(role, at, frozenset(rule.requires if rule else ()))
            if agent is None:
                if not any(self.calendars[a.shift].is_open(at) for a in self.agents.get(role, ())):
                    self._schedule(self._next_shift(role, at), "drain", None, f"drain:{role}:{at.isoformat()}", role)
                break
            queue.popleft()
            ticket.agent, ticket.status = agent.id, "open"
            self.store.loads[agent.id] = self.store.loads.get(agent.id, 0) + 1
            decisions.append(d.Assigned(ticket.id, at, role, agent.id, ticket.rule, ticket.first_response_due, ticket.resolution_due))
        return decisions

    # ------------------------------------------------------------------ SLAs and escalation

    def _start_sla(self, ticket: TicketState, sla: Sla, at: datetime) -> None:
        calendar = self.calendars[sla.calendar]
        ticket.sla = sla.id
        ticket.first_response_due = calendar.add(at, sla.first_response) if sla.first_response else None
        ticket.resolution_due = calendar.add(at, sla.resolution)
        self._schedule_sla(ticket, sla, at, fresh=True)

    def _schedule_sla(self, ticket: TicketState, sla: Sla, at: datetime, fresh: bool = False) -> None:
        """Timers for the warning and the breach of each target; ``fresh``: the whole target lies ahead."""
        ticket.generation += 1
        calendar = self.calendars[sla.calendar]
        for target, due, total in (("first_response", ticket.first_response_due, sla.first_response),
                                   ("resolution", ticket.resolution_due, sla.resolution)):
            if due is None:
                continue
            key = f"{ticket.id}:sla:{target}:{ticket.generation}"
            if sla.warn_at is not None and total is not None:
                total = calendar.business_time(at, total)  # working days (`2wd`): the open time they give from now
                remaining = total if fresh else calendar.between(at, due)
                warn = calendar.add(at, max(timedelta(0), remaining - total * (1 - sla.warn_at)))
                self._schedule(warn, "sla", ticket, key + ":warn", (target, "warn", ticket.generation))
            self._schedule(due, "sla", ticket, key + ":breach", (target, "breach", ticket.generation))

    def _escalate(self, ticket: TicketState, path_id: str, level: int, at: datetime) -> list[d.Decision]:
        path = self.paths.get(path_id)
        if path is None or level >= len(path.levels):  # removed or shortened by a reload
            return []
        step = path.levels[level]
        ticket.escalation = path_id
        calendar = self.calendars[self._sla(ticket).calendar if self._sla(ticket) else self.org.info.calendar]
        next_at = None
        if level + 1 < len(path.levels) or path.then:
            next_at = calendar.add(at, step.within or timedelta(0))
            following = (path_id, level + 1) if level + 1 < len(path.levels) else (path.then, 0)
            self._schedule(next_at, "escalate", ticket, f"{ticket.id}:esc:{following[0]}:{following[1]}:{ticket.generation}",
                           (*following, ticket.generation))
        return [d.Escalated(ticket.id, at, path_id, level + 1, step.role, step.notify, next_at)]

    # ------------------------------------------------------------------ follow-ups

    def _start_followups(self, ticket: TicketState, trigger: str, at: datetime) -> list[d.Decision]:
        decisions: list[d.Decision] = []
        for policy in self.org.followups:
            if policy.on != trigger or not policy.match.matches(*self._fields(ticket)) or not self._sampled(ticket, policy):
                continue
            key = f"{ticket.id}:fu:{policy.id}"
            if key in ticket.fired:  # a replayed trigger schedules nothing twice
                continue
            ticket.fired.add(key)
            due = at + policy.within
            call_at = self._first_call_moment(policy, at, due) or due
            ticket.followups_pending.add(policy.id)
            self._schedule(call_at, "followup_call", ticket, f"{key}:call", (policy.id, due))
            self._schedule(due, "followup_deadline", ticket, f"{key}:deadline", policy.id)
            decisions.append(d.FollowUpScheduled(ticket.id, at, policy.id, policy.by, call_at, due))
        return decisions

    @staticmethod
    def _sampled(ticket: TicketState, policy: FollowUp) -> bool:
        """Coverage as a deterministic draw per ticket: replays and restarts draw the same."""
        share = policy.coverage_members if ticket.member else policy.coverage_others
        if share >= 1:
            return True
        draw = int(hashlib.sha256(f"{ticket.id}:{policy.id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        return draw < share

    def _first_call_moment(self, policy: FollowUp, start: datetime, due: datetime) -> Optional[datetime]:
        """First moment the caller is on shift, inside the policy's calendar, outside quiet hours."""
        shifts = {a.shift for a in self.agents.get(policy.by, ())}
        last = due + timedelta(days=14)
        window = timedelta(days=2)
        while True:  # look a little ahead first: the first slot is nearly always within a day or two
            horizon = min(start + window, last)
            spans = union_spans(*(open_spans(self.calendars[s], start, horizon) for s in shifts))
            if policy.calendar:
                spans = intersect_spans(spans, open_spans(self.calendars[policy.calendar], start, horizon))
            if policy.quiet_hours:
                spans = subtract_spans(spans, open_spans(self.calendars[policy.quiet_hours], start, horizon))
            if spans or horizon >= last:
                return spans[0][0] if spans else None
            window *= 4

    def _forget_if_done(self, ticket: TicketState) -> None:
        if ticket.status == "closed" and not ticket.followups_pending:
            self.store.drop(ticket.id)

    # ------------------------------------------------------------------ surges

    def _active_surges(self):
        return [s for s in self.org.surges if s.id in self.store.active_surges]

    def _sla(self, ticket: TicketState):
        """The ticket's SLA, if this version of the org still has it."""
        return self.slas.get(ticket.sla) if ticket.sla else None

    def _policies(self, fields: tuple) -> tuple:
        """The SLA and the workflow a ticket class gets (the first that match), cached per class."""
        found = self._policy_cache.get(fields)
        if found is None:
            found = (next((s for s in self.org.slas if s.match.matches(*fields)), None),
                     next((w for w in self.org.workflows if w.match.matches(*fields)), None),
                     tuple(s for s in self.org.surges if s.match.matches(*fields)))
            self._policy_cache[fields] = found
        return found[:2]

    def _count_surges(self, ticket: TicketState, at: datetime) -> list[d.Decision]:
        decisions: list[d.Decision] = []
        if not self.org.surges:
            return decisions
        self._policies(self._fields(ticket))
        for surge in self._policy_cache[self._fields(ticket)][2]:
            arrivals = self.store.arrivals.setdefault(surge.id, deque())
            arrivals.append(at)
            decisions.extend(self._judge_surge(surge, at))
            self._schedule(at + surge.window, "surge", None, f"surge:{surge.id}:{at.isoformat()}:{len(arrivals)}", surge.id)
        return decisions

    def _judge_surge(self, surge, at: datetime) -> list[d.Decision]:
        arrivals = self.store.arrivals.setdefault(surge.id, deque())
        while arrivals and arrivals[0] <= at - surge.window:
            arrivals.popleft()
        count = len(arrivals)
        active = surge.id in self.store.active_surges
        if not active and count >= surge.threshold:
            self.store.active_surges.add(surge.id)
            return [d.SurgeActivated(None, at, surge.id, surge.activate, count)]
        if active and count < surge.release_below:
            self.store.active_surges.discard(surge.id)
            return [d.SurgeDeactivated(None, at, surge.id, surge.activate, count)]
        return []

    # ------------------------------------------------------------------ timers

    def _fire(self, timer: Timer) -> list[d.Decision]:
        at = timer.due
        if timer.kind == "surge":
            surge = self.surges.get(timer.data)
            return self._judge_surge(surge, at) if surge else []
        if timer.kind == "drain":
            return self._drain(timer.data, at)
        ticket = self.store.get(timer.ticket_id) if timer.ticket_id else None
        if ticket is None:
            return []
        if timer.kind == "sla":
            target, phase, generation = timer.data
            if generation != ticket.generation or ticket.status in ("resolved", "closed") or ticket.paused_since is not None:
                return []
            if target == "first_response" and ticket.responded:
                return []
            due = getattr(ticket, f"{target}_due")
            if phase == "warn":
                return [d.SlaWarning(ticket.id, at, target, due)]
            decisions: list[d.Decision] = [d.SlaBreached(ticket.id, at, target, due)]
            sla = self._sla(ticket)
            if sla and sla.escalation and ticket.escalation is None:
                decisions.extend(self._escalate(ticket, sla.escalation, 0, at))
            return decisions
        if timer.kind == "escalate":
            path_id, level, generation = timer.data
            if ticket.status in ("resolved", "closed") or generation != ticket.generation:
                return []
            return self._escalate(ticket, path_id, level, at)
        if timer.kind == "followup_call":
            policy = self.followups.get(timer.data[0])
            if policy is None or policy.id not in ticket.followups_pending:
                return []
            return [d.FollowUpDue(ticket.id, at, policy.id, policy.by, timer.data[1])]
        if timer.kind == "followup_deadline":
            policy = self.followups.get(timer.data)
            if policy is None:  # removed by a reload: forget the promise, and say so
                ticket.followups_pending.discard(timer.data)
                self._faults.append(f"follow-up `{timer.data}` of ticket `{ticket.id}` dropped: the policy no longer exists")
                return []
            if policy.id not in ticket.followups_pending:
                return []
            decisions = [d.FollowUpOverdue(ticket.id, at, policy.id, policy.notify_when_overdue)]
            if policy.notify_when_overdue:
                decisions.append(d.Notified(ticket.id, at, policy.notify_when_overdue, f"follow-up `{policy.id}` is overdue"))
            return decisions
        raise ValueError(f"unknown timer kind {timer.kind}")
