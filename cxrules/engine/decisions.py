"""Decisions that come out of the engine; handlers can be registered for each kind.

The engine makes several a ticket, so this module is compiled with the engine: each kind is a native class whose
``__init__`` is written out (``@dataclass`` would give a compiled class an interpreted one) and whose fields are
``Final``, so neither set again nor deleted. Built from compiled code, a decision then takes an eighth of the time it took
as an ordinary class. ``@dataclass`` still gives each kind its comparison, hash, repr and :func:`dataclasses.fields`;
compiled, a decision has no ``__dict__`` (:meth:`Decision.field_values` gives its fields by name).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Final, Optional

from ..calendars import iso_text
from ..fastcalls import COMPILED
from .frozen import written_once

__all__ = ["Decision", "Assigned", "Queued", "Fallback", "Notified", "SlaWarning", "SlaBreached", "Escalated",
           "FollowUpScheduled", "FollowUpDue", "FollowUpOverdue", "TicketReopened", "SurgeActivated",
           "SurgeDeactivated", "Refused", "StateChanged", "AutomationFired", "AutomationStopped", "SlaRecorded"]


_FIELD_NAMES: Final[dict[type, tuple[str, ...]]] = {}
"""Per kind, its fields' names in order (:meth:`Decision.field_values`)."""


@dataclass(init=False, unsafe_hash=True)
class Decision:
    ticket_id: Final[Optional[str]]
    at: Final[datetime]

    def __init__(self, ticket_id: Optional[str], at: datetime) -> None:
        self.ticket_id = ticket_id
        self.at = at

    @property
    def kind(self) -> str:
        return type(self).__name__

    @property
    def key(self) -> str:
        """Idempotency key: the same decision replayed has the same key."""
        return f"{self.kind}:{self.ticket_id}:{iso_text(self.at)}:{self._detail()}"

    def _detail(self) -> str:
        return ""

    def field_values(self) -> dict[str, object]:
        """Each field by name, in order (the form the stores and reports write out)."""
        kind = type(self)
        names = _FIELD_NAMES.get(kind)
        if names is None:  # dataclasses.fields() builds a tuple of every field's spec each time: the stores write each decision
            names = _FIELD_NAMES[kind] = tuple(spec.name for spec in fields(self))
        return {name: getattr(self, name) for name in names}

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        """Copied and pickled by its fields: each kind's ``__init__`` takes them in order (compiled, a decision has no
        ``__dict__`` to restore)."""
        return type(self), tuple(self.field_values().values())


@dataclass(init=False, unsafe_hash=True)
class Assigned(Decision):
    role: Final[str]
    agent: Final[Optional[str]]
    rule: Final[Optional[str]]
    """The routing rule that chose the role; None for hand-offs, escalations and the fallback."""
    first_response_due: Final[Optional[datetime]]
    resolution_due: Final[Optional[datetime]]

    def __init__(self, ticket_id: Optional[str], at: datetime, role: str, agent: Optional[str], rule: Optional[str],
                 first_response_due: Optional[datetime] = None, resolution_due: Optional[datetime] = None) -> None:
        super().__init__(ticket_id, at)
        self.role = role
        self.agent = agent
        self.rule = rule
        self.first_response_due = first_response_due
        self.resolution_due = resolution_due

    def _detail(self) -> str:
        return f"{self.role}:{self.agent}"


@dataclass(init=False, unsafe_hash=True)
class Queued(Decision):
    role: Final[str]
    position: Final[int]
    reason: Final[str]

    def __init__(self, ticket_id: Optional[str], at: datetime, role: str, position: int, reason: str) -> None:
        super().__init__(ticket_id, at)
        self.role = role
        self.position = position
        self.reason = reason


@dataclass(init=False, unsafe_hash=True)
class Fallback(Decision):
    """No routing rule took the ticket: it went to the org's fallback queue (and is reported)."""

    role: Final[str]

    def __init__(self, ticket_id: Optional[str], at: datetime, role: str) -> None:
        super().__init__(ticket_id, at)
        self.role = role


@dataclass(init=False, unsafe_hash=True)
class Notified(Decision):
    roles: Final[tuple[str, ...]]
    reason: Final[str]

    def __init__(self, ticket_id: Optional[str], at: datetime, roles: tuple[str, ...], reason: str) -> None:
        super().__init__(ticket_id, at)
        self.roles = roles
        self.reason = reason

    def _detail(self) -> str:
        return self.reason


@dataclass(init=False, unsafe_hash=True)
class _TargetDue(Decision):
    """What a warning and a breach of an SLA target both tell."""

    target: Final[str]  # first_response | resolution | next_reply
    due: Final[datetime]

    def __init__(self, ticket_id: Optional[str], at: datetime, target: str, due: datetime) -> None:
        super().__init__(ticket_id, at)
        self.target = target
        self.due = due

    def _detail(self) -> str:
        return self.target


@dataclass(init=False, unsafe_hash=True)
class SlaWarning(_TargetDue):
    """A target's due time is near (the SLA's `warn_at`)."""


@dataclass(init=False, unsafe_hash=True)
class SlaRecorded(Decision):
    """A target reached its end (first response, resolution, next reply): how long it took in business minutes, pauses left
    out, against its due time."""

    sla: Final[str]
    target: Final[str]
    in_min: Final[float]
    paused_min: Final[float]
    due: Final[Optional[datetime]]
    met: Final[Optional[bool]]
    """Whether it ended by its due time (None: the target set no due time, e.g. out of the calendar's reach)."""

    def __init__(self, ticket_id: Optional[str], at: datetime, sla: str, target: str, in_min: float, paused_min: float,
                 due: Optional[datetime], met: Optional[bool]) -> None:
        super().__init__(ticket_id, at)
        self.sla = sla
        self.target = target
        self.in_min = in_min
        self.paused_min = paused_min
        self.due = due
        self.met = met

    def _detail(self) -> str:
        return self.target


