"""Decisions that come out of the engine; handlers can be registered for each kind."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from .frozen import frozen

__all__ = ["Decision", "Assigned", "Queued", "Fallback", "Notified", "SlaWarning", "SlaBreached", "Escalated",
           "FollowUpScheduled", "FollowUpDue", "FollowUpOverdue", "TicketReopened", "SurgeActivated",
           "SurgeDeactivated", "Refused", "StateChanged", "AutomationFired", "AutomationStopped", "SlaRecorded"]


@frozen
class Decision:
    ticket_id: Optional[str]
    at: datetime

    @property
    def kind(self) -> str:
        return type(self).__name__

    @property
    def key(self) -> str:
        """Idempotency key: the same decision replayed has the same key."""
        return f"{self.kind}:{self.ticket_id}:{self.at.isoformat()}:{self._detail()}"

    def _detail(self) -> str:
        return ""


@frozen
class Assigned(Decision):
    role: str
    agent: Optional[str]
    rule: Optional[str]
    """The routing rule that chose the role; None for hand-offs, escalations and the fallback."""
    first_response_due: Optional[datetime] = None
    resolution_due: Optional[datetime] = None

    def _detail(self) -> str:
        return f"{self.role}:{self.agent}"


@frozen
class Queued(Decision):
    role: str
    position: int
    reason: str


@frozen
class Fallback(Decision):
    """No routing rule took the ticket: it went to the org's fallback queue (and is reported)."""

    role: str


@frozen
class Notified(Decision):
    roles: tuple[str, ...]
    reason: str

    def _detail(self) -> str:
        return self.reason


@frozen
class SlaWarning(Decision):
    target: str  # first_response | resolution
    due: datetime

    def _detail(self) -> str:
        return self.target


@frozen
class SlaRecorded(Decision):
    """A target reached its end (first response, resolution, next reply): how long it took in business minutes, pauses left
    out, against its due time."""

    sla: str
    target: str
    in_min: float
    paused_min: float
    due: Optional[datetime]
    met: Optional[bool]
    """Whether it ended by its due time (None: the target set no due time, e.g. out of the calendar's reach)."""

    def _detail(self) -> str:
        return self.target


@frozen
class SlaBreached(Decision):
    target: str
    due: datetime

    def _detail(self) -> str:
        return self.target


@frozen
class Escalated(Decision):
    path: str
    level: int
    role: str
    notify: tuple[str, ...] = ()
    next_at: Optional[datetime] = None

    def _detail(self) -> str:
        return f"{self.path}:{self.level}"


@frozen
class FollowUpScheduled(Decision):
    policy: str
    by: str
    call_at: datetime
    due: datetime

    def _detail(self) -> str:
        return self.policy


@frozen
class FollowUpDue(Decision):
    """Time to call the customer: the caller is on shift and the customer is not resting."""

    policy: str
    by: str
    due: datetime

    def _detail(self) -> str:
        return self.policy


@frozen
class FollowUpOverdue(Decision):
    policy: str
    notify: tuple[str, ...]

    def _detail(self) -> str:
        return self.policy


@frozen
class TicketReopened(Decision):
    reason: str


@frozen
class SurgeActivated(Decision):
    surge: str
    team: str
    count: int


@frozen
class SurgeDeactivated(Decision):
    surge: str
    team: str
    count: int


@frozen
class Refused(Decision):
    """An event the engine could not apply, with the reason; nothing changed."""

    event: str
    reason: str

    def _detail(self) -> str:
        return f"{self.event}:{self.reason}"


@frozen
class StateChanged(Decision):
    workflow: str
    state: str

    def _detail(self) -> str:
        return self.state


@frozen
class AutomationFired(Decision):
    """An automation of the org fired on this ticket: why (its trigger and the facts that matched) and what it did."""

    automation: str
    trigger: str
    matched: tuple[str, ...] = ()
    """The tickets a pattern across tickets matched, with their events' times, oldest first."""
    actions: tuple[str, ...] = ()

    def _detail(self) -> str:
        return self.automation


@frozen
class AutomationStopped(Decision):
    """Automations kept setting each other off: the cascade was stopped here (`cxrules check` reports such loops, CX801)."""

    automation: str
    reason: str

    def _detail(self) -> str:
        return self.automation
