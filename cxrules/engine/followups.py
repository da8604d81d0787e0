"""Follow-up calls: scheduled at the first moment the caller is on shift and the customer is not resting.

Each promised call has two timers, the call and its deadline; the customer's answer can
reopen or escalate the ticket. A closed ticket stays in the store until its follow-ups are done.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Callable, Optional

from ..calendars import BusinessCalendar, intersect_spans, open_spans, subtract_spans, union_spans
from ..model import FollowUp, Org
from . import decisions as d
from . import events as e
from .assignment import Agent
from .store import Store, TicketState, Timer
from .timers import TimerKinds

__all__ = ["FollowUps"]

Reopen = Callable[[TicketState, datetime, str], list[d.Decision]]
Escalate = Callable[[TicketState, str, int, datetime], list[d.Decision]]


class FollowUps:
    """Schedules follow-ups when a ticket is handed over, resolved or closed; fires `followup_call` and `followup_deadline`."""

    def __init__(self, org: Org, store: Store, calendars: dict[str, BusinessCalendar], agents: dict[str, list[Agent]],
                 timers: TimerKinds, faults: list[str], reopen: Reopen, escalate: Escalate):
        """``reopen`` and ``escalate``: what an unsatisfied customer's answer sets off; ``faults``: where a dropped follow-up is noted."""
        self.org, self.store, self.calendars, self.agents, self.timers, self.faults = org, store, calendars, agents, timers, faults
        self.reopen, self.escalate = reopen, escalate
        self.policies = {policy.id: policy for policy in org.followups}
        timers.register_for_ticket("followup_call", self._fire_call, self._call_needless)
        timers.register_for_ticket("followup_deadline", self._fire_deadline, self._deadline_needless)

    def start(self, ticket: TicketState, trigger: str, at: datetime) -> list[d.Decision]:
        """Schedule the follow-ups that ``trigger`` (handed_over, resolved, closed) sets off for this ticket."""
        decisions: list[d.Decision] = []
        for policy in self.org.followups:
            if policy.on == trigger and policy.match.matches(*ticket.class_fields()) and self._sampled(ticket, policy):
                decisions.extend(self.schedule(ticket, policy, at))
        return decisions

    def schedule(self, ticket: TicketState, policy: FollowUp, at: datetime) -> list[d.Decision]:
        """Schedule one follow-up of ``policy`` for the ticket from ``at`` (an automation may ask for one whatever its `on`)."""
        key = f"{ticket.id}:fu:{policy.id}"
        if key in ticket.fired:  # a replayed trigger schedules nothing twice
            return []
        ticket.fired.add(key)
        due = at + policy.within
        call_at = self._first_call_moment(policy, at, due) or due
        ticket.followups_pending.add(policy.id)
        self.timers.schedule(call_at, "followup_call", ticket, f"{key}:call", (policy.id, due))
        self.timers.schedule(due, "followup_deadline", ticket, f"{key}:deadline", policy.id)
        return [d.FollowUpScheduled(ticket.id, at, policy.id, policy.by, call_at, due)]

    def done(self, ticket: TicketState, event: e.FollowUpDone, at: datetime) -> list[d.Decision]:
        """The call was made: an unsatisfied customer may notify, reopen or escalate, as the policy says."""
        if event.policy not in ticket.followups_pending:
            return [d.Refused(ticket.id, at, "FollowUpDone", f"no follow-up `{event.policy}` is pending for this ticket")]
        ticket.followups_pending.discard(event.policy)
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
        """First moment the caller is on shift, inside the policy's calendar, outside quiet hours."""
        shifts = {a.shift for a in self.agents.get(policy.by, ())}
        last = due + timedelta(days=14)
        window = timedelta(hours=12)
        while True:  # look a little ahead first: the first slot is nearly always within half a day (a night's quiet hours)
            horizon = min(start + window, last)
            spans = union_spans(*(open_spans(self.calendars[s], start, horizon) for s in shifts))
            if policy.calendar:
                spans = intersect_spans(spans, open_spans(self.calendars[policy.calendar], start, horizon))
            if policy.quiet_hours:
                spans = subtract_spans(spans, open_spans(self.calendars[policy.quiet_hours], start, horizon))
            if spans or horizon >= last:
                return spans[0][0] if spans else None
            window *= 4

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
            ticket.followups_pending.discard(timer.data)
            self.faults.append(f"follow-up `{timer.data}` of ticket `{ticket.id}` dropped: the policy no longer exists")
            return []
        decisions: list[d.Decision] = [d.FollowUpOverdue(ticket.id, timer.due, policy.id, policy.notify_when_overdue)]
        if policy.notify_when_overdue:
            decisions.append(d.Notified(ticket.id, timer.due, policy.notify_when_overdue, f"follow-up `{policy.id}` is overdue"))
        return decisions
