"""SLA clocks in business time: targets, pauses while waiting on the customer, warnings, breaches, escalation.

A ticket's targets are watched by timers keyed with its `generation`: whenever the targets
move (a pause, a resume, a reopen, the end of the ticket) the generation is bumped and the
older timers fire nothing.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Final, Optional

from ..calendars import BusinessCalendar, micros, not_after, span_micros
from ..model import Org, Sla, WorkingDays
from . import decisions as d
from .matching import MatchIndex
from .store import TicketState, Timer
from .timers import Payload, TimerKinds, is_count

__all__ = ["Slas", "sla_of_class", "TARGETS"]

TARGETS: Final = ("first_response", "resolution", "next_reply")
"""An SLA's targets, each with its own clock."""
_DUE: Final = {target: sys.intern(f"{target}_due") for target in TARGETS}
_IN_MIN: Final = {target: sys.intern(f"{target}_in_min") for target in TARGETS}
"""A ticket's fields of each target: its due time, and the business minutes it took (names made once, not per timer)."""


def sla_of_class(org: Org, fields: tuple) -> Optional[Sla]:
    """The SLA a ticket class gets: the first of the org's SLAs whose match takes its (category, channel, segment, priority, member)."""
    return next((sla for sla in org.slas if sla.match.matches(*fields)), None)