@dataclass(init=False, unsafe_hash=True)
class SlaBreached(_TargetDue):
    """A target's due time passed before it was met."""


@dataclass(init=False, unsafe_hash=True)
class Escalated(Decision):
    path: Final[str]
    level: Final[int]
    role: Final[str]
    notify: Final[tuple[str, ...]]
    next_at: Final[Optional[datetime]]

    def __init__(self, ticket_id: Optional[str], at: datetime, path: str, level: int, role: str,
                 notify: tuple[str, ...] = (), next_at: Optional[datetime] = None) -> None:
        super().__init__(ticket_id, at)
        self.path = path
        self.level = level
        self.role = role
        self.notify = notify
        self.next_at = next_at

    def _detail(self) -> str:
        return f"{self.path}:{self.level}"


@dataclass(init=False, unsafe_hash=True)
class FollowUpScheduled(Decision):
    policy: Final[str]
    by: Final[str]
    call_at: Final[datetime]
    due: Final[datetime]

    def __init__(self, ticket_id: Optional[str], at: datetime, policy: str, by: str, call_at: datetime,
                 due: datetime) -> None:
        super().__init__(ticket_id, at)
        self.policy = policy
        self.by = by
        self.call_at = call_at
        self.due = due

    def _detail(self) -> str:
        return self.policy


@dataclass(init=False, unsafe_hash=True)
class FollowUpDue(Decision):
    """Time to call the customer: the caller is on shift and the customer is not resting."""

    policy: Final[str]
    by: Final[str]
    due: Final[datetime]

    def __init__(self, ticket_id: Optional[str], at: datetime, policy: str, by: str, due: datetime) -> None:
        super().__init__(ticket_id, at)
        self.policy = policy
        self.by = by
        self.due = due

    def _detail(self) -> str:
        return self.policy


@dataclass(init=False, unsafe_hash=True)
class FollowUpOverdue(Decision):
    policy: Final[str]
    notify: Final[tuple[str, ...]]

    def __init__(self, ticket_id: Optional[str], at: datetime, policy: str, notify: tuple[str, ...]) -> None:
        super().__init__(ticket_id, at)
        self.policy = policy
        self.notify = notify

    def _detail(self) -> str:
        return self.policy


@dataclass(init=False, unsafe_hash=True)
class TicketReopened(Decision):
    reason: Final[str]

    def __init__(self, ticket_id: Optional[str], at: datetime, reason: str) -> None:
        super().__init__(ticket_id, at)
        self.reason = reason


@dataclass(init=False, unsafe_hash=True)
class _SurgeChange(Decision):
    """What the start and the end of a surge both tell: the arrivals counted over its window."""

    surge: Final[str]
    team: Final[str]
    count: Final[int]

    def __init__(self, ticket_id: Optional[str], at: datetime, surge: str, team: str, count: int) -> None:
        super().__init__(ticket_id, at)
        self.surge = surge
        self.team = team
        self.count = count


@dataclass(init=False, unsafe_hash=True)
class SurgeActivated(_SurgeChange):
    """Arrivals passed the surge's threshold: its team is called in."""


@dataclass(init=False, unsafe_hash=True)
class SurgeDeactivated(_SurgeChange):
    """Arrivals fell back: the surge's team is released."""


@dataclass(init=False, unsafe_hash=True)
class Refused(Decision):
    """An event the engine could not apply, with the reason; nothing changed."""

    event: Final[str]
    reason: Final[str]

    def __init__(self, ticket_id: Optional[str], at: datetime, event: str, reason: str) -> None:
        super().__init__(ticket_id, at)
        self.event = event
        self.reason = reason

    def _detail(self) -> str:
        return f"{self.event}:{self.reason}"


@dataclass(init=False, unsafe_hash=True)
class StateChanged(Decision):
    workflow: Final[str]
    state: Final[str]

    def __init__(self, ticket_id: Optional[str], at: datetime, workflow: str, state: str) -> None:
        super().__init__(ticket_id, at)
        self.workflow = workflow
        self.state = state

    def _detail(self) -> str:
        return self.state


@dataclass(init=False, unsafe_hash=True)
class AutomationFired(Decision):
    """An automation of the org fired on this ticket: why (its trigger and the facts that matched) and what it did."""

    automation: Final[str]
    trigger: Final[str]
    matched: Final[tuple[str, ...]]
    """The tickets a pattern across tickets matched, with their events' times, oldest first."""
    actions: Final[tuple[str, ...]]

    def __init__(self, ticket_id: Optional[str], at: datetime, automation: str, trigger: str,
                 matched: tuple[str, ...] = (), actions: tuple[str, ...] = ()) -> None:
        super().__init__(ticket_id, at)
        self.automation = automation
        self.trigger = trigger
        self.matched = matched
        self.actions = actions

    def _detail(self) -> str:
        return self.automation


@dataclass(init=False, unsafe_hash=True)
class AutomationStopped(Decision):
    """Automations kept setting each other off: the cascade was stopped here (`cxrules check` reports such loops, CX801)."""

    automation: Final[str]
    reason: Final[str]

    def __init__(self, ticket_id: Optional[str], at: datetime, automation: str, reason: str) -> None:
        super().__init__(ticket_id, at)
        self.automation = automation
        self.reason = reason

    def _detail(self) -> str:
        return self.automation


if not COMPILED:
    written_once(Decision)
