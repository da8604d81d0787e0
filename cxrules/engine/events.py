"""Ticket events that go into the engine. Each names its ticket; ``at`` defaults to the clock's now."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional

__all__ = ["Event", "TicketCreated", "FirstResponse", "HandOff", "Waiting", "CustomerReply", "Resolved", "Reopened",
           "Closed", "FollowUpDone", "WorkflowStep", "EVENT_TYPES"]


@dataclass(frozen=True)
class Event:
    ticket_id: str
    at: Optional[datetime] = field(default=None, kw_only=True)


@dataclass(frozen=True)
class TicketCreated(Event):
    """A new ticket; routing looks at category, channel, segment, priority and member."""

    category: str
    channel: str
    segment: str
    priority: str
    member: bool = False
    customer_id: Optional[str] = None


@dataclass(frozen=True)
class FirstResponse(Event):
    """The customer got a first answer: the first-response target is met."""


@dataclass(frozen=True)
class HandOff(Event):
    """The owner passes the ticket to another role along a declared hand-off."""

    to_role: str


@dataclass(frozen=True)
class Waiting(Event):
    """The ticket waits on someone else; SLA clocks pause if the SLA says so."""

    reason: str  # waiting_customer | waiting_parts | waiting_third_party


@dataclass(frozen=True)
class CustomerReply(Event):
    """The customer (or the awaited party) answered: paused clocks run again."""


@dataclass(frozen=True)
class Resolved(Event):
    """The owner solved the ticket; follow-ups `on: resolved` start."""


@dataclass(frozen=True)
class Reopened(Event):
    """The ticket is open again and goes back to its role."""


@dataclass(frozen=True)
class Closed(Event):
    """The ticket is closed; follow-ups `on: closed` start."""


@dataclass(frozen=True)
class FollowUpDone(Event):
    """A follow-up call was made, with the customer's answer."""

    policy: str
    satisfied: bool = True


@dataclass(frozen=True)
class WorkflowStep(Event):
    """The ticket moves to a workflow state; skipping a step is refused."""

    state: str


EVENT_TYPES = {cls.__name__: cls for cls in (TicketCreated, FirstResponse, HandOff, Waiting, CustomerReply, Resolved,
                                              Reopened, Closed, FollowUpDone, WorkflowStep)}