class Slas:
    """Starts, pauses and resumes SLA clocks; fires the `sla` (warning, breach) and `escalate` timers."""

    def __init__(self, org: Org, calendars: dict[str, BusinessCalendar], timers: TimerKinds):
        self.calendars, self.timers = calendars, timers
        self.slas = {sla.id: sla for sla in org.slas}
        self.paths = {path.id: path for path in org.escalations}
        self.org_calendar = org.info.calendar
        self.by_class = MatchIndex(org.slas)
        """The SLA a ticket class gets: the first that matches, as :func:`sla_of_class` says."""
        self._starts: dict[str, _Start] = {}
        """Per SLA, what starting its clocks needs (:class:`_Start`), worked out for its first ticket."""
        timers.register_for_ticket("sla", self._fire_target, self._target_settled, _TARGET_TIMER)
        timers.register_for_ticket("escalate", self._fire_escalation, _moved_on, _ESCALATION_TIMER)

    def of(self, ticket: TicketState) -> Optional[Sla]:
        """The ticket's SLA, if this version of the org still has it."""
        return self.slas.get(ticket.sla) if ticket.sla else None

    def start(self, ticket: TicketState, at: datetime) -> None:
        """Set a new ticket's targets from the SLA of its class, if one matches, and watch them."""
        sla = self.by_class.first(ticket.class_fields())
        if sla is None:
            return
        ticket.sla = sla.id
        plan = self._starts.get(sla.id)
        if plan is None:
            plan = self._starts[sla.id] = _Start(sla, self.calendars[sla.calendar])
        moments = plan.calendar.add_each(at, plan.lengths)
        ticket.first_response_due = moments[0] if plan.first_response else None
        ticket.resolution_due = moments[1 if plan.first_response else 0] if plan.resolution else None
        _keep_micros(ticket)
        warns = [warn for due, warn in zip(moments, moments[plan.targets:]) if due is not None] if plan.warned else None
        self._watch(ticket, sla, at, fresh=True, warns=warns)

    def pause(self, ticket: TicketState, reason: str, at: datetime) -> None:
        """Stop the clocks the SLA stops while the ticket waits for ``reason``; the others run on."""
        sla = self.of(ticket)
        if sla is None or ticket.paused_since is not None or not any(sla.pauses(target, reason) for target in TARGETS):
            return
        ticket.paused_since, ticket.pause_reason = at, reason
        self._watch(ticket, sla, at)  # the stopped clocks' timers no longer count

    def resume(self, ticket: TicketState, at: datetime) -> None:
        """Restart the stopped clocks: each of their targets moves by the business time the pause took."""
        sla = self.of(ticket)
        if ticket.paused_since is None or not sla:
            return
        self._end_pause(ticket, sla, at)
        self._watch(ticket, sla, at)

    def _stopped(self, ticket: TicketState, sla: Sla, target: str) -> bool:
        return ticket.paused_since is not None and sla.pauses(target, ticket.pause_reason or "")

    def _end_pause(self, ticket: TicketState, sla: Sla, at: datetime) -> None:
        calendar = self.calendars[sla.calendar]
        since = ticket.paused_since
        assert since is not None
        for target in TARGETS:
            due = getattr(ticket, _DUE[target])
            if due is not None and not not_after(due, since) and self._stopped(ticket, sla, target):
                setattr(ticket, _DUE[target], calendar.add(at, calendar.between(since, due)))
        ticket.paused_min += calendar.between_micros(since, at) / 1_000_000 / 60  # as total_seconds() / 60
        ticket.paused_since = ticket.pause_reason = None

    def _figure(self, ticket: TicketState, sla: Sla, target: str, since: datetime, at: datetime) -> d.SlaRecorded:
        """A target ended at ``at``: the business minutes its clock ran since ``since`` and those it stood still, read off its
        due time (which every pause of this clock moved; a pause still running froze what was left of it)."""
        calendar = self.calendars[sla.calendar]
        due, total = getattr(ticket, _DUE[target]), getattr(sla, target)
        met: Optional[bool] = None
        # in whole microseconds: timedeltas made and taken apart cost more than the figures' arithmetic (the minutes are
        # those of timedeltas: total_seconds() divides their microseconds by a million)
        if due is None or total is None:
            ran = spent = calendar.between_micros(since, at)
        else:
            frozen = ticket.paused_since if self._stopped(ticket, sla, target) else at
            assert frozen is not None
            since_count, at_count, due_count = _kept_micros(ticket, since), micros(at), _kept_micros(ticket, due)
            frozen_count = at_count if frozen is at else micros(frozen)
            met = frozen_count <= due_count
            spent, left = (calendar.between_two_micros((since, at), (frozen, due), (since_count, at_count, frozen_count, due_count))
                           if met else
                           calendar.between_two_micros((since, at), (due, frozen), (since_count, at_count, due_count, frozen_count)))
            ran = span_micros(calendar.business_time(since, total)) - (left if met else -left)
        minutes = in_minutes(ran)
        setattr(ticket, _IN_MIN[target], minutes)
        stood = in_minutes(spent - ran)
        return d.SlaRecorded(ticket.id, at, sla.id, target, minutes, stood, due, met)

    def answered(self, ticket: TicketState, at: datetime) -> list[d.Decision]:
        """An agent answered the customer: the first response, or the answer to the customer's last reply."""
        sla = self.of(ticket)
        first = not ticket.responded
        ticket.responded = True
        if sla is None:
            return []
        if first:
            return [self._figure(ticket, sla, "first_response", ticket.created_at, at)]
        if ticket.next_reply_since is None:
            return []
        recorded = self._figure(ticket, sla, "next_reply", ticket.next_reply_since, at)
        ticket.next_reply_due = ticket.next_reply_since = None
        self._watch(ticket, sla, at)  # its timers are spent
        return [recorded]

    def customer_replied(self, ticket: TicketState, at: datetime) -> None:
        """The customer wrote again: with a `next_reply` target, the agent's next answer is due."""
        sla = self.of(ticket)
        if sla is None or sla.next_reply is None or not ticket.responded or ticket.next_reply_since is not None:
            return
        ticket.next_reply_since = at
        ticket.next_reply_due = self.calendars[sla.calendar].add(at, sla.next_reply)
        self._watch(ticket, sla, at)

    def finish(self, ticket: TicketState, at: datetime, resolved: bool) -> list[d.Decision]:
        """The ticket is resolved or closed: the clocks stop (a pause too), the figures are kept, no deadline stays behind."""
        sla = self.of(ticket)
        ticket.generation += 1
        if sla is None:
            ticket.paused_since = ticket.pause_reason = None
            return []
        if ticket.paused_since is not None:
            self._end_pause(ticket, sla, at)
        decisions: list[d.Decision] = []
        if resolved and sla.resolution is not None:
            decisions.append(self._figure(ticket, sla, "resolution", ticket.resolution_since or ticket.created_at, at))
        ticket.first_response_due = ticket.resolution_due = ticket.next_reply_due = ticket.next_reply_since = None
        return decisions

    def reopen(self, ticket: TicketState, at: datetime) -> None:
        """A reopened ticket gets a fresh resolution target, watched again."""
        sla = self.of(ticket)
        if sla is None:
            return
        ticket.responded, ticket.escalation, ticket.paused_since, ticket.pause_reason = True, None, None, None
        ticket.resolution_since, ticket.paused_min = at, 0.0
        ticket.resolution_due = self.calendars[sla.calendar].add(at, sla.resolution) if sla.resolution else None
        self._watch(ticket, sla, at)

    def escalate(self, ticket: TicketState, path_id: str, level: int, at: datetime) -> list[d.Decision]:
        """Take level ``level`` of the escalation path, and time the next level (or the path it continues on)."""
        path = self.paths.get(path_id)
        levels = path.levels if path is not None else ()  # read once: a model's fields are read by name
        if path is None or level >= len(levels):  # removed or shortened by a reload
            return []
        step, then = levels[level], path.then
        ticket.escalation = path_id
        sla = self.of(ticket)
        calendar = self.calendars[sla.calendar if sla else self.org_calendar]
        next_at = None
        if level + 1 < len(levels) or then:
            next_at = calendar.add(at, step.within or timedelta(0))
            following = (path_id, level + 1) if level + 1 < len(levels) else (then, 0)
            self.timers.schedule(next_at, "escalate", ticket, f"{ticket.id}:esc:{following[0]}:{following[1]}:{ticket.generation}",
                                 (*following, ticket.generation))
        return [d.Escalated(ticket.id, at, path_id, level + 1, step.role, step.notify, next_at)]

    def _watch(self, ticket: TicketState, sla: Sla, at: datetime, fresh: bool = False,
               warns: Optional[list[Optional[datetime]]] = None) -> None:
        """Timers for the warning and the breach of each target; ``fresh``: the whole target lies ahead; ``warns``: when
        the warnings of the targets watched fall due, if known already."""
        generation = ticket.generation = ticket.generation + 1
        watched = [(target, due, total) for target, due, total in (("first_response", ticket.first_response_due, sla.first_response),
                                                                   ("resolution", ticket.resolution_due, sla.resolution),
                                                                   ("next_reply", ticket.next_reply_due, sla.next_reply))
                   if due is not None and not self._stopped(ticket, sla, target)]
        warned = sla.warn_at is not None  # read once: a model's fields are read by name
        if warns is None:
            warns = self._warnings(self.calendars[sla.calendar], sla, at, fresh,
                                   [(due, total) for _, due, total in watched if total is not None])
        told = 0  # warnings told so far: one per target of a length, in order
        for target, due, total in watched:
            warn = None
            if warned and total is not None:
                warn, told = warns[told], told + 1
            if warn is None:
                self.timers.schedule(due, "sla", ticket, f"{ticket.id}:sla:{target}:{generation}:breach", (target, "breach", generation))
                continue
            # the breach is scheduled when the warning falls due, for most targets are met before it; its number is taken
            # now, so that it keeps its place among the timers due at its moment
            warning, breach = self.timers.reserve_seq(), self.timers.reserve_seq()
            self.timers.schedule(warn, "sla", ticket, f"{ticket.id}:sla:{target}:{generation}:warn", (target, "warn", breach, generation),
                                 warning)

    @staticmethod
    def _warnings(calendar: BusinessCalendar, sla: Sla, at: datetime, fresh: bool,
                  targets: list[tuple[datetime, timedelta]]) -> list[Optional[datetime]]:
        """When the warning of each target (due, length) falls due: once ``warn_at`` of its length has run, or now if less
        than the rest of it is left (None: the calendar does not open). Found together: the table is searched for ``at`` once."""
        if sla.warn_at is None or not targets:
            return []
        totals = [calendar.business_time(at, total) for _, total in targets]  # working days (`2wd`): the open time they give from now
        remaining = totals if fresh else calendar.betweens(*((at, due) for due, _ in targets))
        return calendar.add_each(at, tuple(_warning_offsets(sla.warn_at, totals, remaining)))

    def _target_settled(self, ticket: TicketState, timer: Timer) -> bool:
        """Whether a target's timer, due now, has nothing to say: the targets moved since (a newer generation), the ticket is
        done, or the first response came; or, unless it is a warning that schedules the breach, the SLA is gone or its
        clock stands still (a reload may bring either back before the breach)."""
        target = timer.data[0]
        if (_moved_on(ticket, timer) or (target == "first_response" and ticket.responded)
                or getattr(ticket, _DUE[target]) is None):
            return True
        sla = self.of(ticket)
        return not _schedules_breach(timer) and (sla is None or self._stopped(ticket, sla, target))

    def _fire_target(self, ticket: TicketState, timer: Timer) -> list[d.Decision]:
        target, phase = timer.data[:2]
        sla = self.of(ticket)
        due = getattr(ticket, _DUE[target])
        if phase == "warn":
            if _schedules_breach(timer):
                self.timers.schedule(due, "sla", ticket, timer.key.removesuffix(":warn") + ":breach",
                                     (target, "breach", ticket.generation), timer.data[2])
            return [] if sla is None or self._stopped(ticket, sla, target) else [d.SlaWarning(ticket.id, timer.due, target, due)]
        assert sla is not None
        decisions: list[d.Decision] = [d.SlaBreached(ticket.id, timer.due, target, due)]
        if sla.escalation and ticket.escalation is None:
            decisions.extend(self.escalate(ticket, sla.escalation, 0, timer.due))
        return decisions

    def _fire_escalation(self, ticket: TicketState, timer: Timer) -> list[d.Decision]:
        path_id, level, _ = timer.data
        return self.escalate(ticket, path_id, level, timer.due)


