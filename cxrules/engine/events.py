"""Ticket events that go into the engine. Each names its ticket; ``at`` defaults to the clock's now.

:func:`check_event` is the one complete check of an event (every field's type, range, size
and text); :func:`parse_event` and :meth:`Engine.submit <cxrules.engine.Engine.submit>` both
use it, so nothing unchecked reaches the engine's store. It lives in :mod:`.eventcheck`, which is
compiled with the engine's event path (these classes are not: the check reads their fields'
annotations), and is named here too, where the engine looks it up.
"""

from __future__ import annotations

import dataclasses
from dataclasses import field
from datetime import datetime
from typing import Any, Optional

from .data import DataError, from_data
from .eventcheck import (FIRST_MOMENT, FIRST_YEAR, LAST_MOMENT, LAST_YEAR, MAX_TEXT, MAX_TIME_TEXT, EventError, described, quoted, check_event,
                         plainly_sound, register_event_types, text_problem, time_problem)
from .frozen import frozen

__all__ = ["EventError", "parse_event", "check_event", "Event", "TicketCreated", "FirstResponse", "AgentReplied", "HandOff", "Reassigned", "Waiting", "CustomerReply",
           "Resolved", "Reopened", "Closed", "FollowUpDone", "WorkflowStep", "EVENT_TYPES", "MAX_TEXT", "MAX_TIME_TEXT", "FIRST_YEAR",
           "LAST_YEAR", "FIRST_MOMENT", "LAST_MOMENT", "plainly_sound", "text_problem", "time_problem"]


@frozen
class Event:
    ticket_id: str
    at: Optional[datetime] = field(default=None, kw_only=True)


@frozen
class TicketCreated(Event):
    """A new ticket; routing looks at category, channel, segment, priority and member."""

    category: str
    channel: str
    segment: str
    priority: str
    member: bool = False
    customer_id: Optional[str] = None


@frozen
class FirstResponse(Event):
    """The customer got a first answer: the first-response target is met."""


@frozen
class AgentReplied(Event):
    """An agent answered the customer: the first response if none was given yet, else the answer to the customer's last
    reply (an SLA's `next_reply` target)."""


@frozen
class HandOff(Event):
    """The owner passes the ticket to another role along a declared hand-off."""

    to_role: str


@frozen
class Reassigned(Event):
    """Someone with the authority (a dispatcher, a supervisor) moves the ticket to another role's queue.

    Unlike a hand-off it need not be declared in the org: it records what people did, as an
    event log shows it, and what the simulation replays. The ticket keeps its SLA targets.
    """

    to_role: str


@frozen
class Waiting(Event):
    """The ticket waits on someone else; SLA clocks pause if the SLA says so."""

    reason: str  # waiting_customer | waiting_parts | waiting_third_party


@frozen
class CustomerReply(Event):
    """The customer (or the awaited party) answered: paused clocks run again."""


@frozen
class Resolved(Event):
    """The owner solved the ticket; follow-ups `on: resolved` start."""


@frozen
class Reopened(Event):
    """The ticket is open again and goes back to its role."""


@frozen
class Closed(Event):
    """The ticket is closed; follow-ups `on: closed` start."""


@frozen
class FollowUpDone(Event):
    """A follow-up call was made, with the customer's answer."""

    policy: str
    satisfied: bool = True


@frozen
class WorkflowStep(Event):
    """The ticket moves to a workflow state; skipping a step is refused."""

    state: str


EVENT_TYPES = {cls.__name__: cls for cls in (TicketCreated, FirstResponse, AgentReplied, HandOff, Reassigned, Waiting, CustomerReply, Resolved,
                                              Reopened, Closed, FollowUpDone, WorkflowStep)}


register_event_types(EVENT_TYPES)


def parse_event(data: Any) -> Event:
    """An event from plain data (e.g. a JSON line): `{"type": "Resolved", "ticket_id": "T1", "at": "…"}`.

    Raises :class:`EventError` naming the field for anything :func:`check_event` refuses,
    or that is not an event at all.
    """
    if not isinstance(data, dict):
        raise EventError(f"an event is a JSON object, not {described(data)}")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise EventError(f"field `type` must be one of {', '.join(EVENT_TYPES)}; got {described(kind)}")
    cls = EVENT_TYPES[kind]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(str(name) for name in data if name not in fields and name != "type")
    if unknown:
        raise EventError(f"{kind} has no field `{quoted(unknown[0])[1:-1]}`; fields: {', '.join(fields)}", kind=kind)
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        if name not in data:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise EventError(f"{kind} needs field `{name}`", kind=kind)
            continue
        value = data[name]
        if name == "at" and value is not None:
            if isinstance(value, dict):  # as the stores write it: {"$time": ISO, "$zone": IANA name}
                try:
                    values[name] = from_data(value)
                except DataError as error:
                    raise EventError(f"field `at`: {error}", kind=kind) from None
                continue
            if not isinstance(value, str) or len(value) > MAX_TIME_TEXT:
                raise EventError(f"field `at` must be an ISO 8601 time with an offset, as text, got {described(value)}", kind=kind)
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise EventError(f"field `at` must be an ISO 8601 time with an offset, got {quoted(value)}", kind=kind) from None
        values[name] = value
    return check_event(cls(**values))
