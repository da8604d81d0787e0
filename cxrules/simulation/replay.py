"""Replay a ticket log through the same :class:`~cxrules.engine.Engine` that services embed, driven by work.

Arrivals come at their logged times on a virtual clock and are routed by the engine. Each
ticket brings work (see :mod:`.journeys`): an agent the engine assigns does it within their
shift, while the ticket waits in its role's queue as long as nobody of the role is free.
When the work of a step is done the ticket is resolved or moves on (the engine's
`Reassigned`), to wait in the next role's queue with the work it brings there. Escalations
move the ticket and what remains of its work to the escalation role (``escalation="move"``,
the default of the what-if mode) or only notify it (``"notify"``, the as-is default: the
log's own routes already hold what people did on escalation). A ticket is never resolved
while it is queued; tickets still open when the replay ends are counted, never hidden.

Engine timers (SLA breaches, escalations, shift starts) fire at their own moments between
the replay's events, so work moves at the exact time an escalation fires.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Final, Iterable, Optional, TypeAlias
from zoneinfo import ZoneInfo

from mypy_extensions import i64, mypyc_attr

from ..calendars import hour_start, micros, remember_micros
from ..engine import decisions as d
from ..engine import events as e
from ..engine.clock import VirtualClock
from ..engine.engine import Engine
from ..engine.store import MemoryStore, StoreError
from ..fastcalls import heappop, heappush
from ..model import Org
from ..performance import paused_gc
from .figures import Flight, SimulationResult, Window, summarise
from .history import TicketRecord
from .journeys import AsIsJourney, Journey, ModelJourney, Next, Phase, WorkModel, as_is_steps
from .mapping import LogMapping, Unmapped

__all__ = ["SimulationResult", "SimulationError", "simulate", "MODES", "ESCALATIONS"]

MODES: Final = ("as-is", "what-if")
_UNDECIDED: Final = "\0undecided"
"""The role a new ticket is expected at while its journey has not yet said where it starts: no assignment is taken up."""
ESCALATIONS: Final = ("move", "notify")


@mypyc_attr(native_class=False)  # compiled classes cannot extend RuntimeError
class SimulationError(RuntimeError):
    """The replay cannot go on: the engine failed on something it must do (a bug, reported with the engine's fault)."""


@dataclass
class _ServiceTimeModel:
    """The what-if model of a mapping without a calibrated model: its service time, one role, no pauses or reopenings."""

    mapping: LogMapping

    def start(self, routed: str, category: str, rng: random.Random) -> str:
        return routed

    def pick(self, role: str, rng: random.Random, arrival: bool = True) -> Optional[timedelta]:
        return timedelta(0)

    def work(self, role: str, category: str, priority: str, rng: random.Random, picked: bool = True) -> timedelta:
        return self.mapping.service_time(category, rng)

    def next_role(self, role: str, rng: random.Random, picked: bool = True, arrival: bool = True) -> Optional[str]:
        return None

    def pause(self, role: str, rng: random.Random) -> Optional[tuple[str, timedelta]]:
        return None

    def reopens(self, category: str, rng: random.Random) -> Optional[timedelta]:
        return None


def simulate(org: Org, tickets: Iterable[TicketRecord], mapping: Optional[LogMapping] = None,
             unmapped: Optional[Unmapped] = None, progress: Optional[Callable[[int, int], None]] = None, *,
             mode: str = "as-is", model: Optional[WorkModel] = None, escalation: Optional[str] = None,
             window: Optional[tuple[Optional[datetime], Optional[datetime]]] = None, warm_up: timedelta = timedelta(0),
             tail: timedelta = timedelta(days=14), seed: Optional[int] = None, keep_flights: bool = False) -> SimulationResult:
    """Replay ``tickets`` against ``org`` and measure what happens.

    ``mode``: ``as-is`` (each ticket's route and work from its own history) or ``what-if``
    (routes from the org's rules and ``model``'s reassignment probabilities, work drawn from
    ``model``; without a model, from the mapping's service time). ``window`` (from, to) and
    ``warm_up`` limit the figures to tickets arriving within them, and utilisation to that
    time; the replay itself runs over every ticket and ends ``tail`` after the log's last moment.
    ``keep_flights``: keep every ticket's :class:`~.figures.Flight` in the result.
    """
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    escalation = escalation or ("notify" if mode == "as-is" else "move")
    if escalation not in ESCALATIONS:
        raise ValueError(f"escalation: expected one of {', '.join(ESCALATIONS)}, got {escalation!r}")
    mapping = mapping or LogMapping(fields={}, path="")
    with paused_gc():
        replay = _Replay(org, sorted(tickets, key=lambda r: (r.created, r.row)), mapping, mode, model, escalation,
                         random.Random(mapping.seed if seed is None else seed))
        try:
            replay.run(progress, tail)
            last_arrival = replay.records[-1].created if replay.records else None
            return summarise(org, replay.engine, replay.flights.values(), replay.tally,
                             Window.of(replay.start, last_arrival, replay.tally.end, window, warm_up), mode, escalation, unmapped, keep_flights)
        except StoreError as error:  # the engine failed on something it must do, and its store cannot undo what it began
            fault = error.__context__ or error
            raise SimulationError(f"the engine failed at {replay.engine.clock.now().isoformat()}, so the replay cannot go on "
                                  f"(a bug in cxrules; please report it): {type(fault).__name__}: {fault}") from fault
        finally:
            replay.close()


@dataclass
class _Tally:
    """Counts of the run that belong to no one ticket."""

    escalations: dict = field(default_factory=dict)
    escalation_moves: int = 0
    followups: dict = field(default_factory=lambda: dict.fromkeys(("scheduled", "due", "done", "late", "deferred_to_callable_hours"), 0))
    surges: list = field(default_factory=list)
    refused: dict = field(default_factory=dict)
    queue_peaks: dict = field(default_factory=dict)
    started_elsewhere: int = 0
    """Tickets that started with another role than the org's rules chose: the log's first role (as-is) or the model's
    entry (what-if); moved there at once, which counts as no reassignment."""
    truncated: list = field(default_factory=list)
    end: Optional[datetime] = None
    """When the replay stopped: the log's last moment and the tail after it."""


_Step: TypeAlias = Callable[[Flight, datetime, Any], None]
"""A step of the replay's agenda: its handler, given the ticket's flight, the moment and the step's payload."""


class _Agendum:
    """A step on the replay's agenda, due at ``moment`` (``due``: its :func:`~.calendars.micros`), taken in that order and
    then in the order pushed (``number``). Compiled, the agenda's heap compares two in one call of :meth:`__lt__`, in machine
    numbers; a tuple's comparison asks its first items for equality and then for order, each a call by the runtime."""

    def __init__(self, due: i64, number: i64, moment: datetime, step: _Step, ticket_id: str, generation: Optional[int],
                 payload: Any) -> None:
        self.due, self.number, self.moment, self.step = due, number, moment, step
        self.ticket_id, self.generation, self.payload = ticket_id, generation, payload

    def __lt__(self, other: _Agendum) -> bool:
        return self.due < other.due or (self.due == other.due and self.number < other.number)


class _Replay:
    def __init__(self, org: Org, records: list[TicketRecord], mapping: LogMapping, mode: str, model: Optional[WorkModel],
                 escalation: str, rng: random.Random):
        self.org, self.records, self.mapping, self.mode, self.escalation, self.rng = org, records, mapping, mode, escalation, rng
        self.model = model or _ServiceTimeModel(mapping)
        self.zone = ZoneInfo(org.info.timezone)
        """The centre's clock: the queue series counts its hours, and the surges are told in it."""
        self.start = records[0].created if records else None
        self.log_end = max((r.last_moment for r in records), default=None)
        # nothing the replay does is ever undone: a fault ends it (see `simulate`), so the store keeps no undo log
        self.engine = Engine(org, VirtualClock(self.start or datetime.now().astimezone()), MemoryStore(undo=False))
        self.agent_shifts = {agent.id: self.engine.calendars[agent.shift] for team in self.engine.agents.values() for agent in team}
        self.flights: dict[str, Flight] = {}
        self.tally = _Tally()
        self._folds: dict[type, Callable[[Any, Optional[Flight]], None]] = {
            d.Assigned: self._fold_assigned, d.Queued: self._fold_queued, d.SlaBreached: self._fold_breached,
            d.Escalated: self._fold_escalated, d.FollowUpScheduled: self._fold_follow_up_scheduled,
            d.FollowUpDue: self._fold_follow_up_due, d.FollowUpOverdue: self._fold_follow_up_overdue,
            d.TicketReopened: self._fold_reopened, d.SurgeActivated: self._fold_surge, d.SurgeDeactivated: self._fold_surge,
            d.Fallback: self._fold_fallback, d.Refused: self._fold_refused}
        """What each kind of decision means for the replay (looked up by its exact type: every kind is a direct subclass)."""
        self.pending: list[_Agendum] = []
        self.pushed = 0
        """Steps pushed onto the agenda so far: each one's number."""

    # ------------------------------------------------------------------ the loop

    def run(self, progress: Optional[Callable[[int, int], None]], tail: timedelta) -> None:
        # arrivals are taken in log order beside the agenda (not pushed into it: a heap of every arrival makes each
        # step cost its depth); at one moment, an arrival comes before what the agenda holds
        records, arrived = self.records, 0
        arrivals: list[int] = []
        for record in records:
            flight = self.flights[record.id] = Flight(record, self._journey(record))
            arrivals.append(flight.created_micros)
        until = (self.log_end or self.engine.clock.now()) + tail
        total = len(records)
        while True:
            arriving = arrived < total and (not self.pending or arrivals[arrived] <= self.pending[0].due)
            moment = records[arrived].created if arriving else self.pending[0].moment if self.pending else None
            due = self.engine.store.next_due()
            if due is not None and due <= until and (moment is None or due <= moment):
                # the engine's timers first, at their own moments, each moment's decisions folded before later timers fire
                horizon = until if moment is None else min(moment, until)
                self._fold(self.engine.advance_to_decision(horizon))
                continue
            if moment is None or moment > until:
                break
            # the moment's count, known, kept for the engine, which asks for it at once (a moment long made has left
            # micros' slots, and each is a count worked out again)
            if arriving:
                remember_micros(moment, arrivals[arrived])
                self._on_create(self.flights[records[arrived].id], moment, None)
                arrived += 1
                if progress and (arrived % 500 == 0 or arrived == total):
                    progress(arrived, total)
                continue
            agendum = heappop(self.pending)
            flight = self.flights[agendum.ticket_id]
            if agendum.generation is not None and agendum.generation != flight.generation:
                continue  # superseded: the ticket moved on (an escalation took it) before this fell due
            remember_micros(moment, agendum.due)
            agendum.step(flight, moment, agendum.payload)
        for flight in self.flights.values():
            flight.left_untaken(until)
            flight.close_holding(until)
        self.tally.end = until

    def close(self) -> None:
        """Let go of the engine, its tickets and every ticket's flight now, while the collector is paused. The replay and
        the engine are webs of reference cycles (parts that call each other back): what they hold would otherwise wait for
        the collector, which walks every object of it when switched back on (a tenth of a month's replay)."""
        self.engine.close()
        self.engine.store.close()
        self.flights.clear()
        self.pending.clear()

    def _journey(self, record: TicketRecord) -> Journey:
        if self.mode == "as-is":
            return AsIsJourney(as_is_steps(record, lambda category: self.mapping.service_time(category, self.rng)))
        return ModelJourney(record, self.model, self.rng, truncated=self.tally.truncated)

    def _push(self, moment: datetime, step: _Step, ticket_id: str, generation: Optional[int] = None, payload=None) -> None:
        """Put ``step`` on the agenda, to be taken with the ticket's flight at ``moment`` (the handler itself, so every step
        pushed has one). Ordered by instant, in µs, then by when it was pushed (see :class:`_Agendum`): numbers, far cheaper
        to compare than aware datetimes."""
        self.pushed += 1
        heappush(self.pending, _Agendum(micros(moment), self.pushed, moment, step, ticket_id, generation, payload))

    def _submit(self, event: e.Event) -> None:
        self._fold(self.engine.submit(event))

    # ------------------------------------------------------------------ replay events

    def _on_create(self, flight: Flight, at: datetime, _) -> None:
        """The engine routes the ticket; the journey may start it elsewhere (the log's first role, or the model's entry)."""
        record = flight.record
        flight.enter_role(_UNDECIDED, at)  # the routing's assignment is taken up below, once decided
        self._submit(e.TicketCreated(record.id, category=record.category, channel=record.channel, segment=record.segment,
                                     priority=record.priority, member=record.member, customer_id=record.customer_id, at=at))
        state = self.engine.ticket(record.id)
        if state is None:
            return  # refused (counted by the fold)
        flight.has_sla = state.sla is not None
        start = flight.journey.first_role(state.role) or state.role
        if start is None:
            return
        if start != state.role:
            self.tally.started_elsewhere += 1
            self._move(flight, start, at, count=False)
            return
        flight.expected_role = start
        if state.agent is not None:
            flight.assigned(state.agent, start, at)
        self._arrive(flight, start, at)

    def _on_start(self, flight: Flight, at: datetime, _) -> None:
        if flight.agent is not None and flight.phases is not None:
            self._start_phase(flight, at)

    def _on_phase_done(self, flight: Flight, at: datetime, _) -> None:
        if flight.phases and flight.phases.pop(0).kind == "pick":
            self._respond(flight, at)
        self._next_phase(flight, at)

    def _respond(self, flight: Flight, at: datetime) -> None:
        """The customer's first answer, the first time an agent of a step that answers takes the ticket up."""
        if not flight.responded and flight.journey.responds():
            flight.responded = True
            self._submit(e.FirstResponse(flight.record.id, at=at))

    def _on_pause_end(self, flight: Flight, at: datetime, _) -> None:
        if flight.phases:
            flight.phases.pop(0)
        flight.paused = False
        self._submit(e.CustomerReply(flight.record.id, at=at))
        self._next_phase(flight, at)

    def _on_reopen(self, flight: Flight, at: datetime, role: Optional[str]) -> None:
        flight.reopened += 1
        flight.resolved_at = None
        flight.phases = None
        flight.enter_role(role, at)
        self._submit(e.Reopened(flight.record.id, at=at))
        state = self.engine.ticket(flight.record.id)
        if state is None or state.status in ("resolved", "closed"):
            return
        if role is not None and state.role != role:
            self._move(flight, role, at, count=False)
        elif flight.phases is None:
            self._arrive(flight, state.role, at)

    def _on_follow_up(self, flight: Flight, at: datetime, decision: d.FollowUpDue) -> None:
        satisfaction = flight.record.satisfaction
        satisfied = satisfaction is None or satisfaction >= self.mapping.satisfied_at_least
        self.tally.followups["done"] += 1
        self._submit(e.FollowUpDone(flight.record.id, policy=decision.policy, satisfied=satisfied, at=at))

    def _on_escalate(self, flight: Flight, at: datetime, role: str) -> None:
        """The escalation role takes the ticket, with what remains of its current work."""
        if flight.resolved_at is not None or flight.paused or flight.role == role or flight.phases is None:
            return
        head = flight.phases[0] if flight.phases else None
        if flight.agent is not None and flight.phase_started is not None and head is not None and isinstance(head.length, timedelta):
            done = self.agent_shifts[flight.agent].between(flight.phase_started, at)
            flight.phases[0] = Phase(max(timedelta(0), head.length - done), head.kind)
        self.tally.escalation_moves += 1
        flight.moves_by_escalation += 1
        self._move(flight, role, at, count=False, keep_work=True)

    # ------------------------------------------------------------------ the ticket's work

    def _arrive(self, flight: Flight, role: Optional[str], at: datetime) -> None:
        """The ticket is at ``role`` now: the journey says what work it brings (an agent may already have it)."""
        flight.role = role
        if role is None:
            return
        flight.phases = flight.journey.phases(role)
        if flight.agent is not None:
            self._start_phase(flight, at)

    def _move(self, flight: Flight, role: str, at: datetime, count: bool = True, keep_work: bool = False) -> None:
        """Reassign the ticket: the engine queues it at ``role`` or hands it to an agent there."""
        if count:
            flight.moves += 1
        flight.left_untaken(at)
        flight.let_go(at)
        flight.enter_role(role, at)
        phases = flight.phases if keep_work else None
        flight.phases = None
        self._submit(e.Reassigned(flight.record.id, role, at=at))
        state = self.engine.ticket(flight.record.id)
        if state is None or state.role != role:
            return  # refused (the role is unknown): the ticket stays where it was, counted by the fold
        if keep_work and phases is not None:
            flight.role, flight.phases = role, phases
            if flight.agent is not None:
                self._start_phase(flight, at)
        else:
            self._arrive(flight, role, at)

    def _start_phase(self, flight: Flight, at: datetime) -> None:
        """The agent works (or the ticket waits on the customer) from ``at``: the phase's end goes on the agenda."""
        if not flight.phases:
            self._finish_step(flight, at)
            return
        phase = flight.phases[0]
        length = phase.length
        if isinstance(length, tuple):  # a stretch of the log: that much of this agent's working time
            began, ended = length
            length = self.agent_shifts[flight.agent].between(began, ended) if flight.agent else ended - began
            flight.phases[0] = phase = Phase(length, phase.kind, phase.reason)
        flight.phase_started = at
        if phase.kind == "work":
            self._respond(flight, at)
        if phase.kind == "pause":
            flight.paused = True
            self._submit(e.Waiting(flight.record.id, phase.reason or "waiting_customer", at=at))
            if length is not None:
                self._push(at + length, self._on_pause_end, flight.record.id, flight.generation)
            return
        if length is None:
            return  # the log ends with the ticket in hand: its agent keeps it
        end = self.agent_shifts[flight.agent].add(at, length) if flight.agent else at + length
        if end is not None:
            self._push(end, self._on_phase_done, flight.record.id, flight.generation)

    def _next_phase(self, flight: Flight, at: datetime) -> None:
        if flight.phases:
            self._start_phase(flight, at)
        else:
            self._finish_step(flight, at)

    def _finish_step(self, flight: Flight, at: datetime) -> None:
        following: Next = flight.journey.finish(flight.role)
        if following.kind == "resolve":
            flight.let_go(at)
            flight.phases = None
            flight.resolved(at)
            self._submit(e.Resolved(flight.record.id, at=at))
            reopen = flight.journey.reopen()
            if reopen is not None:
                delay, role = reopen
                self._push(at + delay, self._on_reopen, flight.record.id, flight.generation, role)
        elif following.kind == "move" and following.role is not None:
            self._move(flight, following.role, at)

    # ------------------------------------------------------------------ what the engine decided

    def _fold(self, decisions: list[d.Decision]) -> None:
        """Take in the engine's decisions, each by its kind (most kinds, such as the SLA figures, ask nothing of the replay)."""
        folds, flights = self._folds, self.flights
        for decision in decisions:
            fold = folds.get(type(decision))
            if fold is not None:
                ticket_id = decision.ticket_id  # read once: a decision's fields are read by name
                fold(decision, flights.get(ticket_id) if ticket_id else None)

    def _fold_assigned(self, decision: d.Assigned, flight: Optional[Flight]) -> None:
        if flight is None or (flight.expected_role is not None and decision.role != flight.expected_role):
            return  # the rules' choice, about to be overridden by the log's route
        flight.assigned(decision.agent, decision.role, decision.at)
        if flight.phases is not None:
            self._push(decision.at, self._on_start, flight.record.id, flight.generation)

    def _fold_queued(self, decision: d.Queued, flight: Optional[Flight]) -> None:
        peaks, key = self.tally.queue_peaks, (hour_start(decision.at, self.zone), decision.role)
        peaks[key] = max(peaks.get(key, 0), decision.position)

    def _fold_breached(self, decision: d.SlaBreached, flight: Optional[Flight]) -> None:
        if flight is not None:
            flight.breached.add(decision.target)

    def _fold_escalated(self, decision: d.Escalated, flight: Optional[Flight]) -> None:
        escalations = self.tally.escalations
        escalations[decision.level] = escalations.get(decision.level, 0) + 1
        if flight is not None:
            flight.escalated = True
            if self.escalation == "move" and self.engine.agents.get(decision.role):
                self._push(decision.at, self._on_escalate, flight.record.id, flight.generation, decision.role)

    def _fold_follow_up_scheduled(self, decision: d.FollowUpScheduled, flight: Optional[Flight]) -> None:
        self.tally.followups["scheduled"] += 1
        if decision.call_at > decision.at:
            self.tally.followups["deferred_to_callable_hours"] += 1

    def _fold_follow_up_due(self, decision: d.FollowUpDue, flight: Optional[Flight]) -> None:
        if flight is not None:
            self.tally.followups["due"] += 1
            self._push(decision.at, self._on_follow_up, flight.record.id, None, decision)

    def _fold_follow_up_overdue(self, decision: d.FollowUpOverdue, flight: Optional[Flight]) -> None:
        self.tally.followups["late"] += 1

    def _fold_reopened(self, decision: d.TicketReopened, flight: Optional[Flight]) -> None:
        if flight is not None and flight.resolved_at is not None:
            self._reopened_by_engine(flight, decision.at)

    def _fold_surge(self, decision: "d.SurgeActivated | d.SurgeDeactivated", flight: Optional[Flight]) -> None:
        self.tally.surges.append({"surge": decision.surge, "team": decision.team, "on": isinstance(decision, d.SurgeActivated),
                                  "at": decision.at.astimezone(self.zone).isoformat(), "count": decision.count})

    def _fold_fallback(self, decision: d.Fallback, flight: Optional[Flight]) -> None:
        if flight is not None:
            flight.fallback = True

    def _fold_refused(self, decision: d.Refused, flight: Optional[Flight]) -> None:
        reason = decision.reason.split(";")[0]
        self.tally.refused[reason] = self.tally.refused.get(reason, 0) + 1

    def _reopened_by_engine(self, flight: Flight, at: datetime) -> None:
        """A follow-up call found the customer unsatisfied: the ticket is back at its role with the same work again."""
        flight.reopened += 1
        flight.resolved_at = None
        state = self.engine.ticket(flight.record.id)
        flight.enter_role(None, at)
        flight.phases = [Phase(self.model.work(state.role, flight.record.category, flight.record.priority, self.rng))] \
            if state is not None and state.role else None
        flight.role = state.role if state is not None else flight.role