_ZERO: Final = timedelta(0)


def _keep_micros(ticket: TicketState) -> None:
    """Keep with a new ticket the µs of its arrival and of the due times its SLA's clocks just set (known now: the check
    and the calendar worked them out), for its figures, read long after."""
    ticket.created_micros, ticket.created_kept = micros(ticket.created_at), ticket.created_at
    if (first_response := ticket.first_response_due) is not None:
        ticket.first_response_due_micros, ticket.first_response_due_kept = micros(first_response), first_response
    if (resolution := ticket.resolution_due) is not None:
        ticket.resolution_due_micros, ticket.resolution_due_kept = micros(resolution), resolution


def _kept_micros(ticket: TicketState, moment: datetime) -> int:
    """:func:`~.calendars.micros` of ``moment``, read off what the ticket kept (:func:`_keep_micros`) when it is the very
    moment kept: worked out afresh, a moment made long before costs a tenth of a figure (a pause or a reopening sets new
    due times, which are)."""
    if moment is ticket.created_kept:
        return ticket.created_micros
    if moment is ticket.first_response_due_kept:
        return ticket.first_response_due_micros
    if moment is ticket.resolution_due_kept:
        return ticket.resolution_due_micros
    return micros(moment)


def in_minutes(count: int) -> float:
    """A figure's µs (none if negative) in minutes to two decimals, as ``round(count / 1_000_000 / 60, 2)`` gives them.

    Python's round goes through the decimal digits (some 2,000 instructions). Far from a tie, the float a hundred times as
    large rounds as the exact value does (it is within 10⁻⁷ of it below 2³⁰), and its quotient by 100 is the double
    nearest the decimal, as Python's is; near a tie, or past 2³⁰, Python rounds."""
    minutes = max(count, 0) / 1_000_000 / 60
    hundredths = minutes * 100
    if hundredths < _FAR_FROM_EXACT:
        nearest = int(hundredths + 0.5)
        if abs(hundredths - nearest) < 0.499:
            return nearest / 100
    return round(minutes, 2)


