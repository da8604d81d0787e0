"""Follow-up calls: scheduled at the first moment the caller is on shift and the customer is not resting.

Each promised call has two timers, the call and its deadline; the customer's answer can
reopen or escalate the ticket. A closed ticket stays in the store until its follow-ups are done.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo
from typing import Any, Callable, Final, Optional, TypeAlias

from ..calendars import BusinessCalendar, Span, intersect_spans, micros, open_spans, shift, subtract_spans, union_spans
from ..fastcalls import bisect_right
from ..model import FollowUp, Org
from . import decisions as d
from . import events as e
from .assignment import Agent
from .matching import MatchIndex
from .store import Store, TicketState, Timer
from .timers import TEXT, Payload, TimerKinds

__all__ = ["FollowUps"]

Reopen: TypeAlias = Callable[[TicketState, datetime, str], list[d.Decision]]
Escalate: TypeAlias = Callable[[TicketState, str, int, datetime], list[d.Decision]]


def _fits_call_timer(data: Any) -> bool:
    return type(data) is tuple and len(data) == 2 and type(data[0]) is str and isinstance(data[1], datetime) and data[1].tzinfo is not None


_CALL_TIMER: Final = Payload(_fits_call_timer, "(follow-up policy, the deadline)")


class FollowUps:
    """Schedules follow-ups when a ticket is handed over, resolved or closed; fires `followup_call` and `followup_deadline`."""

    def __init__(self, org: Org, store: Store, calendars: dict[str, BusinessCalendar], agents: dict[str, list[Agent]],
                 timers: TimerKinds, faults: list[str], reopen: Reopen, escalate: Escalate):
        """``reopen`` and ``escalate``: what an unsatisfied customer's answer sets off; ``faults``: where a dropped follow-up is noted."""
        self.org, self.store, self.calendars, self.agents, self.timers, self.faults = org, store, calendars, agents, timers, faults
        self.reopen, self.escalate = reopen, escalate
        self.policies = {policy.id: policy for policy in org.followups}
        self.zone = ZoneInfo(org.info.timezone)
        """Whose clock counts a follow-up's days: the centre's."""
        self.by_trigger = {trigger: MatchIndex([policy for policy in org.followups if policy.on == trigger])
                           for trigger in {policy.on for policy in org.followups}}
        """Per trigger (handed_over, resolved, closed): the policies it sets off for a ticket class, in the org's order."""
        self._callable: dict[str, _Callable] = {}
        """Per policy: its callable spans of the week in which the last call was looked for."""
        timers.register_for_ticket("followup_call", self._fire_call, self._call_needless, _CALL_TIMER)
        timers.register_for_ticket("followup_deadline", self._fire_deadline, self._deadline_needless, TEXT)

    def start(self, ticket: TicketState, trigger: str, at: datetime) -> list[d.Decision]:
        """Schedule the follow-ups that ``trigger`` (handed_over, resolved, closed) sets off for this ticket."""
        decisions: list[d.Decision] = []
        policies = self.by_trigger.get(trigger)
        for policy in policies.all(ticket.class_fields()) if policies is not None else ():
            if self._sampled(ticket, policy):
                decisions.extend(self.schedule(ticket, policy, at))
        return decisions

    def schedule(self, ticket: TicketState, policy: FollowUp, at: datetime) -> list[d.Decision]:
        """Schedule one follow-up of ``policy`` for the ticket from ``at`` (an automation may ask for one whatever its `on`)."""
        key = f"{ticket.id}:fu:{policy.id}"
        if key in ticket.fired:  # a replayed trigger schedules nothing twice
            return []
        ticket.fired.add(key)
        due = shift(at, policy.within, self.zone)
        call_at = self._first_call_moment(policy, at, due) or due
        ticket.followups_pending |= {policy.id}
        self.timers.schedule(call_at, "followup_call", ticket, f"{key}:call", (policy.id, due))
        self.timers.schedule(due, "followup_deadline", ticket, f"{key}:deadline", policy.id)
        return [d.FollowUpScheduled(ticket.id, at, policy.id, policy.by, call_at, due)]

    def done(self, ticket: TicketState, event: e.FollowUpDone, at: datetime) -> list[d.Decision]:
        """The call was made: an unsatisfied customer may notify, reopen or escalate, as the policy says."""
        if event.policy not in ticket.followups_pending:
            return [d.Refused(ticket.id, at, "FollowUpDone", f"no follow-up `{event.policy}` is pending for this ticket")]
        ticket.followups_pending -= {event.policy}
        policy = self.policies.get(event.policy)
        if policy is None:  # the policy was removed by a reload: the answer is kept, nothing follows from it
            return [d.Refused(ticket.id, at, "FollowUpDone", f"follow-up `{event.policy}` no longer exists in org `{self.org.info.id}`")]
        decisions: list[d.Decision] = []
        if not event.satisfied:
            if policy.notify_when_unsatisfied:
                decisions.append(d.Notified(ticket.id, at, policy.notify_when_unsatisfied, f"customer unsatisfied at follow-up `{policy.id}`"))
            if policy.reopen_when_unsatisfied:
                decisions.extend(self.reopen(ticket, at, f"customer unsatisfied at follow-up `{policy.id}`"))
            if policy.escalate_when_unsatisfied:
                decisions.extend(self.escalate(ticket, policy.escalate_when_unsatisfied, 0, at))
        self.forget_if_done(ticket)
        return decisions

    def forget_if_done(self, ticket: TicketState) -> None:
        """A closed ticket with no follow-up pending leaves the store."""
        if ticket.status == "closed" and not ticket.followups_pending:
            self.store.drop(ticket.id)

    @staticmethod
    def _sampled(ticket: TicketState, policy: FollowUp) -> bool:
        """Coverage as a deterministic draw per ticket: replays and restarts draw the same."""
        share = policy.coverage_members if ticket.member else policy.coverage_others
        if share >= 1:
            return True
        draw = int(hashlib.sha256(f"{ticket.id}:{policy.id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        return draw < share

    def _first_call_moment(self, policy: FollowUp, start: datetime, due: datetime) -> Optional[datetime]:
        """First moment the caller is on shift, inside the policy's calendar, outside quiet hours: ``start`` itself if a call
        may be made at that instant, else the opening of the first span in which one may (an instant of a calendar, in UTC).

        Told by instants alone, the answer is the same whichever calendar's span a tie of instants kept, so it is read off
        the policy's callable spans of the week from the first moment asked (:class:`_Callable`) where they hold it, else
        searched from ``start``: then the first call lies past the week, an opening."""
        moment = micros(start)
        callable_ = self._callable.get(policy.id)
        if callable_ is None or not callable_.first <= moment < callable_.end:
            week_end = start + _CALLABLE_STRETCH
            callable_ = self._callable[policy.id] = _Callable(start, week_end, self._callable_spans(policy, start, week_end))
        found = callable_.first_from(start, moment)
        if found is not None:
            return found
        last = due + _CALL_GRACE
        window = timedelta(hours=12)
        while True:  # look a little ahead first: the first slot is nearly always within half a day (a night's quiet hours)
            horizon = min(start + window, last)
            spans = self._callable_spans(policy, start, horizon)
            if spans or horizon >= last:
                return spans[0][0] if spans else None
            window *= 4

    def _callable_spans(self, policy: FollowUp, start: datetime, end: datetime) -> list[Span]:
        """When the policy's calls may be made between two moments."""
        shifts = {agent.shift for agent in self.agents.get(policy.by, ())}
        spans = union_spans(*(open_spans(self.calendars[name], start, end) for name in shifts))
        if policy.calendar:
            spans = intersect_spans(spans, open_spans(self.calendars[policy.calendar], start, end))
        if policy.quiet_hours:
            spans = subtract_spans(spans, open_spans(self.calendars[policy.quiet_hours], start, end))
        return spans

    def _call_needless(self, ticket: TicketState, timer: Timer) -> bool:
        """The call was made already, or its policy is gone (a reload)."""
        return timer.data[0] not in ticket.followups_pending or timer.data[0] not in self.policies

    def _fire_call(self, ticket: TicketState, timer: Timer) -> list[d.Decision]:
        policy = self.policies[timer.data[0]]
        return [d.FollowUpDue(ticket.id, timer.due, policy.id, policy.by, timer.data[1])]

    def _deadline_needless(self, ticket: TicketState, timer: Timer) -> bool:
        """The call was made in time (a policy gone in a reload is not needless: its firing says the promise is dropped)."""
        return timer.data not in ticket.followups_pending and timer.data in self.policies

    def _fire_deadline(self, ticket: TicketState, timer: Timer) -> list[d.Decision]:
        policy = self.policies.get(timer.data)
        if policy is None:  # removed by a reload: forget the promise, and say so
            ticket.followups_pending -= {timer.data}
            self.faults.append(f"follow-up `{timer.data}` of ticket `{ticket.id}` dropped: the policy no longer exists")
            return []
        decisions: list[d.Decision] = [d.FollowUpOverdue(ticket.id, timer.due, policy.id, policy.notify_when_overdue)]
        if policy.notify_when_overdue:
            decisions.append(d.Notified(ticket.id, timer.due, policy.notify_when_overdue, f"follow-up `{policy.id}` is overdue"))
        return decisions


_CALL_GRACE: Final = timedelta(days=14)
"""How long after a follow-up is due its call may still come: past that, no moment is found."""

_CALLABLE_STRETCH: Final = timedelta(days=7)
"""How far ahead a policy's callable spans are worked out at once: the first calls of a week are read off them (shorter
than the grace, so every opening in it comes before the last moment a call may come)."""


class _Callable:
    """A policy's callable spans from ``first`` to ``end``, to read first calls off instead of searching each time.

    The answer, ``start`` itself where a call may be made at its instant, else the opening of the next span, follows from
    the instants alone: the week's spans give what a search from ``start`` gives, though their ends past the search's window
    break ties of openings otherwise. Where the week holds no answer, :meth:`first_from` gives None and the caller searches.
    Moments are compared as UTC microseconds: Python compares two datetimes of one zone by their wall times, whatever their
    fold, which would place a moment of a repeated hour on the wrong side of another.
    """

    __slots__ = ("first", "end", "spans", "ends")

    def __init__(self, first: datetime, end: datetime, spans: list[Span]):
        self.first, self.end, self.spans = micros(first), micros(end), spans
        self.ends = [micros(closes) for _, closes in spans]

    def first_from(self, start: datetime, moment: int) -> Optional[datetime]:
        """The first moment a call may be made from ``start`` (``moment`` in µs, within the week) on: ``start`` itself where a
        span holds it, else the next span's opening; None (search) past the week's last span."""
        index = bisect_right(self.ends, moment)
        if index == len(self.spans):
            return None
        opens = self.spans[index][0]
        return start if micros(opens) <= moment else opens
