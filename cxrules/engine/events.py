"""Ticket events that go into the engine. Each names its ticket; ``at`` defaults to the clock's now."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional

__all__ = ["EventError", "parse_event", "Event", "TicketCreated", "FirstResponse", "HandOff", "Waiting", "CustomerReply", "Resolved", "Reopened",
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


class EventError(ValueError):
    """An event given as data that cannot be an event; the message names the field."""


def parse_event(data) -> Event:
    """An event from plain data (e.g. a JSON line): `{"type": "Resolved", "ticket_id": "T1", "at": "…"}`."""
    import dataclasses
    from datetime import datetime

    if not isinstance(data, dict):
        raise EventError(f"an event is a JSON object, not {type(data).__name__}")
    kind = data.get("type")
    if kind not in EVENT_TYPES:
        raise EventError(f"field `type` must be one of {', '.join(EVENT_TYPES)}; got {kind!r}")
    cls = EVENT_TYPES[kind]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields) - {"type"})
    if unknown:
        raise EventError(f"{kind} has no field `{unknown[0]}`; fields: {', '.join(fields)}")
    values = {}
    for name, spec in fields.items():
        if name not in data:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise EventError(f"{kind} needs field `{name}`")
            continue
        value = data[name]
        if name == "at" and value is not None:
            if isinstance(value, dict) and "$time" in value:
                value = value["$time"]
            try:
                value = datetime.fromisoformat(str(value))
            except ValueError:
                raise EventError(f"field `at` must be an ISO 8601 time with an offset, got {value!r}") from None
            if value.tzinfo is None:
                raise EventError(f"field `at` needs a time-zone offset, e.g. {value.isoformat()}+08:00")
        elif name in ("member", "satisfied"):
            if not isinstance(value, bool):
                raise EventError(f"field `{name}` must be true or false, got {value!r}")
        elif value is not None and not isinstance(value, str):
            raise EventError(f"field `{name}` must be text, got {value!r}")
        values[name] = value
    return cls(**values)