_FAR_FROM_EXACT: Final = 2.0**30


class _Start:
    """What starting an SLA's clocks on a new ticket needs of the SLA, which depends on it alone: worked out for its first
    ticket, not for each (the list of its targets, their warnings' offsets, the checks for working days)."""

    def __init__(self, sla: Sla, calendar: BusinessCalendar) -> None:
        self.calendar: Final = calendar
        targets = [length for length in (sla.first_response, sla.resolution) if length]
        self.first_response: Final = bool(sla.first_response)
        self.resolution: Final = bool(sla.resolution)
        self.targets: Final = len(targets)
        warnings: list[timedelta] = []
        if sla.warn_at is not None and not any(isinstance(length, WorkingDays) for length in targets):
            # a warning of a whole target of hours and minutes is that much open time from arrival: found with the due
            # times, the table is searched for the arrival once (working days give open time that depends on the start)
            warnings = _warning_offsets(sla.warn_at, targets, targets)
        self.warned: Final = bool(warnings)
        """Whether the warnings' offsets are known here (else :meth:`Slas._watch` works them out for the start)."""
        self.lengths: Final = (*targets, *warnings)
        """Open time from arrival to each target, then to each target's warning: what the calendar adds to the arrival."""


def _warning_offsets(warn_at: float, totals: list[timedelta], remaining: list[timedelta]) -> list[timedelta]:
    """The open time from now after which each target (of ``totals`` open time, ``remaining`` of it left) warns: once
    ``warn_at`` of it has run, or now if less than the rest of it is left."""
    return [max(_ZERO, left - _after_warning(total, warn_at)) for total, left in zip(totals, remaining)]


@lru_cache(maxsize=4096)
def _after_warning(total: timedelta, warn_at: float) -> timedelta:
    """The open time of a target of length ``total`` left when its warning comes: a timedelta times a float costs a
    microsecond, and an SLA's targets are few (working days vary with the start: hence a bound)."""
    return total * (1 - warn_at)


def _fits_target_timer(data: Any) -> bool:
    return (type(data) is tuple and len(data) in (3, 4) and type(data[0]) is str and data[0] in _DUE
            and (data[1] == "warn" or (data[1] == "breach" and len(data) == 3)) and is_count(data[-1]))


_TARGET_TIMER: Final = Payload(_fits_target_timer, "(target, `breach`, generation) or (target, `warn`, the breach's number, generation)")
"""An SLA timer's payload; a warning stored by an earlier version of cxrules has no breach number (see :func:`_schedules_breach`)."""


def _fits_escalation_timer(data: Any) -> bool:
    return type(data) is tuple and len(data) == 3 and type(data[0]) is str and is_count(data[1]) and is_count(data[2])


_ESCALATION_TIMER: Final = Payload(_fits_escalation_timer, "(escalation path, level, generation)")


def _schedules_breach(timer: Timer) -> bool:
    """Whether an SLA timer is a warning that schedules its target's breach (one stored by an earlier version of cxrules
    has its breach scheduled beside it)."""
    return timer.data[1] == "warn" and len(timer.data) == 4


def _moved_on(ticket: TicketState, timer: Timer) -> bool:
    """Whether the ticket is done, or its targets moved (a newer generation) since the timer was set: it decides nothing."""
    return timer.data[-1] != ticket.generation or ticket.status in ("resolved", "closed")
